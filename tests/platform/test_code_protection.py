"""Code protection on the platform (issue 14), over HTTP: the app's setting and the upload's flag, who may
set them, reviewers reading the original while hosts get the minified code, source maps that never
leave the platform, an error thrown in protected code shown at its ORIGINAL file:line:col in Metrics
(through a real host, its telemetry upload and the ingest), and hostile uploads that still go through."""

from __future__ import annotations

import io
import json
import secrets
import textwrap
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from minibox.host import Host, HostConfig
from minibox.host.telemetry import TelemetryConfig, error_location
from minibox.host.update import Updater
from minibox.package import HostKeyPair, TrustStore
from minibox.platform import toolchain
from minibox.platform.api import create_app
from minibox.platform.apps import service as apps
from minibox.platform.apps.models import Version
from minibox.platform.context import Ctx, Platform
from minibox.platform.demo import zip_dir
from minibox.platform.hosts import service as hosts
from minibox.platform.serve import BackgroundServer
from minibox.testing import MiniProgram, launch
from minibox.view.tree import HeadlessView

from .conftest import Tenant, World, auth, make_platform, seed_tenant, sessions_for
from .test_console import WAIT, Console, _drop_file, chromium, shots  # noqa: F401  (fixtures)
from .test_console_metrics import ev, ingest

APP = "wxprotected00001"
#: Names that must not reach a host when the version is protected (locals of the project below; an ES
#: module's exported names are property names of its exports, and stay).
LOCALS = ("explodingHelperFunction", "messagePrefixText", "unitPrice", "quantityOfItems")

PROJECT = {
    "project.config.json": json.dumps({"appid": "t", "miniprogramRoot": ""}),
    "app.json": json.dumps({"pages": ["pages/index/index", "pages/bad/bad"]}),
    "app.js": "App({})\n",
    "utils/price.js": textwrap.dedent("""\
        export function computeLineTotal(unitPrice, quantityOfItems) {
          return unitPrice * quantityOfItems;
        }
        """),
    "pages/index/index.json": "{}",
    "pages/index/index.wxml": "<view class=\"total\">{{total}}</view><view class=\"go\" bindtap=\"go\">go</view>\n",
    "pages/index/index.js": textwrap.dedent("""\
        import { computeLineTotal } from '../../utils/price.js';
        Page({
          data: { total: 0 },
          onLoad() { this.setData({ total: computeLineTotal(250, 3) }); },
          go() { wx.navigateTo({ url: '/pages/bad/bad' }); }
        })
        """),
    "pages/bad/bad.json": "{}",
    "pages/bad/bad.wxml": "<view>bad</view>\n",
    "pages/bad/bad.js": "Page({\n  onLoad() {\n    this.explode();\n  },\n  explode() {\n"
                        "    throw new Error(messagePrefixText + explodingHelperFunction());\n  }\n})\n"
                        "var messagePrefixText = 'bad page blew up: ';\n"
                        "function explodingHelperFunction() { return 'protected'; }\n",
}


def project_bytes(tmp: Path, files: dict[str, str] = PROJECT) -> bytes:
    root = tmp / f"proj-{secrets.token_hex(3)}"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return zip_dir(root)


@dataclass
class Env:
    platform: Platform
    server: BackgroundServer
    client: httpx.Client
    tenant: Tenant
    host_id: str
    api_key: str
    host_key: HostKeyPair

    def h(self, role: str) -> dict[str, str]:
        return auth(self.tenant, role)

    def upload(self, tmp: Path, version: str, files: dict[str, str] = PROJECT, protect: bool | None = None,
               ) -> dict[str, Any]:
        form = {"version": version, "kind": "source"}
        if protect is not None:
            form["protect"] = "true" if protect else "false"
        r = self.client.post(f"/api/v1/apps/{APP}/versions", headers=self.h("developer"), data=form,
                             files={"file": ("src.zip", project_bytes(tmp, files), "application/zip")})
        assert r.status_code == 201, r.text
        return r.json()

    def release(self, version: str) -> None:
        c, base = self.client, f"/api/v1/apps/{APP}/versions/{version}"
        assert c.post(f"{base}/submit", headers=self.h("developer"), json={}).status_code == 200
        assert c.post(f"{base}/approve", headers=self.h("reviewer"), json={"comment": "ok"}).status_code == 200
        r = c.post(f"/api/v1/apps/{APP}/releases", headers=self.h("operator"), json={"version": version})
        assert r.status_code in (200, 201), r.text

    def set_protection(self, enabled: bool, role: str = "admin") -> httpx.Response:
        return self.client.put(f"/api/v1/apps/{APP}/code-protection", headers=self.h(role), json={"enabled": enabled})

    def file(self, version: str, path: str, which: str) -> str:
        r = self.client.get(f"/api/v1/apps/{APP}/versions/{version}/files/{path}", headers=self.h("reviewer"),
                            params={"which": which})
        assert r.status_code == 200, r.text
        return r.text

    def version_row(self, version: str) -> Version:
        with self.platform.db.read() as s:
            row = s.execute(select(Version).where(Version.version == version)).scalar_one()
            s.expunge(row)
            return row


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    platform = make_platform(tmp_path / "platform")
    tenant = sessions_for(platform, seed_tenant(platform, f"Prot{secrets.token_hex(3)}"))
    with platform.db.write() as s:
        ctx = Ctx(s, platform, tenant.users["admin"])
        apps.create_app(ctx, APP, "Protected app")
        apps.add_member(ctx, APP, tenant.users["developer"].user_id)
        apps.create_app(ctx, "wxnotmine0000001", "Not the developer's")
        creds = hosts.register(ctx, "bank app", None)
        hosts.grant(ctx, creds.host.host_id, APP)
    assert creds.private_key_pem is not None
    with BackgroundServer(create_app(platform)) as srv, httpx.Client(base_url=srv.url, timeout=120) as c:
        yield Env(platform, srv, c, tenant, creds.host.host_id, creds.api_key,
                  HostKeyPair.from_private_pem(creds.private_key_pem.encode()))
    platform.db.dispose()


