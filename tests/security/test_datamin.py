"""Data minimisation: a mini-program gets a per-app pseudonym, a masked or relay phone number and a
coarse location, as the platform's allowlist (`dataForms`) grants; the bank maps relay numbers back."""

from __future__ import annotations

from pathlib import Path

import pytest

from minibox.apis.userdata import RedeemError
from minibox.host import Host, HostConfig
from minibox.host.host import grants_from_allowlist
from minibox.policy import AppGrants
from minibox.policy.datamin import DataFormError, DataForms, coarsen, mask_phone, pseudonym
from minibox.testing import launch

APP, OTHER = "wxdata00000000000", "wxdata11111111111"
PAGE = """
Page({
  data: { out: [] },
  push(x) { this.setData({ out: this.data.out.concat([x]) }) },
  where() { wx.getLocation({ success: (r) => this.push(['loc', r.latitude, r.longitude, r.accuracy]),
                              fail: (e) => this.push(['loc', e.errMsg]) }) },
  phone(e) { this.push(['phone', e.detail.errMsg, typeof e.detail.code, 'phoneNumber' in e.detail]) },
  login() { wx.login({ success: (r) => this.push(['login', r.code]) }) },
})
"""
WXML = '<button id="b" open-type="getPhoneNumber" bindgetphonenumber="phone">phone</button>'
APP_JSON = {"pages": ["pages/p/p"], "permission": {"scope.userLocation": {"desc": "branches near you"}},
            "requiredPrivateInfos": ["getLocation"]}


class Provider:
    def current(self, ctx, coord: str) -> dict:
        return {"latitude": 31.230416, "longitude": 121.473701, "accuracy": 5}


@pytest.fixture
def project(make_project) -> Path:
    return make_project({"app.json": APP_JSON, "pages/p/p.wxml": WXML, "pages/p/p.js": PAGE})


def make_host(tmp_path: Path, **kw) -> Host:
    return Host(HostConfig(data_dir=tmp_path, consent=lambda r: True, privacy=lambda r: "agree",
                           location_provider=Provider(), phone_provider=lambda user: "13812345678", **kw))


def run(host: Host, project: Path, forms: DataForms, app: str = APP) -> list:
    host.grants[app] = AppGrants(data_forms=forms)
    with launch(project, host=host, app_id=app, user="alice") as mp:
        page = mp.current_page
        page.call_method("where")
        page.call_method("login")
        mp.wait_idle()
        page.query_selector("#b").tap()
        mp.wait_idle()
        return page.data["out"]


def test_pure_functions() -> None:
    assert mask_phone("+86 138-1234-5678") == "861******5678"
    assert mask_phone("13812345678") == "138****5678"
    a = pseudonym(b"s" * 32, APP, "alice")
    assert a == pseudonym(b"s" * 32, APP, "alice") and a != pseudonym(b"s" * 32, OTHER, "alice")
    assert a.startswith("o") and len(a) == 28 and "alice" not in a
    cell = coarsen(31.230416, 121.473701, 0.05)
    assert cell["latitude"] == 31.225 and cell["longitude"] == 121.475 and cell["accuracy"] > 3000
    with pytest.raises(DataFormError, match=r"dataForms\.phone"):
        DataForms.parse({"phone": "everything"})
    with pytest.raises(DataFormError, match="unknown keys"):
        DataForms.parse({"email": "real"})
    # a signed allowlist the container cannot read leaves the most restrictive forms
    assert grants_from_allowlist({"dataForms": {"phone": "bogus"}}).data_forms == DataForms()
    assert grants_from_allowlist({"dataForms": {"phone": "virtual"}}).data_forms.phone == "virtual"


def test_defaults_are_minimal(tmp_path: Path, project: Path) -> None:
    host = make_host(tmp_path)
    try:
        out = run(host, project, DataForms())
    finally:
        host.close()
    loc = next(x for x in out if x[0] == "loc")
    assert loc[1:3] == [31.225, 121.475]  # a 5 km cell, not the user's coordinates
    assert ["phone", "getPhoneNumber:fail no permission", "undefined", False] in out


@pytest.mark.parametrize("form", ["masked", "virtual", "real"])
def test_phone_codes_redeem_to_the_granted_form(tmp_path: Path, project: Path, form: str) -> None:
    host = make_host(tmp_path)
    try:
        host.grants[APP] = AppGrants(data_forms=DataForms(phone=form, location="precise"))
        with launch(project, host=host, app_id=APP, user="alice") as mp:
            page = mp.current_page
            page.call_method("where")
            mp.wait_idle()
            page.query_selector("#b").tap()
            mp.wait_idle()
            out = page.data["out"]
            code = mp.instance.services.extra["userdata"]._phone_codes  # one open code, never the number
            assert len(code) == 1
            [(the_code, _)] = code.items()
        assert ["loc", 31.230416, 121.473701, 5] in out
        assert ["phone", "getPhoneNumber:ok", "string", False] in out
        with pytest.raises(RedeemError):
            host.userdata.redeem_phone(the_code, OTHER)  # another app's server cannot redeem it
        got = host.userdata.redeem_phone(the_code, APP)
        with pytest.raises(RedeemError):
            host.userdata.redeem_phone(the_code, APP)  # once only
        number = got["phoneNumber"]
        if form == "masked":
            assert number == "138****5678"
        elif form == "real":
            assert number == "13812345678"
        else:
            assert number != "13812345678" and number.startswith("170") and len(number) == 11
            assert host.relay.resolve(number) == (APP, "alice", "13812345678")  # the bank maps it back
            assert host.relay.number_for(APP, "alice", "13812345678") == number  # stable per app and user
            assert host.relay.number_for(OTHER, "alice", "13812345678") != number
    finally:
        host.close()


def test_login_identity_is_a_per_app_pseudonym_unless_granted(tmp_path: Path, project: Path) -> None:
    host = make_host(tmp_path)
    try:
        ids = {}
        for app, forms in ((APP, DataForms()), (OTHER, DataForms()), ("wxbankown00000000", DataForms(identity="host"))):
            out = run(host, project, forms, app)
            code = next(x[1] for x in out if x[0] == "login")
            ids[app] = host.userdata.redeem_login(code, app)["openid"]
            with pytest.raises(RedeemError):
                host.userdata.redeem_login(code, "wxsomeoneelse0000")
    finally:
        host.close()
    assert ids[APP] != ids[OTHER] and "alice" not in ids[APP] + ids[OTHER]
    assert ids["wxbankown00000000"] == "alice"


def test_city_form_uses_the_host_resolver(tmp_path: Path, project: Path) -> None:
    host = make_host(tmp_path, city_resolver=lambda lat, lon: {"city": "上海", "latitude": 31.2, "longitude": 121.5})
    try:
        out = run(host, project, DataForms(location="city"))
    finally:
        host.close()
    assert next(x for x in out if x[0] == "loc")[1:3] == [31.2, 121.5]
