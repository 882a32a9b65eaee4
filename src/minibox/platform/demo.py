"""`minibox demo`: one command sets up a demo organisation on SQLite + local files and serves it."""

from __future__ import annotations

import json
import secrets
import shutil
import string
import tempfile
import zipfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import pyotp

from minibox.platform.accounts import service as accounts
from minibox.platform.accounts.models import User
from minibox.platform.apps import service as apps
from minibox.platform.context import Ctx, Platform, Principal
from minibox.platform.errors import PlatformError
from minibox.platform.hosts import service as hosts
from minibox.platform.release import service as release
from minibox.platform.review import service as review

DEMO_FILE = "demo.json"
DEMO_ORG = "Demo Bank"
DEMO_ROLES = ("admin", "developer", "reviewer", "operator", "auditor")


def random_password() -> str:
    alphabet = string.ascii_letters + string.digits
    return "Mb-" + "".join(secrets.choice(alphabet) for _ in range(16)) + "9a"


def find_example(root: Path) -> Path | None:
    """The first mini-program project under `root` (a dir with app.json or project.config.json)."""
    if not root.is_dir():
        return None
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        if (d / "app.json").exists() or (d / "project.config.json").exists():
            return d
    return None


def zip_dir(src: Path) -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in src.rglob("*") if p.is_file() and "node_modules" not in p.parts):
            zf.write(path, path.relative_to(src).as_posix())
    return buf.getvalue()


@dataclass
class DemoState:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)
    app: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _principal(u: User) -> Principal:
    return Principal(user_id=u.id, org_id=u.org_id, username=u.username, role=u.role, kind="session")


def seed(platform: Platform, examples_dir: Path) -> DemoState:
    """Seed the demo once; later runs reload what was seeded (credentials are kept in the data dir)."""
    path = platform.settings.data_dir / DEMO_FILE
    if path.exists():
        raw = json.loads(path.read_text())
        return DemoState(**raw)
    state = DemoState()
    with platform.db.write() as s:
        ctx = Ctx(s, platform)
        admin_pw = random_password()
        admin = accounts.bootstrap_admin(ctx, DEMO_ORG, "admin", admin_pw)
        state.users["admin"] = {"username": "admin", "password": admin_pw, "totp_secret": admin.totp_secret}
        actx = Ctx(s, platform, _principal(admin.user))
        principals = {"admin": _principal(admin.user)}
        for role in DEMO_ROLES[1:]:
            pw = random_password()
            new = accounts.create_user(actx, role, role, pw)
            principals[role] = _principal(new.user)
            state.users[role] = {"username": role, "password": pw, "totp_secret": new.totp_secret}
        creds = hosts.register(actx, "Demo Bank App", None)
        key_path = platform.settings.key_dir / "demo-host-private.pem"
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.write_text(creds.private_key_pem or "")
        key_path.chmod(0o600)
        state.host = {"host_id": creds.host.host_id, "api_key": creds.api_key, "private_key_file": str(key_path)}
    example = find_example(examples_dir)
    if example is None:
        state.notes.append(f"no example mini-program under {examples_dir}: upload one with the API")
    else:
        try:
            state.app = _publish_example(platform, principals, example, state.host["host_id"])
        except PlatformError as e:
            state.notes.append(f"example {example.name} was not released: {e.code}: {e.message}")
    path.write_text(json.dumps(state.__dict__, indent=2))
    path.chmod(0o600)
    return state


def _publish_example(platform: Platform, who: dict[str, Principal], example: Path, host_id: str) -> dict[str, Any]:
    app_id = "demo-" + "".join(c if c.isalnum() else "-" for c in example.name.lower())[:50]
    with platform.db.write() as s:
        actx = Ctx(s, platform, who["admin"])
        apps.create_app(actx, app_id, example.name, f"Example mini-program from {example}")
        # the host draws it over every page of the app (with its own, if it has one)
        apps.set_allowlist(actx, app_id, {"watermark": "{user} · {app} · {date}"})
        apps.add_member(actx, app_id, who["developer"].user_id)
        hosts.grant(actx, host_id, app_id)
    with platform.db.write() as s:
        v = apps.upload_version(Ctx(s, platform, who["developer"]), app_id, version="1.0.0", build=None,
                                description="demo upload", kind="source", data=zip_dir(example))
        report = v.report
    with platform.db.write() as s:
        review.submit(Ctx(s, platform, who["developer"]), app_id, "1.0.0", "ready for review")
    with platform.db.write() as s:
        review.decide(Ctx(s, platform, who["reviewer"]), app_id, "1.0.0", approve=True, comment="looks good")
    with platform.db.write() as s:
        release.release(Ctx(s, platform, who["operator"]), app_id, "1.0.0", rules=None, note="demo release")
    _demo_story(platform, who, app_id, example)
    return {"app_id": app_id, "version": "1.0.0", "source": str(example), "checks_passed": report["passed"]}