def test_the_setting_is_for_admins_and_member_developers_and_audited(env: Env) -> None:
    assert env.client.get(f"/api/v1/apps/{APP}", headers=env.h("reviewer")).json()["code_protection"] is False
    for role in ("reviewer", "operator", "auditor"):
        r = env.set_protection(True, role)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", role
    r = env.set_protection(True, "developer")
    assert r.status_code == 200 and r.json()["code_protection"] is True
    assert env.set_protection(False, "admin").json()["code_protection"] is False
    r = env.client.put("/api/v1/apps/wxnotmine0000001/code-protection", headers=env.h("developer"),
                       json={"enabled": True})
    assert r.status_code == 404  # not a member: no such app, as everywhere
    r = env.client.put(f"/api/v1/apps/{APP}/code-protection", headers=env.h("admin"), json={"enabled": "maybe"})
    assert r.status_code == 422
    entries = env.client.get("/api/v1/audit", headers=env.h("auditor"), params={"action": "app.code_protection"}).json()
    changes = [(e["actor"], e["details"]["before"], e["details"]["after"]) for e in entries
               if "before" in (e.get("details") or {})]
    assert [c[1:] for c in changes] == [(False, True), (True, False)]
    assert env.tenant.users["developer"].username in changes[0][0]


def test_reviewers_read_the_original_hosts_get_protected_code_and_errors_map_back(env: Env, tmp_path: Path) -> None:
    assert env.set_protection(True).status_code == 200
    v = env.upload(tmp_path, "1.0.0")
    assert v["protected"] is True and v["delivered_sha256"] != v["bundle_sha256"] and v["checks_passed"]
    summary = v["report"]["protection"]
    assert summary["requested"] and summary["protected"] == summary["modules"] == 4 and summary["skipped"] == []
    assert summary["logic_bytes"]["after"] < summary["logic_bytes"]["before"]
    assert not [f for f in v["report"]["findings"] if f["rule"].startswith("protect.")]

    # the reviewer reads the source and the compiled bundle as written; the delivered bundle is minified
    assert "explodingHelperFunction" in env.file("1.0.0", "pages/bad/bad.js", "source")
    reviewed, delivered = env.file("1.0.0", "logic.js", "bundle"), env.file("1.0.0", "logic.js", "delivered")
    assert all(name in reviewed for name in LOCALS)
    assert not any(name in delivered for name in LOCALS)
    assert "'bad page blew up: '" in reviewed and '"bad page blew up: "' in delivered
    files = env.client.get(f"/api/v1/apps/{APP}/versions/1.0.0/files", headers=env.h("reviewer"),
                           params={"which": "delivered"}).json()
    assert not [f for f in files if "map" in f["path"]]

    env.release("1.0.0")
    row = env.version_row("1.0.0")
    assert row.sourcemap_sha256 and row.protected_bundle_sha256 == v["delivered_sha256"]

    # a host runs the release: the package is the protected bundle and carries no map
    keyset = env.client.get("/api/v1/trust/keyset").content
    doc = env.client.get("/api/v1/telemetry/key").json()
    trust = TrustStore.create(tmp_path / "device-trust", keyset)
    config = TelemetryConfig(base_url=env.server.url, api_key=env.api_key, host_private_key=env.host_key,
                             trust=trust, flush_interval_s=3600)
    assert doc["public_key"]
    host = Host(HostConfig(data_dir=tmp_path / "host", host_id=env.host_id, telemetry=config))
    try:
        with Updater(env.server.url, env.host_id, env.api_key, trust, tmp_path / "cache", env.host_key) as updater:
            view = HeadlessView()
            instance = host.start_released(updater, APP, "alice", views=[view])
            mp = MiniProgram(host, instance, view, own_host=False)
            try:
                instance.launch()
                mp.wait_idle()
                assert mp.current_page.query_selector(".total").text == "750"
                mp.current_page.query_selector(".go").tap()
                mp.wait_idle()
                assert mp.current_page.path == "pages/bad/bad"
                error = mp.errors[0]
                assert "bad page blew up: protected" in error["message"]
                assert "pages/bad/bad.js:1:" in error["stack"]  # the host sees the minified code's position
            finally:
                mp.close()
            on_device = "".join(p.read_text("utf-8", "replace") for p in Path(instance.bundle.root).rglob("*")
                                if p.is_file())
            assert "bad page blew up" in on_device
            assert not any(name in on_device for name in LOCALS) and '"mappings"' not in on_device
        result = host.telemetry.upload()
        assert result["sent"] >= 1 and result["rejected"] == 0, result
    finally:
        host.close()
    # the sourcemap blob is not a package any host may fetch
    r = env.client.get(f"/api/v1/packages/{row.sourcemap_sha256}.mbx", headers={"X-Minibox-Host-Key": env.api_key})
    assert r.status_code == 404

    m = env.client.get(f"/api/v1/apps/{APP}/metrics", headers=env.h("admin")).json()
    top = m["top_errors"][0]
    assert "bad page blew up" in top["message"] and top["first_version"] == "1.0.0"
    # the ORIGINAL file:line:col, as an unprotected build reports it; what the host sent is kept beside it
    assert top["location"] == "pages/bad/bad.js:6:41", top
    assert top["stack"][:2] == ["pages/bad/bad.js:6:41", "pages/bad/bad.js:3:10"]
    assert top["mapped"] is True and top["reported_location"].startswith("pages/bad/bad.js:1:")
    assert top["reported_location"] != top["location"]


