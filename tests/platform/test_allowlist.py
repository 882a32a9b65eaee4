"""Allowlist validation (MGT-08): exact https/wss origins on A-labels; every bad entry names its rule."""

from __future__ import annotations

from typing import Any

import pytest

from minibox.platform.hosts.allowlist import MAX_DOMAINS_PER_LIST, AllowlistRejected, validate_allowlist

from .conftest import World, auth


@pytest.mark.parametrize(("entry", "expected"), [
    ("https://api.bank.example", "https://api.bank.example"),
    ("api.bank.example", "https://api.bank.example"),
    ("HTTPS://API.Bank.Example/", "https://api.bank.example"),
    ("https://api.bank.example.", "https://api.bank.example"),
    ("https://api.bank.example:443", "https://api.bank.example:443"),
    ("https://api.bank.example:8443", "https://api.bank.example:8443"),
    ("https://ｇｏｏｄ.example", "https://good.example"),
    ("https://银行.example", "https://xn--jn2a72x.example"),
])
def test_accepted_and_normalised(entry: str, expected: str) -> None:
    assert validate_allowlist({"request": [entry]})["request"] == [expected]


@pytest.mark.parametrize(("entry", "rule"), [
    ("http://api.bank.example", "scheme"),
    ("wss://api.bank.example", "scheme"),
    ("https://localhost", "hostname"),
    ("https://printer.local", "localhost"),
    ("https://127.0.0.1", "ip_address"),
    ("https://169.254.169.254", "ip_address"),
    ("https://[::ffff:a9fe:a9fe]", "ip_address"),
    ("https://*.com", "wildcard"),
    ("https://*.bank.example", "wildcard"),
    ("https://user:pw@api.bank.example", "userinfo"),
    ("https://api.bank.example/path", "shape"),
    ("https://api.bank.example?q=1", "shape"),
    ("https://api.weixin.qq.com", "forbidden_domain"),
    ("https://аpple.com", "mixed_script"),  # Cyrillic а + Latin
    ("https://xn--pple-43d.com", "mixed_script"),  # the same, as an A-label
    ("https://api.bank.example:99999", "port"),
    ("https://-bad-.example", "hostname"),
    ("https://bank", "hostname"),
])
def test_rejected_with_rule(entry: str, rule: str) -> None:
    with pytest.raises(AllowlistRejected) as e:
        validate_allowlist({"request": [entry]})
    assert e.value.details["rule"] == rule, e.value.message
    assert e.value.details["list"] == "request"


def test_everything_accepted_passes_the_runtime_policy() -> None:
    """MGT-08: the platform and the container agree (the container uses minibox.policy.urlpolicy)."""
    from minibox.policy.urlpolicy import Allowlist

    out = validate_allowlist({"request": ["api.bank.example", "https://ｇｏｏｄ.example:8443"],
                              "socket": ["wss://ws.bank.example"], "uploadFile": ["https://up.bank.example"]})
    Allowlist({k: out[k] for k in ("request", "socket", "uploadFile", "downloadFile")})


def test_socket_needs_wss_and_lists_are_capped() -> None:
    assert validate_allowlist({"socket": ["wss://ws.bank.example"]})["socket"] == ["wss://ws.bank.example"]
    with pytest.raises(AllowlistRejected) as e:
        validate_allowlist({"socket": ["https://ws.bank.example"]})
    assert e.value.details["rule"] == "scheme"
    with pytest.raises(AllowlistRejected) as e:
        validate_allowlist({"request": [f"https://a{i}.example" for i in range(MAX_DOMAINS_PER_LIST + 1)]})
    assert e.value.details["rule"] == "too_many"
    with pytest.raises(AllowlistRejected) as e:
        validate_allowlist({"hostApis": ["bank.transfer", "rm -rf"]})
    assert e.value.details == {"list": "hostApis", "entry": "rm -rf", "rule": "api_name"}


