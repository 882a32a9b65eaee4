"""Every endpoint x every role x another tenant's objects (MGT-02, MGT-03): no access where none is due.

The expected table is `minibox.platform.permissions.POLICY`; a route without a declared action (and not
listed as public here) fails the test, so a new route cannot ship without an authorisation decision.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute

from minibox.package import HostKeyPair
from minibox.platform.accounts import service as accounts
from minibox.platform.accounts.models import ConsoleSession
from minibox.platform.api import routers
from minibox.platform.apps import service as apps
from minibox.platform.context import Ctx
from minibox.platform.deps import Authorize
from minibox.platform.hosts import service as hosts
from minibox.platform.permissions import POLICY, ROLES
from minibox.platform.release import service as release
from minibox.platform.review import service as review

from .conftest import PASSWORD, World, project_zip

#: Routes anyone may call (login) or that hosts call with their own key.
PUBLIC = {("POST", "/api/v1/auth/login"), ("GET", "/api/v1/health"), ("GET", "/api/v1/ping"),
          ("GET", "/api/v1/hosts/{host_id}/apps/{app_id}/update"), ("GET", "/api/v1/packages/{name}"),
          ("GET", "/api/v1/trust/keyset"), ("GET", "/"), ("GET", "/console"), ("GET", "/console/{name}"),
          ("POST", "/api/v1/telemetry"), ("GET", "/api/v1/telemetry/key")}
# host-facing routes authenticate the host key, not a person (tests/platform/test_privacy.py)
PUBLIC |= {("GET", "/api/v1/hosts/{host_id}/users/{user_id}/deletions"),
           ("POST", "/api/v1/hosts/{host_id}/deletions/{order_id}/ack")}


def route_action(route: APIRoute) -> str | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Authorize):
            return dep.call.action
        stack.extend(dep.dependencies)
    return None


def all_routes() -> list[tuple[str, str, str | None]]:
    out = []
    for router in routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods):
                out.append((method, route.path_format, route_action(route)))
    return out


def test_every_route_declares_an_action_from_the_policy(world: World) -> None:
    schema = world.client.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    declared = {(m, p) for m, p, _ in all_routes()}
    assert documented <= declared, documented - declared
    for method, path, action in all_routes():
        if (method, path) in PUBLIC:
            assert action is None, (method, path)
            continue
        assert action in POLICY, f"{method} {path} has no authorisation action"


@dataclass
class Victim:
    """Tenant B's objects, whose ids tenant A tries everywhere."""

    app_id: str
    version: str
    user_id: int
    token_id: int
    release_id: int
    host_id: str
    package_sha: str


@pytest.fixture(scope="module")
def victim(world: World, tmp_path_factory: pytest.TempPathFactory) -> Victim:
    plat, b = world.platform, world.b
    with plat.db.write() as s:
        ctx = Ctx(s, plat, b.users["admin"])
        apps.create_app(ctx, "b-secret-app", "B's app")
        apps.add_member(ctx, "b-secret-app", b.users["developer"].user_id)
        creds = hosts.register(ctx, "B host", None)
        hosts.grant(ctx, creds.host.host_id, "b-secret-app")
    with plat.db.write() as s:
        apps.upload_version(Ctx(s, plat, b.users["developer"]), "b-secret-app", version="1.0.0", build=None,
                            description="", kind="source", data=project_zip(tmp_path_factory.mktemp("b")))
        review.submit(Ctx(s, plat, b.users["developer"]), "b-secret-app", "1.0.0", "")
        review.decide(Ctx(s, plat, b.users["reviewer"]), "b-secret-app", "1.0.0", approve=True, comment="")
        rel = release.release(Ctx(s, plat, b.users["operator"]), "b-secret-app", "1.0.0", rules=None, note="")
        tok, _ = accounts.create_token(Ctx(s, plat, b.users["developer"]), "b-ci", ["apps:read"])
        release_id, token_id = rel.id, tok.id
    r = world.client.get(f"/api/v1/hosts/{creds.host.host_id}/apps/b-secret-app/update",
                         headers={"X-Minibox-Host-Key": creds.api_key}, params={"user_id": "u"})
    assert r.status_code == 200, r.text
    return Victim("b-secret-app", "1.0.0", b.users["developer"].user_id, token_id, release_id, creds.host.host_id,
                  r.json()["package"]["sha256"])


def fresh_session(world: World, role: str) -> dict[str, str]:
    token = accounts.SESSION_PREFIX + secrets.token_urlsafe(24)
    with world.platform.db.write() as s:
        s.add(ConsoleSession(user_id=world.a.users[role].user_id, token_hash=accounts.sha256_hex(token),
                             csrf_token="x"))
    return {"Authorization": f"Bearer {token}"}


