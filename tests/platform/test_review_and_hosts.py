"""Separation of duties (MGT-05), rejection, host keys (MGT-10), and the audit failing closed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from minibox.package import HostKeyPair
from minibox.platform.apps import service as apps
from minibox.platform.context import Ctx

from .conftest import World, auth, project_zip


def _session(world: World, user_id: int) -> dict[str, str]:
    import secrets

    from minibox.platform.accounts import service as accounts
    from minibox.platform.accounts.models import ConsoleSession

    token = accounts.SESSION_PREFIX + secrets.token_urlsafe(24)
    with world.platform.db.write() as s:
        s.add(ConsoleSession(user_id=user_id, token_hash=accounts.sha256_hex(token), csrf_token="x"))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def sod_app(world: World) -> str:
    with world.platform.db.write() as s:
        ctx = Ctx(s, world.platform, world.a.users["admin"])
        apps.create_app(ctx, "sod", "SoD")
    return "sod"


def upload_as(world: World, headers: dict[str, str], version: str, tmp: Path) -> httpx.Response:
    return world.client.post("/api/v1/apps/sod/versions", headers=headers, data={"version": version},
                             files={"file": ("s.zip", project_zip(tmp))})


def test_uploader_turned_reviewer_cannot_approve_own_upload(world: World, sod_app: str, tmp_path: Path) -> None:
    c, a = world.client, world.a
    dev, _ = world.new_user("developer")
    assert c.post("/api/v1/apps/sod/members", headers=auth(a, "admin"), json={"user_id": dev.user_id}).status_code == 201
    h = _session(world, dev.user_id)
    assert upload_as(world, h, "1.0.0", tmp_path).status_code == 201
    assert c.post("/api/v1/apps/sod/versions/1.0.0/submit", headers=h, json={}).status_code == 200
    assert c.patch(f"/api/v1/users/{dev.user_id}", headers=auth(a, "admin"), json={"role": "reviewer"}).status_code == 200
    r = c.post("/api/v1/apps/sod/versions/1.0.0/approve", headers=_session(world, dev.user_id), json={})
    assert r.status_code == 403 and r.json()["code"] == "separation_of_duties"
    assert r.json()["message"] == "SoD: reviewer must differ from uploader"


def test_reviewer_turned_operator_cannot_release_what_they_approved(world: World, sod_app: str,
                                                                    tmp_path: Path) -> None:
    c, a = world.client, world.a
    dev = _session(world, a.users["developer"].user_id)
    c.post("/api/v1/apps/sod/members", headers=auth(a, "admin"), json={"user_id": a.users["developer"].user_id})
    assert upload_as(world, dev, "2.0.0", tmp_path).status_code == 201
    assert c.post("/api/v1/apps/sod/versions/2.0.0/submit", headers=dev, json={}).status_code == 200
    rev, _ = world.new_user("reviewer")
    assert c.post("/api/v1/apps/sod/versions/2.0.0/approve", headers=_session(world, rev.user_id),
                  json={"comment": "ok"}).status_code == 200
    assert c.patch(f"/api/v1/users/{rev.user_id}", headers=auth(a, "admin"), json={"role": "operator"}).status_code == 200
    r = c.post("/api/v1/apps/sod/releases", headers=_session(world, rev.user_id), json={"version": "2.0.0"})
    assert r.status_code == 403 and r.json()["message"] == "SoD: releaser must differ from reviewer"
    assert c.post("/api/v1/apps/sod/releases", headers=auth(a, "operator"), json={"version": "2.0.0"}).status_code == 201


def test_rejection_needs_a_comment_and_blocks_release(world: World, sod_app: str, tmp_path: Path) -> None:
    c, a = world.client, world.a
    dev = _session(world, a.users["developer"].user_id)
    c.post("/api/v1/apps/sod/members", headers=auth(a, "admin"), json={"user_id": a.users["developer"].user_id})
    assert upload_as(world, dev, "3.0.0", tmp_path).status_code == 201
    assert c.post("/api/v1/apps/sod/versions/3.0.0/submit", headers=dev, json={}).status_code == 200
    queue = c.get("/api/v1/reviews", headers=auth(a, "reviewer")).json()
    assert ("sod", "3.0.0") in {(q["app_id"], q["version"]) for q in queue}
    r = c.post("/api/v1/apps/sod/versions/3.0.0/reject", headers=auth(a, "reviewer"), json={"comment": " "})
    assert r.status_code == 422 and r.json()["code"] == "comment_required"
    r = c.post("/api/v1/apps/sod/versions/3.0.0/reject", headers=auth(a, "reviewer"),
               json={"comment": "uses a private API"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    r = c.post("/api/v1/apps/sod/releases", headers=auth(a, "operator"), json={"version": "3.0.0"})
    assert r.status_code == 409 and r.json()["code"] == "not_approved"
    hist = c.get("/api/v1/apps/sod/versions/3.0.0/reviews", headers=auth(a, "developer")).json()
    assert [(e["action"], e["comment"]) for e in hist][-1] == ("reject", "uses a private API")


def test_grayscale_needs_an_approved_version_and_valid_rules(world: World, sod_app: str) -> None:
    c, a = world.client, world.a
    r = c.post("/api/v1/apps/sod/releases", headers=auth(a, "operator"),
               json={"version": "2.0.0", "rules": {"percentage": 5, "start": "2026-01-01T00:00:00"}})
    assert r.status_code == 422 and r.json()["code"] == "invalid_rule"
    r = c.post("/api/v1/apps/sod/releases", headers=auth(a, "operator"),
               json={"version": "2.0.0", "rules": {"percentage": 5}})
    assert r.status_code == 201 and r.json()["rules"] == {"percentage": 5.0}
    r = c.post(f"/api/v1/apps/sod/releases/{r.json()['id']}/stop", headers=auth(a, "operator"))
    assert r.status_code == 200 and r.json()["active"] is False


def test_host_keys_shown_once_rotated_and_revoked(world: World) -> None:
    c, a = world.client, world.a
    r = c.post("/api/v1/hosts", headers=auth(a, "admin"), json={"name": "rotating"})
    host_id, key1 = r.json()["host_id"], r.json()["api_key"]
    listed = c.get(f"/api/v1/hosts/{host_id}", headers=auth(a, "operator")).json()
    assert "api_key" not in listed and key1 not in str(listed)
    c.post(f"/api/v1/hosts/{host_id}/apps", headers=auth(a, "admin"), json={"app_id": "sod"})
    url = f"/api/v1/hosts/{host_id}/apps/sod/update"
    first = c.get(url, headers={"X-Minibox-Host-Key": key1}, params={"user_id": "u"})
    assert first.status_code == 200, first.text
    key2 = c.post(f"/api/v1/hosts/{host_id}/api-key", headers=auth(a, "admin")).json()["api_key"]
    assert c.get(url, headers={"X-Minibox-Host-Key": key1}, params={"user_id": "u"}).status_code == 401
    # a new encryption key gets a package encrypted for it
    new_pub = HostKeyPair.generate().public_bytes().hex()
    assert c.put(f"/api/v1/hosts/{host_id}/public-key", headers=auth(a, "admin"),
                 json={"public_key": new_pub}).status_code == 200
    second = c.get(url, headers={"X-Minibox-Host-Key": key2}, params={"user_id": "u"})
    assert second.status_code == 200 and second.json()["package"]["sha256"] != first.json()["package"]["sha256"]
    r = c.put(f"/api/v1/hosts/{host_id}/public-key", headers=auth(a, "admin"), json={"public_key": "00" * 31})
    assert r.status_code == 422 and r.json()["code"] == "invalid_key"
    assert c.post(f"/api/v1/hosts/{host_id}/revoke", headers=auth(a, "admin")).status_code == 200
    assert c.get(url, headers={"X-Minibox-Host-Key": key2}, params={"user_id": "u"}).status_code == 401


def test_audit_failure_fails_the_action(world: World) -> None:
    """Fail closed: if the audit entry cannot be written, the action does not happen either."""
    c, a = world.client, world.a
    with world.platform.db.write() as s:
        s.execute(text("CREATE TRIGGER audit_broken BEFORE INSERT ON audit_entries "
                       "BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
    try:
        r = c.post("/api/v1/apps", headers=auth(a, "admin"), json={"app_id": "unaudited", "name": "U"})
        assert r.status_code >= 400 and "Traceback" not in r.text
    finally:
        with world.platform.db.write() as s:
            s.execute(text("DROP TRIGGER audit_broken"))
    assert c.get("/api/v1/apps/unaudited", headers=auth(a, "admin")).status_code == 404


def test_reviewers_read_the_source_as_inert_text(world: World, sod_app: str, tmp_path: Path) -> None:
    c, a = world.client, world.a
    dev = _session(world, a.users["developer"].user_id)
    c.post("/api/v1/apps/sod/members", headers=auth(a, "admin"), json={"user_id": a.users["developer"].user_id})
    payload = "<script>alert(document.cookie)</script>"
    r = world.client.post("/api/v1/apps/sod/versions", headers=dev, data={"version": "6.0.0"},
                          files={"file": ("s.zip", project_zip(tmp_path, title=payload))})
    assert r.status_code == 201, r.text
    files = c.get("/api/v1/apps/sod/versions/6.0.0/files", headers=auth(a, "reviewer")).json()
    assert "pages/index/index.wxml" in {f["path"] for f in files}
    r = c.get("/api/v1/apps/sod/versions/6.0.0/files/pages/index/index.wxml", headers=auth(a, "reviewer"))
    assert r.status_code == 200 and payload in r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert "sandbox" in r.headers["content-security-policy"] and r.headers["x-content-type-options"] == "nosniff"
    bundle = c.get("/api/v1/apps/sod/versions/6.0.0/files", headers=auth(a, "reviewer"), params={"which": "bundle"})
    assert "logic.js" in {f["path"] for f in bundle.json()}
    for bad in ("../../etc/passwd", "nope.js", "%2e%2e/app.js"):
        assert c.get(f"/api/v1/apps/sod/versions/6.0.0/files/{bad}", headers=auth(a, "reviewer")).status_code == 404
