"""The example apps in Chromium, operated by clicks and typing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from minibox.view.devserver import DevServer

from .conftest import EXAMPLES, Sim, dom_mismatches, serve, tree_diff, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def todo() -> Iterator[DevServer]:
    yield from serve(EXAMPLES / "todo")


@pytest.fixture(scope="module")
def shop() -> Iterator[DevServer]:
    yield from serve(EXAMPLES / "shop")


def _tab(context: Any, server: DevServer) -> Sim:
    return Sim(server, context.new_page())


def _same_as_mirror(sim: Sim) -> None:
    sim.settle()
    pid = sim.top_page_id()
    got = sim.page.evaluate("id => window.__mbView.snapshot(id)", pid)
    assert tree_diff(got, sim.session.mirror.pages[pid].root.to_dict()) is None
    assert dom_mismatches(sim, pid) == []


def test_todo_add_toggle_filter_remove_and_stats(context: Any, todo: DevServer) -> None:
    sim = _tab(context, todo).open()
    page = sim.page
    assert page.locator(".mb-navbar-text").inner_text() == "My todos"
    assert page.locator(".mb-navbar").evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(7, 193, 96)"
    field = page.locator("wx-input.draft input")
    field.click()
    field.press_sequentially("buy milk")
    page.locator("wx-view.add").click()
    wait_for(lambda: page.locator("wx-view.todo").count() == 1, "the new todo")
    assert "buy milk" in page.locator("wx-view.todo").inner_text()
    wait_for(lambda: field.input_value() == "", "the draft cleared")
    field.press_sequentially("call mum")
    field.press("Enter")  # bindconfirm="add"
    wait_for(lambda: page.locator("wx-view.todo").count() == 2, "the second todo")
    page.locator("wx-view.todo wx-text.title").first.click()
    wait_for(lambda: "todo--done" in (page.locator("wx-view.todo").first.get_attribute("class") or ""), "toggled done")
    page.locator("wx-view.filter", has_text="done").click()
    wait_for(lambda: page.locator("wx-view.todo").count() == 1, "the done filter")
    page.locator("wx-view.filter", has_text="all").click()
    wait_for(lambda: page.locator("wx-view.todo").count() == 2, "all again")
    _same_as_mirror(sim)
    page.locator("wx-view.remove").last.click()
    modal = page.locator("#mb-host-layer .mb-modal")
    wait_for(lambda: modal.count() == 1, "the delete modal")
    assert modal.locator(".mb-modal-title").inner_text() == "Delete"
    page.wait_for_timeout(450)
    modal.locator(".mb-modal-confirm").click()
    wait_for(lambda: page.locator("wx-view.todo").count() == 1, "one todo removed")
    page.locator("wx-view.stats").click()
    wait_for(lambda: page.locator("wx-page[data-mb-path='pages/stats/stats']").count() == 1, "the stats page")
    wait_for(lambda: page.locator(".mb-navbar-text").inner_text() == "Stats (1)", "the stats title")
    assert "Done: 1" in page.locator("wx-page[data-mb-path='pages/stats/stats']").inner_text()
    _same_as_mirror(sim)
    page.locator("wx-page[data-mb-path='pages/stats/stats'] wx-view.back").click()
    wait_for(lambda: page.locator("wx-page[data-mb-path='pages/stats/stats']").count() == 0, "back")
    wait_for(lambda: page.locator(".mb-navbar-text").inner_text() == "My todos", "the index title again")
    page.close()


def test_todo_empty_add_shows_toast_and_pull_down_refresh(context: Any, todo: DevServer) -> None:
    sim = _tab(context, todo).open()
    sim.page.locator("wx-view.add").click()
    toast = sim.page.locator("#mb-host-layer .mb-toast")
    wait_for(lambda: toast.count() == 1, "the toast")
    assert toast.inner_text() == "Type something first"
    sim.page.locator(".mb-page-frame").first.dispatch_event("wheel", {"deltaY": -100})
    wait_for(lambda: sim.page.locator(".mb-refresher--on").count() == 0
             and any(c.get("api") == "stopPullDownRefresh" for c in sim.session.mirror.view_calls), "refresh stopped")
    sim.page.close()


def test_shop_detail_add_to_cart_tab_bar(context: Any, shop: DevServer) -> None:
    sim = _tab(context, shop).open()
    page = sim.page
    tabs = page.locator(".mb-tab")
    assert tabs.count() == 3 and "mb-tab--on" in (tabs.nth(0).get_attribute("class") or "")
    page.locator("wx-product-card", has_text="Dumplings").click()
    detail = page.locator("wx-page[data-mb-path='pages/detail/detail']")
    wait_for(lambda: detail.count() == 1, "the detail page")
    wait_for(lambda: page.locator(".mb-navbar-text").inner_text() == "Dumplings", "the product title")
    assert page.locator(".mb-tabbar").is_hidden()
    detail.locator("wx-view.plus").click()
    wait_for(lambda: detail.locator("wx-text.n").inner_text() == "2", "qty 2")
    _same_as_mirror(sim)
    detail.locator("wx-button.add").click()
    wait_for(lambda: detail.count() == 0, "back on home")
    wait_for(lambda: page.locator("#mb-host-layer .mb-toast").count() == 1, "the added toast")
    assert page.locator("#mb-host-layer .mb-toast .mb-toast-title").inner_text() == "Added 2"
    tabs.nth(1).click()
    cart = page.locator("wx-page[data-mb-path='pages/cart/cart']")
    wait_for(lambda: cart.count() == 1 and cart.is_visible(), "the cart tab")
    wait_for(lambda: "Dumplings" in cart.inner_text(), "the cart item")
    assert "x2" in cart.inner_text()
    assert "mb-tab--on" in (tabs.nth(1).get_attribute("class") or "")
    _same_as_mirror(sim)
    page.close()


def test_shop_search_by_typing(context: Any, shop: DevServer) -> None:
    sim = _tab(context, shop).open()
    page = sim.page
    page.locator("wx-input.keyword input").press_sequentially("milk")
    wait_for(lambda: page.locator("wx-product-card").count() == 1, "the filtered list")
    assert "Soy milk" in page.locator("wx-product-card").inner_text()
    page.locator("wx-input.keyword input").fill("zzz")
    wait_for(lambda: "No products match" in page.locator("wx-view.empty").inner_text(), "the empty message")
    _same_as_mirror(sim)
    page.close()


def test_sold_out_button_is_disabled(context: Any, shop: DevServer) -> None:
    sim = _tab(context, shop).open("pages/detail/detail", "id=p3")
    button = sim.page.locator("wx-button.add")
    assert button.get_attribute("disabled") == "" and button.get_attribute("type") == "primary"
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(158, 217, 157)"
    sim.page.close()


def test_rpx_follows_window_width(context: Any, todo: DevServer) -> None:
    sim = _tab(context, todo)
    sim.page.goto(todo.url + "?device=iphone-14")
    sim.page.wait_for_function("() => window.__mbView && window.__mbView.stack.length > 0")
    rpx = sim.page.evaluate("() => getComputedStyle(document.getElementById('mb-screen')).getPropertyValue('--rpx')")
    assert abs(float(rpx.replace("px", "")) - 390 / 750) < 1e-6
    padding = sim.page.locator("wx-view.header").evaluate("h => getComputedStyle(h).paddingTop")
    assert abs(float(padding.replace("px", "")) - 24 * 390 / 750) < 0.01
    sim.page.close()


def test_component_style_isolation(context: Any) -> None:
    from .conftest import PROJECTS

    gen = serve(PROJECTS / "widgets")
    server = next(gen)
    try:
        sim = _tab(context, server).open()
        inner = sim.page.locator("wx-iso-box#iso [class$='--inner']")
        assert inner.evaluate("e => getComputedStyle(e).fontWeight") == "700"  # its own sheet
        assert inner.evaluate("e => getComputedStyle(e).color") == "rgb(1, 2, 3)"  # page .inner kept out; color inherits
        slotted = sim.page.locator("wx-iso-box#iso .slotted")
        assert slotted.evaluate("e => getComputedStyle(e).color") == "rgb(0, 0, 255)"  # page style, not the component's
        assert sim.page.locator("wx-view.outer").evaluate("e => getComputedStyle(e).color") == "rgb(1, 2, 3)"
        sim.page.close()
    finally:
        next(gen, None)


def test_app_styles_do_not_reach_into_components(context: Any, shop: DevServer) -> None:
    sim = _tab(context, shop).open()
    price = sim.page.locator("wx-product-card [class$='--price']").first
    assert price.evaluate("e => getComputedStyle(e).color") != "rgb(230, 67, 64)"
    assert sim.page.locator("wx-page").first.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(245, 245, 245)"
    sim.page.close()


def test_device_choice_sets_system_info(context: Any, shop: DevServer) -> None:
    sim = _tab(context, shop).open("pages/mine/mine", device="pixel-7")
    info = sim.instance.command("callWx", {"name": "getSystemInfoSync", "args": []})["value"]
    assert (info["windowWidth"], info["screenHeight"], info["windowHeight"]) == (412, 915, 915 - 64)
    assert sim.page.locator("#mb-device-frame").evaluate("f => f.getBoundingClientRect().width") == 412
    sim.page.close()
