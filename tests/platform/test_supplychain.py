"""Supply chain: every npm package of an upload in a CycloneDX SBOM kept with the version; an OSV
feed imported offline; advisories matched by version range; a critical one blocks submission."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from minibox.platform.apps import service as apps
from minibox.platform.context import Ctx
from minibox.platform.demo import zip_dir
from minibox.platform.supplychain import advisories as osv
from minibox.platform.supplychain.sbom import scan

from .conftest import World, auth, write_project

APP = "supply"

NPM_FILES = {
    "miniprogram_npm/left-pad/index.js": "module.exports = function (s) { return s; };\n",
    "miniprogram_npm/left-pad/package.json": json.dumps({"name": "left-pad", "version": "1.1.0",
                                                         "license": "WTFPL"}),
    "miniprogram_npm/@acme/ui/button/index.js": "Component({})\n",
    "miniprogram_npm/@acme/ui/button/index.json": '{"component": true}',
    "miniprogram_npm/@acme/ui/button/index.wxml": "<view/>\n",
    "miniprogram_npm/mystery/index.js": "module.exports = 1;\n",
}
LOCK = {"lockfileVersion": 3, "packages": {
    "": {"name": "app"},
    "node_modules/@acme/ui": {"version": "2.3.4", "license": "MIT"},
}}


def osv_record(osv_id: str, name: str, events: list[dict[str, str]], severity: str | None = None,
               cvss: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"id": osv_id, "modified": "2026-11-01T00:00:00Z", "summary": f"bug in {name}",
                           "aliases": [f"CVE-2026-{abs(hash(osv_id)) % 10000:04d}"],
                           "affected": [{"package": {"ecosystem": "npm", "name": name},
                                         "ranges": [{"type": "SEMVER", "events": events}]}]}
    if severity:
        rec["database_specific"] = {"severity": severity}
    if cvss:
        rec["severity"] = [{"type": "CVSS_V3", "score": cvss}]
    return rec


def project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "p", extra={**NPM_FILES, "package-lock.json": json.dumps(LOCK)})
    return root


@pytest.fixture(scope="module")
def app(world: World) -> str:
    with world.platform.db.write() as s:
        ctx = Ctx(s, world.platform, world.a.users["admin"])
        apps.create_app(ctx, APP, "Supply")
        apps.add_member(ctx, APP, world.a.users["developer"].user_id)
    return APP


_versions = iter(range(1, 1000))


def upload(world: World, root: Path) -> httpx.Response:
    return world.client.post(f"/api/v1/apps/{APP}/versions", headers=auth(world.a, "developer"),
                             data={"version": f"2.0.{next(_versions)}", "kind": "source"},
                             files={"file": ("up.zip", zip_dir(root), "application/zip")})


def import_feed(world: World, records: list[dict[str, Any]], role: str = "admin", as_zip: bool = False) -> httpx.Response:
    if as_zip:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for r in records:
                zf.writestr(f"{r['id']}.json", json.dumps(r))
        body = buf.getvalue()
    else:
        body = "\n".join(json.dumps(r) for r in records).encode()
    return world.client.post("/api/v1/advisories", headers=auth(world.a, role),
                             files={"file": ("feed", body, "application/octet-stream")})


def test_sbom_lists_every_package_with_version_licence_and_hashes(tmp_path: Path) -> None:
    root = project(tmp_path)
    pkgs = {p.name: p for p in scan(root)}
    assert set(pkgs) == {"left-pad", "@acme/ui", "mystery"}
    assert (pkgs["left-pad"].version, pkgs["left-pad"].licence, pkgs["left-pad"].version_source) == (
        "1.1.0", "WTFPL", "package.json")
    assert (pkgs["@acme/ui"].version, pkgs["@acme/ui"].licence, pkgs["@acme/ui"].version_source) == (
        "2.3.4", "MIT", "package-lock")
    assert pkgs["mystery"].version == "unknown"
    assert set(pkgs["@acme/ui"].files) == {"button/index.js", "button/index.json", "button/index.wxml"}
    assert pkgs["@acme/ui"].purl == "pkg:npm/%40acme/ui@2.3.4"


def test_osv_ranges_and_severity() -> None:
    adv = osv.parse(osv_record("GHSA-1", "left-pad", [{"introduced": "1.0.0"}, {"fixed": "1.2.0"}], "HIGH"))
    assert adv is not None and adv.severity == "high"
    assert osv.affects(adv, "left-pad", "1.1.0") and osv.affects(adv, "left-pad", "1.0.0")
    assert not osv.affects(adv, "left-pad", "1.2.0") and not osv.affects(adv, "left-pad", "0.9.9")
    assert not osv.affects(adv, "other", "1.1.0")
    last = osv.parse(osv_record("GHSA-2", "x", [{"introduced": "0"}, {"last_affected": "2.0.0"}],
                                cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"))
    assert last is not None and last.severity == "critical"
    assert osv.affects(last, "x", "2.0.0") and not osv.affects(last, "x", "2.0.1")
    assert osv.parse({"id": "PYSEC-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "x"}}]}) is None
    assert osv.parse({**osv_record("W", "x", [{"introduced": "0"}]), "withdrawn": "2026-01-01"}) is None


def test_feed_import_is_admin_only_and_refuses_garbage(world: World, app: str) -> None:
    r = import_feed(world, [osv_record("GHSA-a", "left-pad", [{"introduced": "0"}])], role="developer")
    assert r.status_code == 403
    r = world.client.post("/api/v1/advisories", headers=auth(world.a, "admin"),
                          files={"file": ("feed", b"{not json", "application/json")})
    assert r.status_code == 422 and r.json()["code"] == "invalid_feed", r.text


def test_upload_report_matches_advisories_and_critical_blocks_submission(world: World, app: str,
                                                                         tmp_path: Path) -> None:
    root = project(tmp_path)
    clean = upload(world, root)
    assert clean.status_code == 201 and clean.json()["status"] == "checked", clean.text
    rules = [f["rule"] for f in clean.json()["report"]["findings"]]
    assert "deps.unknown_version" in rules and "deps.vulnerable" not in rules

    r = import_feed(world, [
        osv_record("GHSA-moderate", "left-pad", [{"introduced": "1.0.0"}, {"fixed": "1.1.1"}], "MODERATE"),
        osv_record("GHSA-crit", "@acme/ui", [{"introduced": "2.0.0"}, {"fixed": "2.3.5"}], "CRITICAL"),
        osv_record("GHSA-old", "@acme/ui", [{"introduced": "0"}, {"fixed": "1.0.0"}], "CRITICAL"),
    ], as_zip=True)
    assert r.status_code == 200 and r.json()["imported"] == 3, r.text
    again = import_feed(world, [osv_record("GHSA-old", "@acme/ui", [{"introduced": "0"}, {"fixed": "1.0.0"}],
                                           "CRITICAL")])
    assert again.json()["unchanged"] == 1

    res = upload(world, root)
    assert res.status_code == 201, res.text
    body = res.json()
    vulns = [f for f in body["report"]["findings"] if f["rule"] == "deps.vulnerable"]
    assert sorted((f["severity"], f["message"].split(" is affected by ")[1].split(" ")[0]) for f in vulns) == [
        ("error", "GHSA-crit"), ("warning", "GHSA-moderate")]
    assert any("fixed in 2.3.5" in f["message"] for f in vulns)
    assert body["status"] == "check_failed" and not body["report"]["passed"]
    submit = world.client.post(f"/api/v1/apps/{APP}/versions/{body['version']}/submit",
                               headers=auth(world.a, "developer"), json={"comment": "please"})
    assert submit.status_code == 409, submit.text

    sbom = world.client.get(f"/api/v1/apps/{APP}/versions/{body['version']}/sbom", headers=auth(world.a, "reviewer"))
    assert sbom.status_code == 200 and sbom.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    doc = sbom.json()
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.5"
    assert {c["purl"] for c in doc["components"]} == {"pkg:npm/left-pad@1.1.0", "pkg:npm/%40acme/ui@2.3.4",
                                                      "pkg:npm/mystery@unknown"}
    # the other tenant sees neither the advisories' effect nor the SBOM
    other = world.client.get(f"/api/v1/apps/{APP}/versions/{body['version']}/sbom", headers=auth(world.b, "reviewer"))
    assert other.status_code == 404
    counts = world.client.get("/api/v1/advisories", headers=auth(world.b, "admin")).json()["by_severity"]
    assert counts["critical"] == 0


def test_vant_with_a_planted_advisory_blocks_until_a_reviewer_overrides(world: World, app: str, tmp_path: Path) -> None:
    from tests.components.vant import VANT_VERSION, build_vant_project

    root = build_vant_project(tmp_path / "vant", {"button": "<van-button>ok</van-button>"})
    (root / "package-lock.json").write_text(json.dumps({"lockfileVersion": 3, "packages": {
        "node_modules/@vant/weapp": {"version": VANT_VERSION, "license": "MIT"}}}))
    pkgs = {p.name: p for p in scan(root)}
    assert pkgs["@vant/weapp"].version == VANT_VERSION and len(pkgs["@vant/weapp"].files) > 300
    r = import_feed(world, [osv_record("GHSA-vant-planted", "@vant/weapp",
                                       [{"introduced": "1.0.0"}, {"fixed": "1.11.8"}], "CRITICAL")])
    assert r.status_code == 200, r.text
    res = upload(world, root)
    body = res.json()
    assert res.status_code == 201 and body["status"] == "check_failed", res.text
    [vuln] = [f for f in body["report"]["findings"] if f["rule"] == "deps.vulnerable"]
    assert "GHSA-vant-planted" in vuln["message"] and vuln["severity"] == "error"
    path = f"/api/v1/apps/{APP}/versions/{body['version']}"
    # a developer cannot override; a reviewer can, with a reason, and the finding stays on record
    assert world.client.post(f"{path}/override-advisories", headers=auth(world.a, "developer"),
                             json={"reason": "accepted by the bank"}).status_code == 403
    short = world.client.post(f"{path}/override-advisories", headers=auth(world.a, "reviewer"), json={"reason": "ok"})
    assert short.status_code == 422
    ok = world.client.post(f"{path}/override-advisories", headers=auth(world.a, "reviewer"),
                           json={"reason": "not reachable: the affected component is not used"})
    assert ok.status_code == 200 and ok.json()["status"] == "checked", ok.text
    report = world.client.get(path, headers=auth(world.a, "reviewer")).json()["report"]
    [kept] = [f for f in report["findings"] if f["rule"] == "deps.vulnerable"]
    assert kept["overridden"] and report["overrides"][0]["reason"].startswith("not reachable")
    submit = world.client.post(f"{path}/submit", headers=auth(world.a, "developer"), json={"comment": "go"})
    assert submit.status_code == 200, submit.text
