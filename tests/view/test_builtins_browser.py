"""Built-in components in Chromium: each one's events reach the logic with WeChat-shaped detail."""

from __future__ import annotations

import pytest

from .conftest import Sim, wait_for

pytestmark = pytest.mark.browser


def test_tap_touch_and_longpress_events(sim: Sim) -> None:
    sim.open()
    sim.q("#tapper").click()
    tap = sim.wait_event("tap", "tapper")
    assert set(tap["detail"]) == {"x", "y"} and tap["dataset"] == {"k": "v"}
    assert sim.wait_event("touchstart", "tapper")["type"] == "touchstart"
    assert sim.wait_event("touchend", "tapper")["type"] == "touchend"
    sim.q("#tapper").scroll_into_view_if_needed()
    box = sim.q("#tapper").bounding_box()
    sim.page.mouse.move(box["x"] + 5, box["y"] + 5)
    sim.page.mouse.down()
    sim.page.wait_for_timeout(600)
    sim.page.mouse.up()
    assert sim.wait_event("longpress", "tapper")["detail"].keys() == {"x", "y"}


def test_input_typing_reaches_bindinput_and_return_value_replaces(sim: Sim) -> None:
    sim.open()
    field = sim.page.locator("wx-input#name input")
    field.click()
    assert sim.wait_event("focus", "name")["detail"] == {"value": "", "height": 0}
    field.press_sequentially("ab")
    ev = sim.wait_event("input", "name")
    assert set(ev["detail"]) == {"value", "cursor", "keyCode"}
    wait_for(lambda: field.input_value() == "AB", "the value returned by bindinput")
    field.press("Enter")
    assert sim.wait_event("confirm", "name")["detail"] == {"value": "AB"}
    assert sim.wait_event("blur", "name")["detail"]["value"] == "AB"


def test_input_attributes(sim: Sim) -> None:
    sim.open()
    assert sim.page.locator("wx-input#pwd input").get_attribute("type") == "password"
    assert sim.page.locator("wx-input#name input").get_attribute("maxlength") == "10"
    assert sim.page.locator("wx-input#name input").get_attribute("placeholder") == "Name"


def test_textarea_input(sim: Sim) -> None:
    sim.open()
    sim.page.locator("wx-textarea#ta textarea").fill("line")
    assert sim.wait_event("input", "ta")["detail"]["value"] == "line"


def test_switch_checkbox_radio_clicks(sim: Sim) -> None:
    sim.open()
    sim.q("#sw").click()
    assert sim.wait_event("change", "sw")["detail"] == {"value": True}
    wait_for(lambda: sim.q("#sw").get_attribute("aria-checked") == "true", "switch drawn on")
    sim.page.get_by_text("Apple").click()  # the label around the checkbox
    assert sim.wait_event("change", "cg")["detail"] == {"value": ["apple", "banana"]}
    sim.q("#r-m").click()
    assert sim.wait_event("change", "rg")["detail"] == {"value": "M"}
    wait_for(lambda: "wx-radio-input-checked" in (sim.page.locator("wx-radio#r-m .wx-radio-input").get_attribute("class") or ""),
             "radio drawn checked")


def test_form_submit_and_reset_from_buttons(sim: Sim) -> None:
    sim.open()
    sim.page.locator("wx-input#name input").fill("zoe")
    sim.wait_event("input", "name")
    sim.q("#sw").click()
    sim.wait_event("change", "sw")
    sim.q("#submit").click()
    value = sim.wait_event("submit", "form")["detail"]["value"]
    assert value["name"] == "ZOE" and value["agree"] is True and value["fruits"] == ["banana"] and value["volume"] == 20
    sim.q("#reset").click()
    sim.wait_event("reset", "form")
    wait_for(lambda: sim.page.locator("wx-input#name input").input_value() == "", "input cleared by reset")


def test_disabled_and_loading_buttons(sim: Sim) -> None:
    sim.open()
    sim.q("#off").click()
    sim.q("#tapper").click()
    sim.wait_event("tap", "tapper")
    assert not [e for e in sim.events() if e["id"] == "off"]
    assert sim.page.locator("wx-button#busy .wx-button-loading").is_visible()


def test_slider_drag_sends_change(sim: Sim) -> None:
    sim.open()
    track = sim.page.locator("wx-slider#sl .wx-slider-track")
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    sim.page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
    assert sim.wait_event("change", "sl")["detail"] == {"value": 80}