def _demo_story(platform: Platform, who: dict[str, Principal], app_id: str, example: Path) -> None:
    """More of an app's life for the console to show: 1.1.0 approved and released to 10% of users
    (grayscale over the full 1.0.0), 1.2.0 waiting for review, 1.2.1 rejected, 1.3.0 uploaded and
    checked, 1.4.0 with failed checks; and a second app rolled back, then taken down."""
    data = zip_dir(example)
    for version, note in (("1.1.0", "faster checkout"), ("1.2.0", "new coupons page"), ("1.3.0", "work in progress")):
        with platform.db.write() as s:
            apps.upload_version(Ctx(s, platform, who["developer"]), app_id, version=version, build=None,
                                description=note, kind="source", data=data)
    for version in ("1.1.0", "1.2.0"):
        with platform.db.write() as s:
            review.submit(Ctx(s, platform, who["developer"]), app_id, version, "ready for review")
    with platform.db.write() as s:
        review.decide(Ctx(s, platform, who["reviewer"]), app_id, "1.1.0", approve=True, comment="diff reviewed")
    with platform.db.write() as s:
        release.release(Ctx(s, platform, who["operator"]), app_id, "1.1.0", rules={"percentage": 10},
                        note="grayscale: 10% first")
    # a rejected version, and one whose checks failed (a page that does not compile: file:line:col)
    with platform.db.write() as s:
        apps.upload_version(Ctx(s, platform, who["developer"]), app_id, version="1.2.1", build=None,
                            description="quick fix", kind="source", data=data)
    with platform.db.write() as s:
        review.submit(Ctx(s, platform, who["developer"]), app_id, "1.2.1", "urgent")
    with platform.db.write() as s:
        review.decide(Ctx(s, platform, who["reviewer"]), app_id, "1.2.1", approve=False,
                      comment="the coupon terms page is missing")
    with tempfile.TemporaryDirectory() as tmp:
        broken = Path(shutil.copytree(example, Path(tmp) / example.name))
        page = next(iter(sorted(broken.rglob("pages/*/*.wxml"))), None)
        if page is not None:
            page.write_text(page.read_text() + "\n<view>{{ unclosed\n")
            with platform.db.write() as s:
                apps.upload_version(Ctx(s, platform, who["developer"]), app_id, version="1.4.0", build=None,
                                    description="refactoring", kind="source", data=zip_dir(broken))
    # a second app that was rolled back and then taken down
    legacy = app_id[:40] + "-legacy"
    with platform.db.write() as s:
        actx = Ctx(s, platform, who["admin"])
        apps.create_app(actx, legacy, f"{example.name} (legacy)", "Retired: rolled back, then taken down")
        apps.add_member(actx, legacy, who["developer"].user_id)
    for version in ("1.0.0", "1.1.0"):
        with platform.db.write() as s:
            apps.upload_version(Ctx(s, platform, who["developer"]), legacy, version=version, build=None,
                                description="legacy", kind="source", data=data)
        with platform.db.write() as s:
            review.submit(Ctx(s, platform, who["developer"]), legacy, version, "")
        with platform.db.write() as s:
            review.decide(Ctx(s, platform, who["reviewer"]), legacy, version, approve=True, comment="ok")
        with platform.db.write() as s:
            release.release(Ctx(s, platform, who["operator"]), legacy, version, rules=None, note="")
    with platform.db.write() as s:
        release.rollback(Ctx(s, platform, who["operator"]), legacy, "1.0.0", "1.1.0 broke the login page")
    with platform.db.write() as s:
        release.takedown(Ctx(s, platform, who["operator"]), legacy, "replaced by the new app")


def describe(state: DemoState, url: str) -> str:
    lines = [f"minibox platform demo: {url}/console   (API docs: {url}/docs)", "",
             "Accounts (password, TOTP secret):"]
    for role, u in state.users.items():
        totp = u.get("totp_secret")
        code = f"  totp secret {totp} (now: {pyotp.TOTP(totp).now()})" if totp else ""
        lines.append(f"  {role:<10} {u['username']:<10} {u['password']}{code}")
    if state.host:
        lines += ["", f"Host app: {state.host['host_id']}  X-Minibox-Host-Key: {state.host['api_key']}",
                  f"  private key: {state.host['private_key_file']}"]
    if state.app:
        a = state.app
        lines += ["", f"Released app: {a['app_id']} {a['version']} (from {a['source']})",
                  f"  curl -H 'X-Minibox-Host-Key: {state.host.get('api_key')}' "
                  f"'{url}/api/v1/hosts/{state.host.get('host_id')}/apps/{a['app_id']}/update?user_id=u1'"]
    lines += [f"note: {n}" for n in state.notes]
    lines += ["", "Log in: POST /api/v1/auth/login {username, password, totp}. Ctrl-C stops the server."]
    return "\n".join(lines)
