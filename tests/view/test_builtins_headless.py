"""Built-in component semantics in the sandbox (framework/08_builtins.js), driven headlessly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from minibox.testing import MiniProgram, launch

from .conftest import PROJECTS


@pytest.fixture(scope="module")
def mp() -> Iterator[MiniProgram]:
    with launch(PROJECTS / "widgets") as m:
        yield m


@pytest.fixture(autouse=True)
def _fresh(mp: MiniProgram) -> None:
    mp.relaunch("/pages/index/index")
    mp.current_page.set_data({"events": []})


def _events(mp: MiniProgram, type_: str) -> list[dict]:
    return [e for e in mp.current_page.data["events"] if e["type"] == type_]


def test_switch_tap_toggles_and_sends_change(mp: MiniProgram) -> None:
    sw = mp.current_page.query_selector("#sw")
    sw.tap()
    assert sw.attr("checked") is True
    assert _events(mp, "change")[-1] == {"type": "change", "detail": {"value": True}, "id": "sw", "dataset": {}}
    sw.tap()
    assert _events(mp, "change")[-1]["detail"] == {"value": False}


def test_checkbox_group_change_lists_checked_values(mp: MiniProgram) -> None:
    mp.current_page.query_selector("#cb-a").tap()
    assert _events(mp, "change")[-1] == {"type": "change", "detail": {"value": ["apple", "banana"]}, "id": "cg", "dataset": {}}
    mp.current_page.query_selector("#cb-b").tap()
    assert _events(mp, "change")[-1]["detail"] == {"value": ["apple"]}


def test_label_forwards_tap_to_its_checkbox(mp: MiniProgram) -> None:
    label = mp.current_page.query_selector("#cg label")
    label.tap()
    assert mp.current_page.query_selector("#cb-a").attr("checked") is True
    assert _events(mp, "change")[-1]["detail"] == {"value": ["apple", "banana"]}


def test_radio_group_selects_one(mp: MiniProgram) -> None:
    page = mp.current_page
    page.query_selector("#r-s").tap()
    page.query_selector("#r-m").tap()
    assert page.query_selector("#r-s").attr("checked") is False
    assert page.query_selector("#r-m").attr("checked") is True
    assert [e["detail"] for e in _events(mp, "change") if e["id"] == "rg"] == [{"value": "S"}, {"value": "M"}]
    page.query_selector("#r-m").tap()  # tapping the selected radio changes nothing
    assert len([e for e in _events(mp, "change") if e["id"] == "rg"]) == 2


def test_form_submit_collects_named_fields(mp: MiniProgram) -> None:
    page = mp.current_page
    page.query_selector("#name").input("ann")
    page.query_selector("#sw").tap()
    page.query_selector("#r-m").tap()
    page.query_selector("#submit").tap()
    submit = _events(mp, "submit")[-1]
    assert submit["id"] == "form"
    assert submit["detail"]["value"] == {
        "name": "ANN", "pwd": "", "note": "", "agree": True, "fruits": ["banana"], "size": "M",
        "volume": 20, "city": 0,
    }


def test_form_reset_clears_fields(mp: MiniProgram) -> None:
    page = mp.current_page
    page.query_selector("#name").input("bob")
    page.query_selector("#sw").tap()
    page.query_selector("#reset").tap()
    assert _events(mp, "reset")[-1] == {"type": "reset", "detail": {}, "id": "form", "dataset": {}}
    assert page.query_selector("#name").value == ""
    assert page.query_selector("#sw").attr("checked") is False


def test_input_value_replaced_by_handler_return(mp: MiniProgram) -> None:
    el = mp.current_page.query_selector("#name")
    el.input("abc")
    assert el.value == "ABC"
    assert _events(mp, "input")[-1]["detail"] == {"value": "abc", "cursor": 3, "keyCode": 0}


def test_disabled_button_sends_no_tap(mp: MiniProgram) -> None:
    mp.current_page.query_selector("#off").tap()
    assert _events(mp, "tap") == []


def test_navigator_opens_in_package_page(mp: MiniProgram) -> None:
    mp.current_page.query_selector("#nav").tap()
    assert mp.current_page.path == "pages/other/other"
    assert mp.current_page.data["from"] == "nav"


def test_navigator_refuses_javascript_url(mp: MiniProgram) -> None:
    mp.current_page.query_selector("#navbad").tap()
    assert mp.current_page.path == "pages/index/index"
    assert any("refused url" in e["message"] for e in mp.errors)


def test_slider_and_picker_change_update_the_field_value(mp: MiniProgram) -> None:
    page = mp.current_page
    page.query_selector("#sl").trigger("change", {"value": 70})
    page.query_selector("#pk").trigger("change", {"value": 2})
    page.query_selector("#submit").tap()
    value = _events(mp, "submit")[-1]["detail"]["value"]
    assert value["volume"] == 70 and value["city"] == 2
    assert page.data["cityIndex"] == 2


@pytest.mark.parametrize(("open_type", "url", "expected"), [
    ("navigate", "/pages/other/other?from=a", ["pages/index/index", "pages/other/other"]),
    ("redirect", "/pages/other/other?from=b", ["pages/other/other"]),
    ("reLaunch", "/pages/other/other?from=c", ["pages/other/other"]),
    ("navigate", "https://evil.example/", ["pages/index/index"]),
    ("navigate", "//evil.example/x", ["pages/index/index"]),
    ("redirect", "javascript:alert(1)", ["pages/index/index"]),
    ("navigate", "/pages/missing/missing", ["pages/index/index"]),
    ("exit", "", ["pages/index/index"]),
])
def test_navigator_open_types(mp: MiniProgram, open_type: str, url: str, expected: list[str]) -> None:
    mp.current_page.set_data({"navType": open_type, "navUrl": url})
    mp.current_page.query_selector("#nav").tap()
    assert [p.path for p in mp.page_stack] == expected


def test_navigator_navigate_back(mp: MiniProgram) -> None:
    mp.current_page.query_selector("#nav").tap()
    assert len(mp.page_stack) == 2
    mp.current_page.query_selector("#back").tap()
    assert [p.path for p in mp.page_stack] == ["pages/index/index"]


def test_button_open_types(make_project) -> None:  # type: ignore[no-untyped-def]
    root = make_project({
        "pages/a/a.wxml": '<button id="s" open-type="share">s</button>'
                          '<button id="p" open-type="getPhoneNumber" bindgetphonenumber="log">p</button>',
        "pages/a/a.js": "Page({ data: {got: null}, log(e) { this.setData({got: e.detail}) },"
                        " onShareAppMessage(o) { return {title: 'T', path: '/pages/a/a?from=' + o.from} } })",
    })
    with launch(root) as m:
        page = m.current_page
        shares = []
        m.instance.listeners.append(lambda msg: shares.append(msg) if msg.get("api") == "share" else None)
        page.query_selector("#s").tap()
        assert shares[-1]["content"] == {"title": "T", "path": "/pages/a/a?from=button"}
        page.query_selector("#p").tap()
        # the host asks for the user's privacy agreement first; none given: WeChat's refusal
        assert page.data["got"] == {"errMsg": "getPhoneNumber:fail privacy permission is not authorized",
                                    "errno": 104}
