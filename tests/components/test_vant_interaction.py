"""@vant/weapp, unmodified, driven like a person would: taps and input on the components a bank app
uses most, with their events reaching the page in WeChat's shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from minibox.testing import MiniProgram, launch

RECORDER = """function plain(d) { try { return JSON.parse(JSON.stringify(d)) } catch (e) { return { keys: Object.keys(d) } } }
Page({ data: Object.assign({ events: [] }, %s),
  rec(e) { this.setData({ events: this.data.events.concat([{ type: e.type, detail: plain(e.detail),
    target: e.target && e.target.id, current: e.currentTarget && e.currentTarget.id }]) }) },
  set(d) { this.setData(d) } %s })"""


def page(data: str = "{}", extra: str = "") -> str:
    return RECORDER % (data, ("," + extra) if extra else "")


USING = {name: name for name in [
    "button", "cell", "cell-group", "field", "checkbox", "checkbox-group", "radio", "radio-group", "switch",
    "stepper", "dialog", "popup", "toast", "tabs", "tab", "collapse", "collapse-item", "search", "picker",
    "datetime-picker"]}
USING = {f"van-{k}": v for k, v in USING.items()}

PAGES = {
    "button": "<van-button id='b' type='primary' bind:click='rec'>Pay</van-button>"
              "<van-button id='off' disabled bind:click='rec'>No</van-button>",
    "cell": "<van-cell-group><van-cell id='c' title='Balance' value='100.00' label='CNY' is-link bind:click='rec'/></van-cell-group>",
    "field": "<van-field id='f' label='Amount' value='{{amount}}' placeholder='0.00' clearable bind:change='rec' bind:input='rec'/>",
    "checkbox": "<van-checkbox id='cb' value='{{agreed}}' bind:change='onAgree'>I agree</van-checkbox>"
                "<van-checkbox-group id='g' value='{{picked}}' bind:change='onPick'>"
                "<van-checkbox name='a'>A</van-checkbox><van-checkbox name='b'>B</van-checkbox></van-checkbox-group>",
    "radio": "<van-radio-group id='rg' value='{{acct}}' bind:change='onAcct'>"
             "<van-radio name='1'>Checking</van-radio><van-radio name='2'>Savings</van-radio></van-radio-group>",
    "switch": "<van-switch id='s' checked='{{on}}' bind:change='onSwitch'/>",
    "stepper": "<van-stepper id='st' value='{{n}}' min='1' max='3' bind:change='onStep' bind:plus='rec' bind:overlimit='rec'/>",
    "dialog": "<van-dialog id='d' show='{{show}}' title='Confirm' message='Send 10.00?' show-cancel-button "
              "bind:confirm='rec' bind:cancel='rec' bind:close='rec'/>",
    "popup": "<van-popup id='p' show='{{show}}' position='bottom' bind:click-overlay='rec' bind:close='onClose'>"
             "<view class='sheet'>Sheet</view></van-popup>",
    "toast": "<van-toast id='van-toast'/>",
    "tabs": "<van-tabs id='t' active='{{active}}' bind:change='rec'><van-tab title='In' name='in'>incoming</van-tab>"
            "<van-tab title='Out' name='out'>outgoing</van-tab></van-tabs>",
    "collapse": "<van-collapse id='co' value='{{open}}' bind:change='onOpen'><van-collapse-item title='Fees' name='fees'>"
                "none</van-collapse-item><van-collapse-item title='Limits' name='limits'>5000</van-collapse-item></van-collapse>",
    "search": "<van-search id='se' value='{{q}}' placeholder='Search payee' bind:change='rec' bind:search='rec'/>",
    "picker": "<van-picker id='pk' show-toolbar title='Currency' columns='{{cur}}' bind:confirm='rec' bind:change='rec'/>",
    "form": "<form bindsubmit='rec'><van-field id='amt' name='amount' label='Amount' value='1'/>"
            "<van-button id='send' form-type='submit'>Send</van-button></form>",
    "datetime-picker": "<van-datetime-picker id='dt' type='date' value='{{ts}}' min-date='{{min}}' bind:confirm='rec'/>",
}

SCRIPTS = {
    "button": page(), "cell": page(), "field": page("{amount: ''}"),
    "checkbox": page("{agreed: false, picked: []}",
                     "onAgree(e) { this.rec(e); this.setData({ agreed: e.detail }) },"
                     "onPick(e) { this.rec(e); this.setData({ picked: e.detail }) }"),
    "radio": page("{acct: '1'}", "onAcct(e) { this.rec(e); this.setData({ acct: e.detail }) }"),
    "switch": page("{on: false}", "onSwitch(e) { this.rec(e); this.setData({ on: e.detail }) }"),
    "stepper": page("{n: 1}", "onStep(e) { this.rec(e) }"),
    "dialog": page("{show: true}"),
    "popup": page("{show: true}", "onClose(e) { this.rec(e); this.setData({ show: false }) }"),
    "toast": "const Toast = require('../../miniprogram_npm/@vant/weapp/toast/toast').default;\n"
             + page("{}", "say() { Toast({ message: 'Saved', duration: 0, selector: '#van-toast', context: this }) }"),
    "tabs": page("{active: 0}"),
    "collapse": page("{open: []}", "onOpen(e) { this.rec(e); this.setData({ open: e.detail }) }"),
    "search": page("{q: ''}"),
    "picker": page("{cur: ['CNY', 'USD', 'EUR']}"),
    "form": page(),
    "datetime-picker": page("{ts: 1700000000000, min: 946684800000}"),
}


@pytest.fixture(scope="module")
def bank_project(vant_project) -> Path:
    return vant_project(PAGES, using=USING, scripts=SCRIPTS)


def open_page(mp: MiniProgram, name: str):
    r = mp.relaunch(f"/pages/{name}/index")
    assert r["errMsg"] == "reLaunch:ok"
    mp.advance(100)  # vant's requestAnimationFrame is a 33 ms timer
    return mp.current_page


def events(p) -> list[dict]:
    return p.data["events"]


@pytest.fixture(scope="module")
def mp(bank_project: Path):
    with launch(bank_project, path="pages/button/index") as running:
        yield running


def test_button(mp) -> None:
    p = open_page(mp, "button")
    p.query_selector("#b button").tap()
    ev = events(p)
    assert len(ev) == 1 and ev[0]["type"] == "click" and ev[0]["current"] == "b"
    assert ev[0]["detail"]["type"] == "tap"  # vant passes the tap event on as the detail
    p.query_selector("#off button").tap()  # disabled: no handler bound
    assert len(events(p)) == 1
    assert "van-button--primary" in p.query_selector("#b button").classes
    assert mp.errors == []


def test_cell(mp) -> None:
    p = open_page(mp, "cell")
    assert "Balance" in p.query_selector("#c").text and "100.00" in p.query_selector("#c").text
    p.query_selector("#c .van-cell").tap()
    assert events(p) == [{"type": "click", "detail": {"x": 1, "y": 1}, "target": "c", "current": "c"}]


def test_field_input(mp) -> None:
    p = open_page(mp, "field")
    p.query_selector("#f input").input("12.5")
    mp.advance(50)
    ev = events(p)
    assert [e["type"] for e in ev] == ["input", "change"]
    assert all(e["detail"] == "12.5" for e in ev)
    assert p.query_selector("#f").data["value"] == "12.5"


def test_checkbox_and_group(mp) -> None:
    p = open_page(mp, "checkbox")
    p.query_selector("#cb .van-checkbox__icon-wrap").tap()
    assert events(p)[-1] == {"type": "change", "detail": True, "target": "cb", "current": "cb"}
    assert "van-checkbox__icon--checked" in p.query_selector("#cb .van-checkbox__icon").classes
    p.query_selector("#cb .van-checkbox__icon-wrap").tap()
    assert events(p)[-1]["detail"] is False
    boxes = p.query_selector_all("#g van-checkbox")
    boxes[1].query_selector(".van-checkbox__icon-wrap").tap()
    boxes[0].query_selector(".van-checkbox__icon-wrap").tap()
    assert events(p)[-1] == {"type": "change", "detail": ["b", "a"], "target": "g", "current": "g"}


def test_radio_group(mp) -> None:
    p = open_page(mp, "radio")
    radios = p.query_selector_all("van-radio")
    radios[1].query_selector(".van-radio__icon-wrap").tap()
    assert events(p)[-1] == {"type": "change", "detail": "2", "target": "rg", "current": "rg"}
    assert "van-radio__icon--checked" in radios[1].query_selector(".van-radio__icon").classes
    assert "van-radio__icon--checked" not in radios[0].query_selector(".van-radio__icon").classes


def test_switch(mp) -> None:
    p = open_page(mp, "switch")
    p.query_selector("#s .van-switch").tap()
    assert events(p) == [{"type": "change", "detail": True, "target": "s", "current": "s"}]
    assert "van-switch--on" in p.query_selector("#s .van-switch").classes


def test_stepper(mp) -> None:
    p = open_page(mp, "stepper")
    plus = p.query_selector("#st .van-stepper__plus")
    # only the tap: Element.tap() lets timers run between touchstart and touchend, which vant's
    # stepper reads as a long press (600 ms)
    plus.trigger("tap", {"x": 1, "y": 1})
    plus.trigger("tap", {"x": 1, "y": 1})
    types = [(e["type"], e["detail"]) for e in events(p)]
    assert types[:4] == [("change", 2), ("plus", {}), ("change", 3), ("plus", {})]
    assert p.query_selector("#st input").attr("value") in (3, "3")
    p.query_selector("#st .van-stepper__plus").trigger("tap", {"x": 1, "y": 1})  # at max: overlimit
    assert events(p)[-1]["type"] == "overlimit" and events(p)[-1]["detail"] == "plus"


def test_dialog(mp) -> None:
    p = open_page(mp, "dialog")
    assert "Send 10.00?" in p.query_selector("#d").text
    p.query_selector("#d button.van-dialog__confirm").tap()
    mp.advance(400)
    types = [e["type"] for e in events(p)]
    assert types[0] == "confirm" and "close" in types
    assert events(p)[types.index("close")]["detail"] == "confirm"


def test_popup_overlay(mp) -> None:
    p = open_page(mp, "popup")
    assert p.query_selector(".sheet").text == "Sheet"
    p.query_selector("#p van-overlay .van-overlay").tap()
    assert [e["type"] for e in events(p)] == ["click-overlay", "close"]
    mp.advance(400)
    assert p.data["show"] is False


def test_toast_api(mp) -> None:
    p = open_page(mp, "toast")
    p.call_method("say")
    mp.advance(100)
    assert "Saved" in p.query_selector("#van-toast").text


def test_tabs(mp) -> None:
    p = open_page(mp, "tabs")
    titles = p.query_selector_all("#t .van-tab")
    assert [t.text.strip() for t in titles] == ["In", "Out"]
    titles[1].tap()
    ev = events(p)[-1]
    assert ev["type"] == "change" and ev["detail"]["index"] == 1 and ev["detail"]["name"] == "out"
    assert ev["detail"]["title"] == "Out"


def test_collapse(mp) -> None:
    p = open_page(mp, "collapse")
    items = p.query_selector_all("van-collapse-item")
    items[1].query_selector(".van-cell").tap()
    assert events(p)[-1] == {"type": "change", "detail": ["limits"], "target": "co", "current": "co"}
    mp.advance(400)
    assert p.query_selector_all("van-collapse-item")[1].data["expanded"] is True


def test_search(mp) -> None:
    p = open_page(mp, "search")
    box = p.query_selector("#se input")
    box.input("alice")
    mp.advance(50)
    assert events(p)[-1] == {"type": "change", "detail": "alice", "target": "se", "current": "se"}
    box.confirm()  # the keyboard's search key: the view reports the text it holds
    assert events(p)[-1]["type"] == "search" and events(p)[-1]["detail"] == "alice"


def test_picker_confirm(mp) -> None:
    p = open_page(mp, "picker")
    assert [e.text for e in p.query_selector_all("#pk .van-picker-column__item")] == ["CNY", "USD", "EUR"]
    p.query_selector("#pk .van-picker__confirm").tap()
    ev = events(p)[-1]
    assert ev["type"] == "confirm" and ev["detail"] == {"value": "CNY", "index": 0}


def test_datetime_picker_confirm(mp) -> None:
    p = open_page(mp, "datetime-picker")
    p.query_selector("#dt .van-picker__confirm").tap()
    ev = events(p)[-1]
    assert ev["type"] == "confirm"
    assert isinstance(ev["detail"], int) and ev["detail"] <= 1700000000000
    assert mp.errors == []


def test_form_with_vant_field_and_submit_button(mp) -> None:
    p = open_page(mp, "form")
    p.query_selector("#amt input").input("250")
    mp.advance(50)
    p.query_selector("#send button").tap()
    ev = events(p)[-1]
    assert ev["type"] == "submit" and ev["detail"]["value"] == {"amount": "250"}