def test_picker_selector_time_and_date(sim: Sim) -> None:
    sim.open()
    sim.q("#pk").click()
    sim.page.locator(".mb-picker-item", has_text="Shenzhen").click()
    sim.page.locator(".mb-picker-confirm").click()
    assert sim.wait_event("change", "pk")["detail"] == {"value": 2}
    wait_for(lambda: "Shenzhen" in sim.q("#pk").inner_text(), "picker face updated")
    sim.q("#pt").click()
    sim.page.locator(".mb-picker-confirm").click()
    assert sim.wait_event("change", "pt")["detail"] == {"value": "09:30"}
    sim.q("#pd").click()
    sim.page.locator(".mb-picker-confirm").click()
    assert sim.wait_event("change", "pd")["detail"] == {"value": "2024-05-06"}


def test_navigator_tap_opens_page_and_back_button_returns(sim: Sim) -> None:
    sim.open()
    sim.q("#nav").click()
    wait_for(lambda: sim.page.locator("wx-page[data-mb-path='pages/other/other']").count() == 1, "the other page")
    assert "Other page nav" in sim.page.locator("wx-page[data-mb-path='pages/other/other']").inner_text()
    sim.page.locator(".mb-navbar-back").click()
    wait_for(lambda: sim.page.locator("wx-page[data-mb-path='pages/other/other']").count() == 0, "back to index")


def test_image_load_and_error(sim: Sim) -> None:
    sim.open()
    assert sim.wait_event("load", "img")["detail"] == {"width": 4, "height": 4}
    err = sim.wait_event("error", "imgmissing")
    assert "errMsg" in err["detail"]
    assert sim.page.locator("wx-image#img img").evaluate("i => getComputedStyle(i).objectFit") == "contain"


def test_scroll_view_scroll_and_scrolltolower(sim: Sim) -> None:
    sim.open()
    sim.q("#sv").evaluate("el => el.scrollTo(0, el.scrollHeight)")
    low = sim.wait_event("scrolltolower", "sv")
    assert low["detail"] == {"direction": "bottom"}
    detail = wait_for(lambda: sim.data().get("lastScroll"), "bindscroll detail")
    assert {"scrollTop", "scrollLeft", "scrollHeight", "scrollWidth", "deltaX", "deltaY"} <= set(detail)


def test_scroll_into_view(sim: Sim) -> None:
    sim.open()
    sim.session  # noqa: B018 - the session exists
    sim.instance.command("setPageData", {"page": sim.top_page_id(), "data": {"into": "row6"}})
    wait_for(lambda: sim.q("#sv").evaluate("el => el.scrollTop") > 100, "scrolled to row6")


def test_swiper_swipe_sends_change(sim: Sim) -> None:
    sim.open()
    sim.q("#swp").scroll_into_view_if_needed()
    box = sim.q("#swp").bounding_box()
    y = box["y"] + box["height"] / 2
    sim.page.mouse.move(box["x"] + box["width"] - 10, y)
    sim.page.mouse.down()
    sim.page.mouse.move(box["x"] + 10, y, steps=4)
    sim.page.mouse.up()
    assert sim.wait_event("change", "swp")["detail"] == {"current": 1, "currentItemId": "two", "source": "touch"}
    assert sim.page.locator("wx-swiper#swp .wx-swiper-dot").count() == 2


def test_movable_view_drag(sim: Sim) -> None:
    sim.open()
    sim.q("#mv").scroll_into_view_if_needed()
    box = sim.q("#mv").bounding_box()
    sim.page.mouse.move(box["x"] + 10, box["y"] + 10)
    sim.page.mouse.down()
    sim.page.mouse.move(box["x"] + 60, box["y"] + 40, steps=3)
    sim.page.mouse.up()
    detail = sim.wait_event("change", "mv")["detail"]
    assert detail["source"] == "touch" and detail["x"] > 0 and detail["y"] > 0


def test_picker_view_scroll_sends_change(sim: Sim) -> None:
    sim.open()
    col = sim.page.locator("wx-picker-view#pv wx-picker-view-column")
    wait_for(lambda: col.evaluate("c => c.scrollTop") > 0, "initial value 1 shown")
    col.evaluate("c => c.scrollTo(0, c.__mbItemHeight * 2)")
    assert sim.wait_event("change", "pv")["detail"] == {"value": [2]}