def request_kwargs(method: str, path: str, v: Victim, world: World) -> dict[str, Any]:
    u = uuid.uuid4().hex[:8]
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/api/v1/users"): {"username": f"m{u}", "role": "auditor", "password": PASSWORD},
        ("PATCH", "/api/v1/users/{user_id}"): {"disabled": False},
        ("POST", "/api/v1/tokens"): {"name": "m", "scopes": ["apps:read"]},
        ("POST", "/api/v1/apps"): {"app_id": f"m{u}", "name": "m"},
        ("PUT", "/api/v1/apps/{app_id}/allowlist"): {},
        ("PUT", "/api/v1/apps/{app_id}/code-protection"): {"enabled": True},
        ("POST", "/api/v1/apps/{app_id}/members"): {"user_id": world.a.users["developer"].user_id},
        ("POST", "/api/v1/apps/{app_id}/releases"): {"version": v.version},
        ("POST", "/api/v1/apps/{app_id}/rollback"): {"version": v.version},
        ("POST", "/api/v1/apps/{app_id}/takedown"): {"reason": "x"},
        ("POST", "/api/v1/hosts"): {"name": f"m{u}"},
        ("PUT", "/api/v1/hosts/{host_id}/public-key"): {"public_key": HostKeyPair.generate().public_bytes().hex()},
        ("POST", "/api/v1/hosts/{host_id}/apps"): {"app_id": v.app_id},
        ("PUT", "/api/v1/org/upload-keys"): {"keys": []},
        ("POST", "/api/v1/deletions"): {"user_id": "u1", "reason": "asked"},
        ("POST", "/api/v1/apps/{app_id}/releases/preview"): {"rules": {"percentage": 10}},
        ("POST", "/api/v1/apps/{app_id}/versions/{version}/override-advisories"): {"reason": "accepted by the bank"},
        ("PATCH", "/api/v1/me/preferences"): {"locale": "en"},
        ("POST", "/api/v1/me/password"): {"old_password": PASSWORD, "new_password": f"New-Password-{u}"},
    }
    if path.endswith(("/submit", "/approve", "/reject")):
        return {"json": {"comment": "x"}}
    if (method, path) == ("POST", "/api/v1/advisories"):
        return {"files": {"file": ("feed.json", b"[]", "application/json")}}
    if (method, path) == ("POST", "/api/v1/apps/{app_id}/versions"):
        return {"data": {"version": "9.9.9"}, "files": {"file": ("a.zip", b"PK", "application/zip")}}
    if (method, path) in bodies:
        return {"json": bodies[(method, path)]}
    return {}


def fill(path: str, v: Victim) -> str:
    return (path.replace("{app_id}", v.app_id).replace("{version}", v.version).replace("{user_id}", str(v.user_id))
            .replace("{token_id}", str(v.token_id)).replace("{release_id}", str(v.release_id))
            .replace("{host_id}", v.host_id).replace("{path}", "app.js").replace("{order_id}", "wxorder1"))


def test_matrix_roles_by_routes_against_other_tenant(world: World, victim: Victim) -> None:
    failures = []
    secrets_of_b = (victim.app_id, victim.host_id, "tenantb-")
    for method, path, action in all_routes():
        if (method, path) in PUBLIC:
            continue
        assert action is not None
        url = fill(path, victim)
        r = world.client.request(method, url, **request_kwargs(method, path, victim, world))
        if r.status_code != 401:
            failures.append(f"anonymous {method} {path}: {r.status_code}")
        for role in ROLES:
            r = world.client.request(method, url, headers=fresh_session(world, role),
                                     **request_kwargs(method, path, victim, world))
            allowed = role in POLICY[action]
            has_object = "{" in path
            if not allowed:
                ok = r.status_code == 403 and r.json()["code"] == "forbidden"
            elif has_object:
                ok = r.status_code == 404  # no existence oracle for another tenant's objects
            elif path.startswith("/api/v1/audit"):
                # A's log names B's ids only where A's own users tried them; every entry is A's
                ok = r.status_code == 200 and f'"org_id": {world.b.org_id}' not in r.text \
                    and f'"org_id":{world.b.org_id}' not in r.text
            else:
                ok = r.status_code < 400 and not any(x in r.text for x in secrets_of_b)
            if not ok:
                failures.append(f"{role} {method} {path}: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


def test_nested_references_to_other_tenant(world: World, victim: Victim) -> None:
    c, a = world.client, world.a
    admin = fresh_session(world, "admin")
    assert c.post("/api/v1/apps", headers=admin, json={"app_id": "a-own", "name": "A"}).status_code == 201
    r = c.post("/api/v1/hosts", headers=admin, json={"name": "A host"})
    a_host, a_key = r.json()["host_id"], r.json()["api_key"]
    # B's app through A's own host; B's user into A's app
    assert c.post(f"/api/v1/hosts/{a_host}/apps", headers=admin, json={"app_id": victim.app_id}).status_code == 404
    r = c.post("/api/v1/apps/a-own/members", headers=admin, json={"user_id": victim.user_id})
    assert r.status_code == 404
    # A's host key against B's app and B's package
    h = {"X-Minibox-Host-Key": a_key}
    r = c.get(f"/api/v1/hosts/{a_host}/apps/{victim.app_id}/update", headers=h, params={"user_id": "u"})
    assert r.status_code == 404 and r.json()["code"] == "no_release"
    r = c.get(f"/api/v1/hosts/{victim.host_id}/apps/{victim.app_id}/update", headers=h, params={"user_id": "u"})
    assert r.status_code == 401
    assert c.get(f"/api/v1/packages/{victim.package_sha}.mbx", headers=h).status_code == 404
    # the auditor of A sees none of B's audit entries
    lines = c.get("/api/v1/audit/export", headers=fresh_session(world, "auditor")).text.splitlines()
    assert lines and all(f'"org_id": {a.org_id},' in line for line in lines)
    assert not any("tenantb" in line for line in lines)