def test_the_same_error_unprotected_is_reported_where_the_protected_one_maps(env: Env, tmp_path: Path) -> None:
    # the expected location of the test above, from a plain build of the same project
    src = tmp_path / "plain"
    with zipfile.ZipFile(io.BytesIO(project_bytes(tmp_path))) as zf:
        zf.extractall(src)
    root = toolchain.source_root(src)
    with launch(root) as mp:
        mp.current_page.query_selector(".go").tap()
        mp.wait_idle()
        stack = mp.errors[0]["stack"]
    assert "(pages/bad/bad.js:6:41)" in stack and "(pages/bad/bad.js:3:10)" in stack


def test_the_upload_flag_overrides_the_setting(env: Env, tmp_path: Path) -> None:
    v = env.upload(tmp_path, "1.0.0", protect=True)  # the app's setting is off
    assert v["protected"] is True
    assert env.set_protection(True).status_code == 200
    v = env.upload(tmp_path, "1.0.1", protect=False)
    assert v["protected"] is False and v["delivered_sha256"] == v["bundle_sha256"]
    assert "protection" not in v["report"]
    v = env.upload(tmp_path, "1.0.2")  # no flag: the setting
    assert v["protected"] is True
    listed = {x["version"]: x["protected"] for x in
              env.client.get(f"/api/v1/apps/{APP}/versions", headers=env.h("operator")).json()}
    assert listed == {"1.0.0": True, "1.0.1": False, "1.0.2": True}


def test_hostile_modules_fail_alone_and_the_upload_goes_through(env: Env, tmp_path: Path) -> None:
    hostile = {**PROJECT,
               "utils/letvar.js": "var let = 7;\nmodule.exports = let * 6;\n",  # sloppy JS terser rejects
               "pages/index/index.js": PROJECT["pages/index/index.js"].replace(
                   "Page({", "const answer = require('../../utils/letvar.js');\nPage({").replace(
                   "computeLineTotal(250, 3)", "computeLineTotal(250, 3) + answer")}
    v = env.upload(tmp_path, "1.0.0", hostile, protect=True)
    assert v["protected"] is True and v["checks_passed"]
    skipped = [f for f in v["report"]["findings"] if f["rule"] == "protect.skipped"]
    assert [(f["file"], f["severity"]) for f in skipped] == [("utils/letvar.js", "warning")]
    assert "terser cannot parse it" in skipped[0]["message"]
    assert v["report"]["protection"]["protected"] == 4
    delivered = env.file("1.0.0", "logic.js", "delivered")
    assert "var let = 7;" in delivered and "unitPrice" not in delivered
    env.release("1.0.0")
    run_release(env, tmp_path, expect_total="792")