def test_allowlist_over_http(world: World) -> None:
    c, a = world.client, world.a
    assert c.post("/api/v1/apps", headers=auth(a, "admin"), json={"app_id": "al", "name": "AL"}).status_code == 201
    r = c.put("/api/v1/apps/al/allowlist", headers=auth(a, "admin"), json={"request": ["https://169.254.169.254"]})
    assert r.status_code == 422 and r.json()["code"] == "allowlist_rejected"
    assert r.json()["details"]["rule"] == "ip_address"
    r = c.put("/api/v1/apps/al/allowlist", headers=auth(a, "admin"),
              json={"request": ["api.bank.example"], "webView": ["https://h5.bank.example"]})
    assert r.status_code == 200
    assert r.json()["allowlist"]["request"] == ["https://api.bank.example"]
    r = c.put("/api/v1/apps/al/allowlist", headers=auth(a, "developer"), json={})
    assert r.status_code == 403


# ---- watermark template and privacy settings (issue 10) -------------------------------------------------


def test_watermark_and_privacy_are_validated_and_kept() -> None:
    out = validate_allowlist({"watermark": "  {user} · {app} · {date} {time} @{host} ",
                              "privacy": {"scopes": ["scope.userLocation", "scope.camera"], "infos": ["getLocation"]}})
    assert out["watermark"] == "{user} · {app} · {date} {time} @{host}"
    assert out["privacy"] == {"scopes": ["scope.camera", "scope.userLocation"], "infos": ["getLocation"]}
    assert validate_allowlist({"privacy": {}})["privacy"] == {"scopes": [], "infos": []}  # restricted to nothing
    plain = validate_allowlist({"watermark": "", "privacy": None})
    assert "watermark" not in plain and "privacy" not in plain  # empty: no watermark, not restricted


@pytest.mark.parametrize(("raw", "field", "rule", "says"), [
    ({"watermark": "{user} {secret}"}, "watermark", "placeholder", "{secret}"),
    ({"watermark": "{user.__class__}"}, "watermark", "placeholder", "{user.__class__}"),
    ({"watermark": "{0}"}, "watermark", "placeholder", "{0}"),
    ({"watermark": "{user"}, "watermark", "placeholder", "unbalanced"),
    ({"watermark": "x" * 121}, "watermark", "too_long", "120"),
    ({"watermark": "<b>{user}</b>"}, "watermark", "plain_text", "plain text"),
    ({"watermark": "a\u202eb"}, "watermark", "plain_text", "U+202E"),
    ({"watermark": 42}, "watermark", "shape", "text"),
    ({"privacy": {"scopes": ["scope.userLocation", "scope.contacts"]}}, "privacy.scopes", "unknown_scope",
     "scope.contacts"),
    ({"privacy": {"infos": ["getPhoneNumber"]}}, "privacy.infos", "unknown_info", "getPhoneNumber"),
    ({"privacy": {"scopes": "scope.userLocation"}}, "privacy.scopes", "shape", "list"),
    ({"privacy": {"apis": []}}, "privacy.apis", "unknown_key", "scopes"),
    ({"privacy": ["scope.userLocation"]}, "privacy", "shape", "object"),
])
def test_bad_watermark_and_privacy_name_the_field(raw: dict, field: str, rule: str, says: str) -> None:
    with pytest.raises(AllowlistRejected) as e:
        validate_allowlist(raw)
    assert e.value.details["list"] == field and e.value.details["rule"] == rule, e.value.message
    assert e.value.message.startswith(f"{field}:") and says in e.value.message


def test_watermark_and_privacy_over_http(world: World) -> None:
    c, a = world.client, world.a
    assert c.post("/api/v1/apps", headers=auth(a, "admin"), json={"app_id": "wm", "name": "WM"}).status_code == 201
    r = c.put("/api/v1/apps/wm/allowlist", headers=auth(a, "admin"), json={"watermark": "{user} {phone}"})
    assert r.status_code == 422 and r.json()["code"] == "allowlist_rejected"
    assert r.json()["details"] == {"list": "watermark", "entry": "{user} {phone}", "rule": "placeholder"}
    assert "watermark" in r.json()["message"] and "{phone}" in r.json()["message"]
    r = c.put("/api/v1/apps/wm/allowlist", headers=auth(a, "admin"),
              json={"privacy": {"scopes": ["scope.userLocation", "scope.nope"]}})
    assert r.status_code == 422 and r.json()["details"]["list"] == "privacy.scopes"
    assert "privacy.scopes" in r.json()["message"] and "scope.nope" in r.json()["message"]
    r = c.put("/api/v1/apps/wm/allowlist", headers=auth(a, "admin"), json={"privacy": {"scopes": [], "other": []}})
    assert r.status_code == 422  # unknown keys are refused by the schema too
    assert c.get("/api/v1/apps/wm", headers=auth(a, "admin")).json()["allowlist"].get("watermark") is None
    r = c.put("/api/v1/apps/wm/allowlist", headers=auth(a, "admin"), json={
        "request": ["api.bank.example"], "dataForms": {"phone": "masked"}, "watermark": "{user} · {app} · {date}",
        "privacy": {"scopes": ["scope.userLocation"], "infos": ["getLocation"]}})
    assert r.status_code == 200, r.text
    got = r.json()["allowlist"]
    assert got["watermark"] == "{user} · {app} · {date}" and got["dataForms"]["phone"] == "masked"
    assert got["privacy"] == {"scopes": ["scope.userLocation"], "infos": ["getLocation"]}


