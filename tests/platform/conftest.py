"""Fixtures of the platform tests: real SQLite and PostgreSQL, real servers on 127.0.0.1, real crypto."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyotp
import pytest

from minibox.platform.accounts import service as accounts
from minibox.platform.api import create_app
from minibox.platform.context import Ctx, Platform, Principal
from minibox.platform.serve import BackgroundServer
from minibox.platform.server import open_platform
from minibox.platform.settings import Settings

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
ROLES = ("admin", "developer", "reviewer", "operator", "auditor")
PASSWORD = "Correct-Horse-42-battery"


@dataclass
class PgDatabase:
    name: str

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"


def create_pg_database() -> PgDatabase:
    name = f"mbplat_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PgDatabase(name)


def drop_pg_database(db: PgDatabase) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each backend (PostgreSQL is required, never skipped)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'platform.db'}"
        return
    db = create_pg_database()
    try:
        yield db.url
    finally:
        drop_pg_database(db)


def make_platform(data_dir: Path, url: str | None = None) -> Platform:
    return open_platform(Settings.for_data_dir(data_dir, url, secure_cookies=False))


# ---- a tiny mini-program --------------------------------------------------------------------------------

APP_JSON = {"pages": ["pages/index/index"], "window": {"navigationBarTitleText": "Test"}}


def write_project(root: Path, *, title: str = "hello", logic: str = "", extra: dict[str, str] | None = None,
                  app_json: dict[str, Any] | None = None) -> Path:
    files = {
        "project.config.json": json.dumps({"appid": "test", "miniprogramRoot": ""}),
        "app.json": json.dumps(app_json or APP_JSON),
        "app.js": "App({})\n",
        "app.wxss": "page { color: #333; }\n",
        "pages/index/index.json": "{}",
        "pages/index/index.wxml": f"<view class=\"t\">{title}: {{{{count}}}}</view>\n",
        "pages/index/index.wxss": ".t { font-size: 16px; }\n",
        "pages/index/index.js": "Page({ data: { count: 1 } })\n" + logic,
        **(extra or {}),
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def project_zip(tmp: Path, **kw: Any) -> bytes:
    from minibox.platform.demo import zip_dir

    root = write_project(tmp / f"proj-{uuid.uuid4().hex[:6]}", **kw)
    return zip_dir(root)


# ---- a seeded organisation with a logged-in client per role ---------------------------------------------


@dataclass
class Tenant:
    org_id: int
    users: dict[str, Principal]
    totp: dict[str, str | None]
    tokens: dict[str, str] = field(default_factory=dict)  # role -> session token


def seed_tenant(platform: Platform, name: str) -> Tenant:
    with platform.db.write() as s:
        admin = accounts.bootstrap_admin(Ctx(s, platform), name, f"{name}-admin".lower(), PASSWORD)
        p = Principal(admin.user.id, admin.user.org_id, admin.user.username, "admin", "session")
        users, totp = {"admin": p}, {"admin": admin.totp_secret}
        for role in ROLES[1:]:
            new = accounts.create_user(Ctx(s, platform, p), f"{name}-{role}".lower(), role, PASSWORD)
            users[role] = Principal(new.user.id, new.user.org_id, new.user.username, role, "session")
            totp[role] = new.totp_secret
    return Tenant(p.org_id, users, totp)


def login(client: httpx.Client, tenant: Tenant, role: str) -> str:
    secret = tenant.totp[role]
    body: dict[str, Any] = {"username": tenant.users[role].username, "password": PASSWORD}
    if secret:
        body["totp"] = pyotp.TOTP(secret).now()
    r = client.post("/api/v1/auth/login", json=body)
    assert r.status_code == 200, r.text
    tenant.tokens[role] = r.json()["session_token"]
    return tenant.tokens[role]


def sessions_for(platform: Platform, tenant: Tenant) -> Tenant:
    """Session tokens for every role without a TOTP round trip per role (tests that are not about login)."""
    import secrets as _secrets

    from minibox.platform.accounts.models import ConsoleSession

    with platform.db.write() as s:
        for role, p in tenant.users.items():
            token = accounts.SESSION_PREFIX + _secrets.token_urlsafe(32)
            s.add(ConsoleSession(user_id=p.user_id, token_hash=accounts.sha256_hex(token),
                                 csrf_token=_secrets.token_urlsafe(16)))
            tenant.tokens[role] = token
    return tenant


def auth(tenant: Tenant, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.tokens[role]}"}


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    plat = make_platform(tmp_path / "data")
    yield plat
    plat.db.dispose()


@pytest.fixture
def server(platform: Platform) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(platform)) as srv:
        yield srv


@pytest.fixture
def client(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


@dataclass
class World:
    """One platform, one server and two tenants (A and B) with sessions for every role, per test module."""

    platform: Platform
    server: BackgroundServer
    client: httpx.Client
    a: Tenant
    b: Tenant

    def new_user(self, role: str, name: str | None = None) -> tuple[Principal, str | None]:
        """A fresh user in tenant A (for tests that change a user's state)."""
        name = name or f"{role}-{uuid.uuid4().hex[:8]}"
        with self.platform.db.write() as s:
            new = accounts.create_user(Ctx(s, self.platform, self.a.users["admin"]), name, role, PASSWORD)
            return Principal(new.user.id, new.user.org_id, name, role, "session"), new.totp_secret


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    plat = make_platform(tmp_path_factory.mktemp("world"))
    a = sessions_for(plat, seed_tenant(plat, "TenantA"))
    b = sessions_for(plat, seed_tenant(plat, "TenantB"))
    with BackgroundServer(create_app(plat)) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
        yield World(plat, srv, c, a, b)
    plat.db.dispose()