def test_a_failed_protection_run_delivers_the_version_unprotected(env: Env, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolchain, "PROTECT_TIMEOUT_S", 0.001)
    v = env.upload(tmp_path, "1.0.0", protect=True)
    assert v["protected"] is False and v["delivered_sha256"] == v["bundle_sha256"]
    assert "took longer" in v["report"]["protection"]["error"]
    failed = [f for f in v["report"]["findings"] if f["rule"] == "protect.failed"]
    assert failed and "delivered unprotected" in failed[0]["message"] and v["checks_passed"]
    env.release("1.0.0")
    run_release(env, tmp_path, expect_total="750")


def run_release(env: Env, tmp_path: Path, *, expect_total: str) -> None:
    keyset = env.client.get("/api/v1/trust/keyset").content
    trust = TrustStore.create(tmp_path / f"trust-{secrets.token_hex(3)}", keyset)
    host = Host(HostConfig(data_dir=tmp_path / f"host-{secrets.token_hex(3)}", host_id=env.host_id))
    try:
        with Updater(env.server.url, env.host_id, env.api_key, trust, tmp_path / f"cache-{secrets.token_hex(3)}",
                     env.host_key) as updater:
            view = HeadlessView()
            instance = host.start_released(updater, APP, "bob", views=[view])
            mp = MiniProgram(host, instance, view, own_host=False)
            try:
                instance.launch()
                mp.wait_idle()
                assert mp.current_page.query_selector(".total").text == expect_total
                assert mp.errors == []
            finally:
                mp.close()
    finally:
        host.close()


# ---- the console ----------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_console_sets_protection_uploads_protected_and_shows_mapped_errors(
        world: World, chromium: Any, shots: Path, tmp_path: Path) -> None:  # noqa: F811
    app_id = f"prot-{uuid.uuid4().hex[:6]}"
    dev, totp = world.new_user("developer")
    with world.platform.db.write() as s:
        ctx = Ctx(s, world.platform, world.a.users["admin"])
        apps.create_app(ctx, app_id, "Protected in the console")
        apps.add_member(ctx, app_id, dev.user_id)
        creds = hosts.register(ctx, f"host {app_id}", None)
        hosts.grant(ctx, creds.host.host_id, app_id)
    c = Console(chromium, world, shots).login(dev.username, totp)
    page = c.go(f"/apps/{app_id}")
    card = page.wait_for_selector(".card.code-protection", timeout=WAIT)
    assert "off" in card.inner_text()
    assert page.is_checked(".upload-protect") is False
    page.click(".code-protection button.protect-toggle")
    c.toast("New uploads will be protected.")
    page = c.go(f"/apps/{app_id}")
    page.wait_for_selector(".code-protection .badge:has-text('protected')", timeout=WAIT)
    assert page.is_checked(".upload-protect") is True  # the upload form follows the app's setting
    c.shot("50-code-protection", both=True)

    page.fill("input[name=version]", "1.0.0")
    _drop_file(page, project_bytes(tmp_path), "protected.zip")
    page.click("form button[type=submit]:has-text('Upload and check')")
    summary = page.wait_for_selector("dd.protection", timeout=WAIT * 3)
    assert "4 of 4 JS files protected" in summary.inner_text() and "protected" in summary.inner_text()
    c.shot("51-version-protected")

    # an error of the protected version, as a host reports it, is shown at the original line
    with world.platform.db.read() as s:
        row = s.execute(select(Version).where(Version.version == "1.0.0", Version.app_pk == apps.get_app(
            Ctx(s, world.platform, world.a.users["admin"]), app_id).id)).scalar_one()
        delivered = world.platform.blobs.get(apps.delivered_sha256(row))
    bundle = tmp_path / "delivered"
    with zipfile.ZipFile(io.BytesIO(delivered)) as zf:
        zf.extractall(bundle)
    with launch(bundle) as mp:
        mp.current_page.query_selector(".go").tap()
        mp.wait_idle()
        loc, frames = error_location(mp.errors[0]["stack"])
    assert loc.startswith("pages/bad/bad.js:1:")
    now = int(time.time() * 1000)
    ingest(world, creds, [ev("error", app_id, "1.0.0", now - 1000, secrets.token_hex(16),
                             "bad page blew up: protected", {"loc": loc, "stack": frames, "first": True})])
    page = c.go(f"/apps/{app_id}/metrics")
    row_el = page.wait_for_selector("tr:has-text('bad page blew up')", timeout=WAIT)
    assert "pages/bad/bad.js:6:41" in row_el.inner_text() and "original source" in row_el.inner_text()
    assert loc not in row_el.inner_text()
    c.shot("52-metrics-mapped", both=True)
    c.close()