def test_text_decode_space_icon_progress(sim: Sim) -> None:
    sim.open()
    assert sim.q("#decoded").inner_text() == "a<b\u00a0c"
    assert "\u00a0\u00a0" in sim.q("#spaced").inner_text()
    assert sim.page.locator("wx-progress#pg .wx-progress-info").inner_text() == "40%"
    assert sim.page.locator("wx-progress#pg .wx-progress-inner-bar").evaluate("b => b.style.width") == "40%"
    assert sim.page.locator("wx-icon .wx-icon-glyph").first.evaluate("g => g.style.width") == "30px"


def test_hover_class_applies_while_pressed(sim: Sim) -> None:
    sim.open()
    sim.q("#submit").scroll_into_view_if_needed()
    box = sim.q("#submit").bounding_box()
    sim.page.mouse.move(box["x"] + 5, box["y"] + 5)
    sim.page.mouse.down()
    wait_for(lambda: "pressed" in (sim.q("#submit").get_attribute("class") or ""), "hover class on")
    sim.page.mouse.up()
    wait_for(lambda: "pressed" not in (sim.q("#submit").get_attribute("class") or ""), "hover class off")


def test_host_modal_answered_in_browser(sim: Sim) -> None:
    sim.open()
    sim.instance.command("callWx", {"name": "showModal", "args": [{"title": "Sure?", "content": "Really"}]})
    modal = sim.page.locator("#mb-host-layer .mb-modal")
    wait_for(lambda: modal.count() == 1, "the host modal")
    sim.page.wait_for_timeout(450)  # taps right after it appears are ignored (VIEW-06)
    modal.locator(".mb-modal-confirm").click()
    wait_for(lambda: sim.session.prompts[-1].answered, "the modal answered")
    assert sim.session.prompts[-1].future.result() == {"confirm": True, "cancel": False}


def test_page_scroll_and_reach_bottom(sim: Sim) -> None:
    sim.open()
    sim.page.locator(".mb-page-frame").first.evaluate("f => f.scrollTo(0, 120)")
    wait_for(lambda: sim.data().get("pageScrollTop") == 120, "onPageScroll with scrollTop")
    sim.page.locator(".mb-page-frame").first.evaluate("f => f.scrollTo(0, f.scrollHeight)")
    wait_for(lambda: sim.data().get("reachedBottom") == 1, "onReachBottom")


def test_page_scroll_to_from_logic(sim: Sim) -> None:
    sim.open()
    sim.instance.command("callWx", {"name": "pageScrollTo", "args": [{"scrollTop": 200, "duration": 0}]})
    wait_for(lambda: sim.page.locator(".mb-page-frame").first.evaluate("f => f.scrollTop") == 200, "scrolled by the logic")
    sim.instance.command("callWx", {"name": "setNavigationBarTitle", "args": [{"title": "Renamed"}]})
    wait_for(lambda: sim.page.locator(".mb-navbar-text").inner_text() == "Renamed", "the new title")


def test_swiper_autoplay_circular(sim: Sim) -> None:
    sim.open()
    sim.instance.command("setPageData", {"page": sim.top_page_id(), "data": {"autoplay": True, "interval": 200}})
    changes = wait_for(lambda: [e for e in sim.events() if e["id"] == "swp" and e["type"] == "change"], "autoplay")
    assert changes[0]["detail"] == {"current": 1, "currentItemId": "two", "source": "autoplay"}
    wait_for(lambda: [e["detail"]["current"] for e in sim.events() if e["id"] == "swp"][:2] == [1, 0], "wrapped to 0")


def test_scroll_view_refresher(sim: Sim) -> None:
    sim.open()
    sv = sim.q("#rf")
    sv.scroll_into_view_if_needed()
    box = sv.bounding_box()
    x = box["x"] + 20
    sim.page.mouse.move(x, box["y"] + 5)
    sim.page.mouse.down()
    sim.page.mouse.move(x, box["y"] + 75, steps=5)
    sim.page.mouse.up()
    assert sim.wait_event("refresherrefresh", "rf")["detail"] == {}
    wait_for(lambda: sim.data()["refreshing"] is False, "refresh finished")
    wait_for(lambda: sim.page.locator("wx-scroll-view#rf .wx-scroll-view-refresher").evaluate("r => r.style.height") == "0px",
             "the refresher closed")
