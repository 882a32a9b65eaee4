"""Accounts over HTTP: argon2 + TOTP login, throttling, sessions with CSRF, scoped API tokens (MGT-01, -04)."""

from __future__ import annotations

import socket
from datetime import timedelta

import httpx
import pyotp
from sqlalchemy import update

from minibox.platform.accounts.models import ConsoleSession, User
from minibox.platform.accounts.service import MAX_FAILED_LOGINS
from minibox.platform.db import utcnow

from .conftest import PASSWORD, World, auth, login


def _login(c: httpx.Client, username: str, secret: str | None = None, password: str = PASSWORD) -> httpx.Response:
    body = {"username": username, "password": password}
    if secret:
        body["totp"] = pyotp.TOTP(secret).now()
    return c.post("/api/v1/auth/login", json=body)


def test_login_needs_totp_for_admin_roles(world: World) -> None:
    client, t = world.client, world.a
    r = client.post("/api/v1/auth/login", json={"username": "tenanta-admin", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["code"] == "totp_required"
    r = client.post("/api/v1/auth/login", json={"username": "tenanta-admin", "password": PASSWORD, "totp": "000000"})
    assert r.status_code == 401 and r.json()["code"] == "bad_credentials"
    token = login(client, t, "admin")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["role"] == "admin"
    # developers and auditors log in with a password only
    assert login(client, t, "developer").startswith("mbs_")
    assert t.totp["developer"] is None and t.totp["reviewer"] is not None and t.totp["operator"] is not None


def test_totp_code_cannot_be_replayed(world: World) -> None:
    p, secret = world.new_user("reviewer")
    assert secret is not None
    body = {"username": p.username, "password": PASSWORD, "totp": pyotp.TOTP(secret).now()}
    assert world.client.post("/api/v1/auth/login", json=body).status_code == 200
    r = world.client.post("/api/v1/auth/login", json=body)
    assert r.status_code == 401 and r.json()["code"] == "bad_credentials"


def test_wrong_password_and_unknown_user_look_the_same(world: World) -> None:
    p, _ = world.new_user("developer")
    a = _login(world.client, p.username, password="wrong-password-1A")
    b = _login(world.client, "nobody", password="wrong-password-1A")
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_lockout_after_repeated_failures(world: World) -> None:
    p, _ = world.new_user("developer")
    for _ in range(MAX_FAILED_LOGINS):
        assert _login(world.client, p.username, password="nope-Nope-1").status_code == 401
    r = _login(world.client, p.username)
    assert r.status_code == 429 and r.json()["code"] == "login_throttled"
    assert r.json()["details"]["retry_after"] > 0


def test_disabled_user_and_role_change_end_sessions(world: World) -> None:
    client, t = world.client, world.a
    p, _ = world.new_user("developer")
    token = _login(client, p.username).json()["session_token"]
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=h).status_code == 200
    r = client.patch(f"/api/v1/users/{p.user_id}", headers=auth(t, "admin"), json={"role": "reviewer"})
    assert r.status_code == 200 and r.json()["role"] == "reviewer" and r.json()["totp_secret"]
    secret = r.json()["totp_secret"]
    assert client.get("/api/v1/me", headers=h).status_code == 401
    r = client.patch(f"/api/v1/users/{p.user_id}", headers=auth(t, "admin"), json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert _login(client, p.username, secret).status_code == 401


def test_admin_cannot_change_own_role(world: World) -> None:
    t = world.a
    r = world.client.patch(f"/api/v1/users/{t.users['admin'].user_id}", headers=auth(t, "admin"), json={"role": "reviewer"})
    assert r.status_code == 403 and r.json()["code"] == "separation_of_duties"


def test_weak_password_rejected(world: World) -> None:
    t = world.a
    for pw in ("short1A", "alllowercaseletters", "12345678901234"):
        r = world.client.post("/api/v1/users", headers=auth(t, "admin"),
                        json={"username": "newbie", "role": "developer", "password": pw})
        assert r.status_code == 422 and r.json()["code"] == "weak_password", pw


def test_idle_session_expires(world: World) -> None:
    p, _ = world.new_user("auditor")
    token = _login(world.client, p.username).json()["session_token"]
    with world.platform.db.write() as s:
        s.execute(update(ConsoleSession).where(ConsoleSession.user_id == p.user_id)
                  .values(last_seen_at=utcnow() - timedelta(hours=1)))
    r = world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


def test_cookie_session_needs_csrf_token_and_same_origin(world: World) -> None:
    p, _ = world.new_user("developer")
    client = httpx.Client(base_url=world.server.url)
    r = _login(client, p.username)
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    csrf = r.json()["csrf_token"]
    assert client.get("/api/v1/me").status_code == 200  # the cookie alone is enough to read
    body = {"name": "ci", "scopes": ["versions:upload"]}
    r = client.post("/api/v1/tokens", json=body)
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    r = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf, "Origin": "http://127.0.0.1:1"})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    r = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    client.close()


