"""Uploads: source compiled on the server (errors as file:line:col), precompiled packages, automated
checks (size, forbidden APIs, privacy declarations, undeclared domains), hostile archives (PKG-13)."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest

from minibox.compiler import compile_project
from minibox.package import SigningKey, pack
from minibox.platform.apps import service as apps
from minibox.platform.context import Ctx

from .conftest import World, auth, project_zip, write_project, zip_bytes

APP = "uploads"


@pytest.fixture(scope="module")
def app(world: World) -> str:
    with world.platform.db.write() as s:
        ctx = Ctx(s, world.platform, world.a.users["admin"])
        apps.create_app(ctx, APP, "Uploads")
        apps.add_member(ctx, APP, world.a.users["developer"].user_id)
    return APP


_counter = iter(range(1, 10_000))


def send(world: World, data: bytes, *, kind: str = "source", version: str | None = None,
         role: str = "developer", headers: dict[str, str] | None = None) -> httpx.Response:
    version = version or f"1.0.{next(_counter)}"
    return world.client.post(f"/api/v1/apps/{APP}/versions", headers=headers or auth(world.a, role),
                             data={"version": version, "kind": kind},
                             files={"file": ("up.zip", data, "application/octet-stream")})


def findings(r: httpx.Response, rule: str) -> list[dict[str, Any]]:
    return [f for f in r.json()["report"]["findings"] if f["rule"] == rule]


def test_compile_errors_name_file_line_column(world: World, app: str, tmp_path: Path) -> None:
    root = write_project(tmp_path / "p")
    (root / "pages/index/index.wxml").write_text("<view>\n  <text>{{a</text>\n</view>\n")
    from minibox.platform.demo import zip_dir

    r = send(world, zip_dir(root))
    # the broken page fails alone: the version is stored, and its report's error blocks submission
    assert r.status_code == 201 and r.json()["status"] == "check_failed", r.text
    first = findings(r, "compile.error")[0]
    assert (first["file"], first["line"], first["column"], first["severity"]) == (
        "pages/index/index.wxml", 2, 9, "error")
    assert not r.json()["report"]["passed"]


def test_compile_warnings_are_in_the_report_and_do_not_block(world: World, app: str, tmp_path: Path) -> None:
    root = write_project(tmp_path / "p")
    app_json = json.loads((root / "app.json").read_text())
    app_json["pages"].append("pages/two/two")
    app_json["tabBar"] = {"list": [{"pagePath": "pages/index/index", "text": "Home"},
                                   {"pagePath": "pages/two/two"}]}
    (root / "app.json").write_text(json.dumps(app_json, indent=1))
    (root / "pages/two").mkdir(parents=True)
    (root / "pages/two/two.js").write_text("Page({})\n")
    (root / "pages/two/two.wxml").write_text("<view/>\n")
    from minibox.platform.demo import zip_dir

    r = send(world, zip_dir(root))
    assert r.status_code == 201 and r.json()["status"] == "checked", r.text
    [w] = findings(r, "compile.warning")
    assert w["file"] == "app.json" and w["severity"] == "warning" and "tabBar.list[1].text" in w["message"]


def test_errors_in_the_app_files_refuse_the_upload(world: World, app: str, tmp_path: Path) -> None:
    root = write_project(tmp_path / "p")
    (root / "app.js").write_text("App({\n  onLaunch() { var = 1 }\n})\n")
    from minibox.platform.demo import zip_dir

    r = send(world, zip_dir(root))
    assert r.status_code == 422 and r.json()["code"] == "compile_failed", r.text
    first = r.json()["details"]["errors"][0]
    assert first["location"].startswith("app.js:2:")


def test_forbidden_apis_in_source_are_findings_for_the_reviewer(world: World, app: str, tmp_path: Path) -> None:
    """WeChat accepts eval / new Function (the call throws at run time): a warning the reviewer reads."""
    logic = "eval('1 + 1')\nvar f = new Function('a', 'return a')\n// eval('in a comment')\n"
    r = send(world, project_zip(tmp_path, logic=logic))
    assert r.status_code == 201 and r.json()["status"] == "checked", r.text
    found = findings(r, "api.forbidden")
    assert [(f["file"], f["line"], f["column"], f["severity"]) for f in found] == [
        ("pages/index/index.js", 2, 1, "warning"), ("pages/index/index.js", 3, 9, "warning")]


def _signed_upload_key(world: World) -> SigningKey:
    key = SigningKey.generate()
    r = world.client.put("/api/v1/org/upload-keys", headers=auth(world.a, "admin"),
                         json={"keys": [key.public_key_pem().decode()]})
    assert r.status_code == 200, r.text
    return key


def test_forbidden_apis_in_a_precompiled_package_are_found_by_the_checks(world: World, app: str, tmp_path: Path) -> None:
    """A hand-made package that skipped the compiler is checked by the platform's own scan."""
    bundle = tmp_path / "bundle"
    compile_project(write_project(tmp_path / "src"), bundle)
    logic = (bundle / "logic.js").read_text()
    logic = logic.replace("Page({ data: { count: 1 } })", "Page({})\nvar x = eval('1')\nnew Function('a', 'b')")
    (bundle / "logic.js").write_text(logic)
    key = _signed_upload_key(world)
    r = send(world, pack(bundle, app_id=APP, version="4.0.0", build=400, signer=key), kind="package",
             version="4.0.0")
    assert r.status_code == 201 and r.json()["status"] == "checked", r.text
    found = findings(r, "api.forbidden")
    assert [(f["file"], f["line"], f["column"], f["severity"]) for f in found] == [
        ("pages/index/index.js", 2, 9, "warning"), ("pages/index/index.js", 3, 1, "warning")]


