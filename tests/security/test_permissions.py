"""PRV-01..08, BRG-07: scopes, consent prompts, privacy agreement, API allowlists, audit chain."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minibox.apis.audit_log import AuditLog, AuditTampered
from minibox.apis.storage import owner_of
from minibox.policy import AppGrants
from minibox.policy.permissions import ConsentRequest, PrivacyRequest

LOC_APP = {"requiredPrivateInfos": ["getLocation", "chooseLocation", "getFuzzyLocation"],
           "permission": {"scope.userLocation": {"desc": "to find branches"},
                          "scope.userFuzzyLocation": {"desc": "city"}}}
REQUIRED_MSG = "getLocation:fail the api need to be declared in the requiredPrivateInfos field in app.json/ext.json"


class Provider:
    def __init__(self) -> None:
        self.calls = 0

    def current(self, ctx: Any, coord_type: str) -> dict[str, Any]:
        self.calls += 1
        return {"latitude": 31.23456, "longitude": 121.47371, "accuracy": 10, "type": coord_type}

    def choose(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any] | None:
        self.calls += 1
        return None if args.get("latitude") == 0 else {"name": "Branch", "address": "1 Rd", "latitude": 1,
                                                       "longitude": 2}


@pytest.fixture
def loc(make_instance):
    def make(app: str = "wxapp_a", user: str = "u1", **kw: Any):
        p = Provider()
        kw.setdefault("app_json", LOC_APP)
        inst = make_instance(app, user, location_provider=p, **kw)
        inst.provider = p
        return inst
    return make


def test_prv01_undeclared_location_api_fails_with_wechat_string(loc):
    inst = loc(app_json={"permission": LOC_APP["permission"]})
    assert inst.fail("getLocation", {"type": "wgs84"}).err_msg == REQUIRED_MSG
    assert inst.provider.calls == 0 and inst.prompts == []
    ev = inst.services.audit.entries(event="policy.denied")
    assert ev[-1]["rule"] == "requiredPrivateInfos" and ev[-1]["api"] == "getLocation"


def test_granted_flow_prompts_privacy_then_scope_once(loc):
    inst = loc()
    r = inst.call("getLocation", {"type": "gcj02"})
    assert r["latitude"] == 31.23456 and r["errMsg"] == "getLocation:ok"
    assert [type(p) for p in inst.prompts] == [PrivacyRequest, ConsentRequest]
    assert inst.prompts[0].referrer == "getLocation"
    assert inst.prompts[1].scope == "scope.userLocation" and inst.prompts[1].description == "to find branches"
    inst.call("getLocation")
    assert len(inst.prompts) == 2
    assert inst.call("getSetting")["authSetting"] == {"scope.userLocation": True}
    events = [e["event"] for e in inst.services.audit.entries()]
    assert events == ["consent.privacy", "consent.scope"]
    assert inst.services.audit.verify() == 2


def test_prv02_privacy_disagree_fails_and_is_asked_again(loc):
    inst = loc(privacy="disagree")
    err = inst.fail("getLocation")
    assert err.err_msg == "getLocation:fail privacy permission is not authorized" and err.errno == 104
    assert inst.provider.calls == 0 and len(inst.prompts) == 1
    inst.fail("getLocation")
    assert len(inst.prompts) == 2  # disagreement is not remembered, WeChat asks again
    assert inst.call("getPrivacySetting")["needAuthorization"] is True


def test_prv02_api_not_declared_in_privacy_guide_disabled(loc):
    inst = loc(grants=AppGrants(privacy_declared=frozenset({"chooseLocation"})))
    err = inst.fail("getLocation")
    assert err.err_msg == "getLocation:fail api scope is not declared in the privacy agreement" and err.errno == 112
    assert inst.prompts == []


def test_prv03_js_cannot_agree_on_its_own(loc):
    inst = loc(privacy="disagree")
    err = inst.fail("requirePrivacyAuthorize", {"event": "agree", "buttonId": "agree-btn"})
    assert err.err_msg == "requirePrivacyAuthorize:fail privacy permission is not authorized"
    assert inst.fail("privacyAuthorizeResolve", {"event": "agree"}).err_msg.endswith("api not found")
    assert inst.call("getPrivacySetting")["needAuthorization"] is True
    inst.call("onNeedPrivacyAuthorization")
    assert inst.call("getPrivacySetting")["needAuthorization"] is True


def test_privacy_setting_and_require(loc):
    inst = loc(grants=AppGrants(privacy_contract_name="《Bank Privacy Guide》"))
    assert inst.call("getPrivacySetting") == {"needAuthorization": True,
                                              "privacyContractName": "《Bank Privacy Guide》",
                                              "errMsg": "getPrivacySetting:ok"}
    inst.call("requirePrivacyAuthorize")
    assert inst.call("getPrivacySetting")["needAuthorization"] is False
    inst.call("openPrivacyContract")


def test_prv04_refused_scope_fails_without_prompt_until_open_setting(loc):
    inst = loc(consent=False)
    assert inst.fail("getLocation").err_msg == "getLocation:fail auth deny"
    n = len(inst.prompts)
    for _ in range(5):
        assert inst.fail("getLocation").err_msg == "getLocation:fail auth deny"
        assert inst.fail("authorize", {"scope": "scope.userLocation"}).err_msg == "authorize:fail auth deny"
    assert len(inst.prompts) == n and inst.provider.calls == 0
    inst.services.permissions.settings_callback = lambda cur: {**cur, "scope.userLocation": True,
                                                               "scope.camera": True}
    assert inst.call("openSetting")["authSetting"] == {"scope.userLocation": True}  # cannot add undecided scopes
    assert inst.call("getLocation")["longitude"] == 121.47371
    sources = [e["source"] for e in inst.services.audit.entries(event="consent.scope")]
    assert sources == ["prompt", "openSetting"]


def test_missing_permission_desc(loc):
    inst = loc(app_json={"requiredPrivateInfos": ["getLocation"]})
    assert inst.fail("getLocation").err_msg == "getLocation:fail require permission desc"
    assert not any(isinstance(p, ConsentRequest) for p in inst.prompts)


def test_prv05_consent_is_per_app_and_user_and_cleared_on_delete(loc):
    a = loc("wxapp_a", "u1")
    a.call("getLocation")
    b = loc("wxapp_b", "u1", consent=False)
    assert b.fail("getLocation").err_msg == "getLocation:fail auth deny"
    a2 = loc("wxapp_a", "u2", consent=False)
    assert a2.fail("getLocation").err_msg == "getLocation:fail auth deny"
    assert a.call("getSetting")["authSetting"] == {"scope.userLocation": True}
    a.services.permissions.forget(owner_of(a.ctx))
    assert a.call("getSetting")["authSetting"] == {}
    assert a.call("getPrivacySetting")["needAuthorization"] is True


def test_consent_callback_crash_is_a_refusal(loc):
    def boom(req: Any) -> bool:
        raise RuntimeError("dialog crashed")

    inst = loc(consent=boom)
    assert inst.fail("getLocation").err_msg == "getLocation:fail auth deny"


def test_consent_callback_truthy_non_bool_is_not_consent(loc):
    inst = loc(consent=lambda req: "yes")
    assert inst.fail("getLocation").err_msg == "getLocation:fail auth deny"


@pytest.mark.parametrize("scope", ["scope.userInfo", "scope.address", "scope.invoiceTitle", "scope.invoice",
                                   "scope.werun", "scope.record", "scope.writePhotosAlbum", "scope.camera",
                                   "scope.bluetooth", "scope.userLocationBackground", "scope.phoneNumber"])
def test_authorize_each_scope_persists(make_instance, scope):
    inst = make_instance(app_json={"permission": {scope: {"desc": "why"}}})
    assert inst.call("authorize", {"scope": scope})["errMsg"] == "authorize:ok"
    assert inst.call("getSetting")["authSetting"] == {scope: True}


@pytest.mark.parametrize("scope", ["scope.everything", "scope.userLocation ", "", "userLocation", "scope.bank.x"])
def test_authorize_unknown_scope(make_instance, scope):
    inst = make_instance()
    assert inst.fail("authorize", {"scope": scope}).err_msg == "authorize:fail invalid scope"
    assert inst.prompts == []


def test_brg07_api_denied_for_this_app(loc):
    inst = loc(grants=AppGrants(apis_denied=frozenset({"getLocation", "setStorage"})))
    assert inst.fail("getLocation").err_msg == "getLocation:fail api not permitted"
    assert inst.fail("setStorageSync", {"key": "k", "data": 1}).err_msg == "setStorageSync:fail api not permitted"
    assert inst.provider.calls == 0 and inst.prompts == []
    assert inst.services.audit.entries(event="policy.denied")[-1]["rule"] == "api-denied"
    inst.call("getStorageInfoSync")


def test_brg07_api_allowlist(make_instance):
    inst = make_instance(grants=AppGrants(apis_allowed=frozenset({"getStorage"})))
    with pytest.raises(Exception, match="data not found"):
        inst.call("getStorageSync", {"key": "x"})
    assert inst.fail("setStorageSync", {"key": "k", "data": 1}).err_msg == "setStorageSync:fail api not permitted"
    assert inst.fail("request", {"url": "https://a.com/"}).err_msg == "request:fail api not permitted"


def test_location_variants(loc):
    inst = loc()
    assert inst.call("getFuzzyLocation") == {"latitude": 31.23, "longitude": 121.47, "errMsg": "getFuzzyLocation:ok"}
    assert inst.fail("getLocation", {"type": "bd09"}).err_msg == "getLocation:fail invalid type"
    assert inst.call("chooseLocation", {"latitude": 1})["name"] == "Branch"
    assert inst.fail("chooseLocation", {"latitude": 0}).err_msg == "chooseLocation:fail cancel"


def test_location_without_provider(make_instance):
    inst = make_instance(app_json=LOC_APP)
    assert inst.fail("getLocation").err_msg == "getLocation:fail location unavailable"


def test_prv08_audit_chain_detects_edit_and_delete(loc, tmp_path):
    inst = loc()
    inst.call("getLocation")
    inst.call("authorize", {"scope": "scope.camera"})
    log: AuditLog = inst.services.audit
    assert log.verify() == 3
    lines = log.path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["granted"] = False
    log.path.write_text("\n".join([lines[0], json.dumps(edited), lines[2]]) + "\n")
    with pytest.raises(AuditTampered) as ei:
        log.verify()
    assert ei.value.line == 2
    log.path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with pytest.raises(AuditTampered) as ei:
        log.verify()
    assert ei.value.line == 2


def test_audit_shared_by_several_writers_keeps_one_chain(tmp_path):
    a, b = AuditLog(tmp_path / "a.jsonl", fsync=False), AuditLog(tmp_path / "a.jsonl", fsync=False)
    for i in range(10):
        (a if i % 2 else b).record("x", host="h", app="a", user="u", i=i)
    assert a.verify() == 10 and a.head()[0] == 10


def test_brg04_reading_settings_while_a_dialog_is_open_does_not_block(loc):
    import threading

    opened, decide = threading.Event(), threading.Event()

    def slow_dialog(req: Any) -> bool:
        opened.set()
        decide.wait(10)
        return True

    inst = loc(consent=slow_dialog)
    inst.call("requirePrivacyAuthorize")
    t = threading.Thread(target=lambda: inst.call("getLocation"))
    t.start()
    assert opened.wait(10)
    assert inst.call("getSetting")["authSetting"] == {}  # answered while the dialog is pending
    assert inst.call("getPrivacySetting")["needAuthorization"] is False
    decide.set()
    t.join()
    assert inst.call("getSetting")["authSetting"] == {"scope.userLocation": True}


def test_privacy4_forget_app_removes_storage_files_and_consent(loc):
    from minibox.policy import close_services, forget_app

    a = loc("wxapp_a")
    b = loc("wxapp_b")
    for inst in (a, b):
        inst.call("getLocation")
        inst.call("setStorageSync", {"key": "k", "data": 1})
        inst.call("FileSystemManager.writeFile", {"filePath": "wxfile://usr/f", "data": "x"})
    tmp = a.services.files.create_temp(owner_of(a.ctx), b"t")
    forget_app(a.services, owner_of(a.ctx))
    assert a.call("getSetting")["authSetting"] == {} and a.call("getStorageInfoSync")["keys"] == []
    assert a.call("FileSystemManager.readdir", {"dirPath": "wxfile://usr"})["files"] == []
    assert "no such file" in a.fail("FileSystemManager.readFile", {"filePath": tmp}).err_msg
    assert b.call("getSetting")["authSetting"] == {"scope.userLocation": True}
    assert b.call("getStorageSync", {"key": "k"})["data"] == 1
    assert b.call("FileSystemManager.readdir", {"dirPath": "wxfile://usr"})["files"] == ["f"]
    tmp_b = b.services.files.create_temp(owner_of(b.ctx), b"t")
    close_services(b.services, owner_of(b.ctx))
    assert not any(p.name.startswith("tmp_") for p in (b.services.files.owner_dir(owner_of(b.ctx)) / "tmp").iterdir())
    assert tmp_b
    assert a.services.audit.entries(event="consent.forget")[0]["app"] == "wxapp_a"