def test_api_tokens_are_scoped_and_revocable(world: World) -> None:
    client, t = world.client, world.a
    r = client.post("/api/v1/tokens", headers=auth(t, "developer"), json={"name": "ci", "scopes": ["apps:read"]})
    assert r.status_code == 201
    token, token_id = r.json()["token"], r.json()["id"]
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/apps", headers=h).status_code == 200
    r = client.post("/api/v1/apps/x/versions/1.0.0/submit", headers=h, json={})
    assert r.status_code == 403  # scope lacks versions:submit
    assert client.post("/api/v1/tokens", headers=h, json={"name": "x", "scopes": ["apps:read"]}).status_code == 403
    mine = {x["id"]: x for x in client.get("/api/v1/tokens", headers=auth(t, "developer")).json()}
    assert mine[token_id]["revoked"] is False
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=auth(t, "developer")).status_code == 200
    assert client.get("/api/v1/apps", headers=h).status_code == 401
    r = client.post("/api/v1/tokens", headers=auth(t, "developer"), json={"name": "ci", "scopes": ["admin:all"]})
    assert r.status_code == 422 and r.json()["code"] == "invalid_scope"


def test_passwords_are_argon2(world: World) -> None:
    t = world.a
    with world.platform.db.read() as s:
        user = s.get(User, t.users["developer"].user_id)
        assert user is not None and user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


def test_errors_are_json_without_traces(world: World) -> None:
    client = world.client
    for r in (client.get("/api/v1/nope"), client.post("/api/v1/auth/login", content=b"{not json"),
              client.get("/api/v1/apps"), client.delete("/api/v1/health")):
        assert r.headers["content-type"].startswith("application/json")
        assert set(r.json()) >= {"code", "message"}
        assert "Traceback" not in r.text
    assert client.get("/api/v1/nope").json()["code"] == "not_found"
    with socket.create_connection((world.server.host, world.server.port)) as sock:
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000000\r\n\r\n{")
        sock.settimeout(10)
        reply = ""
        while '"too_large"' not in reply and (chunk := sock.recv(4096)):
            reply += chunk.decode()
    assert reply.startswith("HTTP/1.1 413") and '"too_large"' in reply


def test_change_password_ends_other_sessions(world: World) -> None:
    c = world.client
    p, _ = world.new_user("developer")
    s1 = {"Authorization": f"Bearer {_login(c, p.username).json()['session_token']}"}
    s2 = {"Authorization": f"Bearer {_login(c, p.username).json()['session_token']}"}
    r = c.post("/api/v1/me/password", headers=s1, json={"old_password": "wrong", "new_password": "New-Secret-2026"})
    assert r.status_code == 403 and r.json()["code"] == "bad_credentials"
    r = c.post("/api/v1/me/password", headers=s1, json={"old_password": PASSWORD, "new_password": "weak"})
    assert r.status_code == 422 and r.json()["code"] == "weak_password"
    r = c.post("/api/v1/me/password", headers=s1, json={"old_password": PASSWORD, "new_password": "New-Secret-2026"})
    assert r.status_code == 200
    assert c.get("/api/v1/me", headers=s1).status_code == 200
    assert c.get("/api/v1/me", headers=s2).status_code == 401
    assert _login(c, p.username).status_code == 401
    assert _login(c, p.username, password="New-Secret-2026").status_code == 200


def test_api_tokens_expire(world: World) -> None:
    c, t = world.client, world.a
    r = c.post("/api/v1/tokens", headers=auth(t, "developer"),
               json={"name": "short", "scopes": ["apps:read"], "expires_in_days": 1})
    assert r.status_code == 201 and r.json()["expires_at"]
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    assert c.get("/api/v1/apps", headers=h).status_code == 200
    from minibox.platform.accounts.models import ApiToken

    with world.platform.db.write() as s:
        s.execute(update(ApiToken).where(ApiToken.id == r.json()["id"])
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert c.get("/api/v1/apps", headers=h).status_code == 401
    r = c.post("/api/v1/tokens", headers=auth(t, "developer"),
               json={"name": "long", "scopes": ["apps:read"], "expires_in_days": 10_000})
    assert r.status_code == 422