def test_privacy_api_needs_declaration(world: World, app: str, tmp_path: Path) -> None:
    logic = "wx.getLocation({ type: 'gcj02' })\n"
    r = send(world, project_zip(tmp_path, logic=logic))
    assert r.json()["status"] == "check_failed"
    [f] = findings(r, "privacy.undeclared")
    assert f["file"] == "pages/index/index.js" and f["line"] == 2 and "requiredPrivateInfos" in f["message"]
    declared = {"pages": ["pages/index/index"], "requiredPrivateInfos": ["getLocation"]}
    r = send(world, project_zip(tmp_path, logic=logic, app_json=declared))
    assert r.json()["status"] == "checked" and not findings(r, "privacy.undeclared")


def test_undeclared_domains_are_reported(world: World, app: str, tmp_path: Path) -> None:
    logic = "wx.request({ url: 'https://api.undeclared.example/v1' })\n"
    r = send(world, project_zip(tmp_path, logic=logic))
    assert r.json()["status"] == "checked"  # a warning: the container enforces the allowlist anyway
    [f] = findings(r, "domain.undeclared")
    assert f["severity"] == "warning" and r.json()["report"]["undeclared_domains"] == ["api.undeclared.example"]


def test_main_package_size_limit(world: World, app: str, tmp_path: Path) -> None:
    big = os.urandom(2 * 1024 * 1024 + 1024)
    root = write_project(tmp_path / "big")
    (root / "images").mkdir()
    (root / "images/big.bin").write_bytes(big)
    from minibox.platform.demo import zip_dir

    r = send(world, zip_dir(root))
    assert r.status_code == 201 and r.json()["status"] == "check_failed", r.text
    assert findings(r, "size.main")


def _symlink_zip() -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("app.js")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.mark.parametrize(("data", "entry", "rule"), [
    (zip_bytes({"../evil.js": "x"}), "../evil.js", "path"),
    (zip_bytes({"a/../../b.js": "x"}), "a/../../b.js", "path"),
    (zip_bytes({"/abs/evil.js": "x"}), "/abs/evil.js", "path"),
    (zip_bytes({"a\\..\\evil.js": "x"}), "a\\..\\evil.js", "path"),
    (zip_bytes({"App.js": "x", "app.js": "y"}), "app.js", "duplicate"),
    (_symlink_zip(), "app.js", "symlink"),
], ids=["dotdot", "nested-dotdot", "absolute", "backslash", "case-duplicate", "symlink"])
def test_hostile_archives_are_rejected(world: World, app: str, data: bytes, entry: str, rule: str) -> None:
    r = send(world, data)
    assert r.status_code == 422 and r.json()["code"] == "archive_rejected", r.text
    assert r.json()["details"] == {"entry": entry, "rule": rule}


def test_zip_bomb_is_cut_off(world: World, app: str) -> None:
    r = send(world, zip_bytes({"a.bin": b"\0" * (41 * 1024 * 1024)}))
    assert r.status_code == 422 and r.json()["details"]["rule"] in ("size", "ratio")


def test_not_a_zip(world: World, app: str) -> None:
    r = send(world, b"definitely not a zip")
    assert r.status_code == 422 and r.json()["details"]["rule"] == "format"


def test_version_rules(world: World, app: str, tmp_path: Path) -> None:
    data = project_zip(tmp_path)
    assert send(world, data, version="3.0.0").status_code == 201
    r = send(world, data, version="3.0.0")
    assert r.status_code == 409 and r.json()["code"] == "version_exists"
    r = world.client.post(f"/api/v1/apps/{APP}/versions", headers=auth(world.a, "developer"),
                          data={"version": "3.0.1", "build": "1"}, files={"file": ("a.zip", data)})
    assert r.status_code == 422 and r.json()["code"] == "build_not_newer"
    r = send(world, data, version="v1")
    assert r.status_code == 422 and r.json()["code"] == "invalid_version"


def test_only_members_upload(world: World, app: str, tmp_path: Path) -> None:
    p, _ = world.new_user("developer")
    import secrets as _s

    from minibox.platform.accounts import service as accounts
    from minibox.platform.accounts.models import ConsoleSession

    token = accounts.SESSION_PREFIX + _s.token_urlsafe(24)
    with world.platform.db.write() as s:
        s.add(ConsoleSession(user_id=p.user_id, token_hash=accounts.sha256_hex(token), csrf_token="x"))
    r = send(world, project_zip(tmp_path), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404  # not a member: the app is invisible


def test_precompiled_package_signed_by_an_upload_key(world: World, app: str, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    compile_project(write_project(tmp_path / "src", title="pre"), bundle)
    stranger = SigningKey.generate()
    r = world.client.put("/api/v1/org/upload-keys", headers=auth(world.a, "admin"), json={"keys": []})
    assert r.status_code == 200
    r = send(world, pack(bundle, app_id=APP, version="5.0.0", build=500, signer=stranger), kind="package",
             version="5.0.0")
    assert r.status_code == 422 and r.json()["code"] == "no_upload_keys"
    dev_key = _signed_upload_key(world)
    good = pack(bundle, app_id=APP, version="5.0.0", build=500, signer=dev_key)
    r = send(world, good, kind="package", version="5.0.0")
    assert r.status_code == 201 and r.json()["status"] == "checked" and r.json()["kind"] == "package", r.text
    bad = pack(bundle, app_id=APP, version="5.0.1", build=501, signer=stranger)
    r = send(world, bad, kind="package", version="5.0.1")
    assert r.status_code == 422 and r.json()["code"] == "package_rejected"
    other_app = pack(bundle, app_id="someone-else", version="5.0.2", build=502, signer=dev_key)
    r = send(world, other_app, kind="package", version="5.0.2")
    assert r.status_code == 422 and r.json()["code"] == "package_rejected"