def test_upload_checks_warn_about_scopes_and_infos_not_granted(world: World, tmp_path: Any) -> None:
    from .conftest import project_zip

    c, a = world.client, world.a
    assert c.post("/api/v1/apps", headers=auth(a, "admin"), json={"app_id": "pv", "name": "PV"}).status_code == 201
    assert c.post("/api/v1/apps/pv/members", headers=auth(a, "admin"),
                  json={"user_id": a.users["developer"].user_id}).status_code == 201
    app_json = {"pages": ["pages/index/index"], "requiredPrivateInfos": ["getLocation", "chooseAddress"],
                "permission": {"scope.userLocation": {"desc": "find a branch"}}}
    logic = ("wx.getLocation({ type: 'gcj02' })\nwx.chooseAddress({})\n"
             "wx.authorize({ scope: 'scope.record' })\nwx.saveImageToPhotosAlbum({ filePath: 'x' })\n")
    extra = {"pages/index/index.wxml": '<button open-type="getPhoneNumber">phone</button>\n'}

    def upload(version: str) -> list[dict[str, Any]]:
        r = c.post("/api/v1/apps/pv/versions", headers=auth(a, "developer"), data={"version": version, "kind": "source"},
                   files={"file": ("up.zip", project_zip(tmp_path, logic=logic, app_json=app_json, extra=extra),
                                   "application/octet-stream")})
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "checked", r.json()["report"]  # warnings only: submission is not blocked
        return [f for f in r.json()["report"]["findings"] if f["rule"].startswith("privacy.")]

    assert upload("1.0.0") == []  # no privacy settings: the platform does not restrict the app
    r = c.put("/api/v1/apps/pv/allowlist", headers=auth(a, "admin"),
              json={"privacy": {"scopes": ["scope.userLocation"], "infos": ["getLocation"]}})
    assert r.status_code == 200
    found = upload("1.0.1")
    got = {(f["rule"], f["file"], f["line"]) for f in found}
    assert all(f["severity"] == "warning" for f in found)
    assert ("privacy.info_not_granted", "app.json", None) in got  # chooseAddress declared in app.json
    assert ("privacy.info_not_granted", "pages/index/index.js", 3) in got  # wx.chooseAddress
    assert ("privacy.scope_not_granted", "pages/index/index.js", 3) in got  # chooseAddress needs scope.address
    assert ("privacy.scope_not_granted", "pages/index/index.js", 4) in got  # 'scope.record'
    assert ("privacy.scope_not_granted", "pages/index/index.js", 5) in got  # saveImageToPhotosAlbum
    assert ("privacy.scope_not_granted", "pages/index/index.wxml", 1) in got  # getPhoneNumber button
    assert not any("getLocation" in f["message"] or "scope.userLocation" in f["message"] for f in found)


def test_retention_is_validated_and_kept() -> None:
    out = validate_allowlist({"retention": {"storageDays": 30, "fileDays": 7}})
    assert out["retention"] == {"storageDays": 30, "fileDays": 7}
    assert "retention" not in validate_allowlist({})
    for bad in ({"storageDays": 0}, {"fileDays": 4000}, {"storageDays": "30"}, {"keepForever": 1}, ["30"]):
        with pytest.raises(AllowlistRejected) as info:
            validate_allowlist({"retention": bad})
        assert info.value.details["list"] == "retention"
