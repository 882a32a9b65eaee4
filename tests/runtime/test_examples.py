"""The example mini-programs, driven as a person would through minibox.testing."""

from __future__ import annotations

from pathlib import Path

from minibox.host import Host, HostConfig
from minibox.testing import launch

from ..conftest import EXAMPLES


def test_todo_add_toggle_filter_delete(tmp_path: Path) -> None:
    with launch(EXAMPLES / "todo", data_dir=tmp_path) as mp:
        page = mp.current_page
        assert page.path == "pages/index/index"
        assert page.query_selector(".empty").text == "Nothing to do & nothing done"
        for title in ("buy milk", "call mum", "pay rent"):
            page.query_selector("input.draft").input(title)
            page.query_selector(".add").tap()
        assert [t["title"] for t in page.data["todos"]] == ["buy milk", "call mum", "pay rent"]
        assert page.query_selector("input.draft").value == ""
        assert page.query_selector(".left").text == "3 items left"

        page.query_selector_all(".todo")[1].tap()
        assert page.data["todos"][1]["done"] is True
        assert "todo--done" in page.query_selector_all(".todo")[1].classes
        assert page.query_selector(".left").text == "2 items left"

        page.query_selector_all(".filter")[2].tap()  # "done"
        assert page.data["filter"] == "done"
        assert [e.query_selector(".title").text for e in page.query_selector_all(".todo")] == ["2. call mum"]
        page.query_selector_all(".filter")[0].tap()

        # catchtap on the remove button: the row's toggle must not fire
        page.query_selector_all(".todo .remove")[0].tap()
        assert page.data["todos"][0]["done"] is False
        assert len(mp.modals) == 1 and mp.modals[0].options["content"] == "Delete this todo?"
        mp.modals[0].confirm()
        mp.wait_idle()
        assert [t["title"] for t in page.data["todos"]] == ["call mum", "pay rent"]
        assert [t["title"] for t in mp.storage()["todos"]] == ["call mum", "pay rent"]


def test_todo_empty_input_shows_toast(tmp_path: Path) -> None:
    with launch(EXAMPLES / "todo", data_dir=tmp_path) as mp:
        mp.current_page.query_selector(".add").tap()
        assert mp.toasts[-1]["title"] == "Type something first"
        assert mp.toasts[-1]["icon"] == "none"


def test_todo_persists_per_user_and_navigates_with_query(tmp_path: Path) -> None:
    host = Host(HostConfig(data_dir=tmp_path))
    try:
        with launch(EXAMPLES / "todo", host=host, user="alice") as mp:
            page = mp.current_page
            page.query_selector("input").input("alice's task")
            page.query_selector(".add").tap()
            page.query_selector(".todo").tap()
            page.query_selector(".stats").tap()
            stats = mp.current_page
            assert stats.path == "pages/stats/stats"
            assert stats.query == {"total": "1", "done": "1"}
            assert stats.title == "Stats (1)"
            assert stats.query_selector(".ratio").text == "100% complete"
            assert len(mp.page_stack) == 2
            stats.query_selector(".back").tap()
            assert [p.path for p in mp.page_stack] == ["pages/index/index"]
        with launch(EXAMPLES / "todo", host=host, user="alice") as mp:
            assert [t["title"] for t in mp.current_page.data["todos"]] == ["alice's task"]
        with launch(EXAMPLES / "todo", host=host, user="bob") as mp:
            assert mp.current_page.data["todos"] == []
            assert mp.storage("alice")["todos"][0]["title"] == "alice's task"
    finally:
        host.close()


def test_shop_component_event_channel_cart_and_checkout(tmp_path: Path) -> None:
    with launch(EXAMPLES / "shop", data_dir=tmp_path) as mp:
        home = mp.current_page
        cards = home.query_selector_all("product-card")
        assert [c.query_selector(".name").text for c in cards] == ["Green tea", "Dumplings", "Mooncake", "Soy milk"]
        assert cards[0].query_selector(".price").text == "¥18.00"
        assert cards[0].query_selector(".tags").text == "drink, hot"  # slot content from the page
        assert "card--sold-out" in cards[2].query_selector(".card").classes  # observer on product.stock
        assert cards[2].data["soldOut"] is True

        home.query_selector("input.keyword").input("milk")
        assert [c.query_selector(".name").text for c in home.query_selector_all("product-card")] == ["Soy milk"]
        home.query_selector("input.keyword").input("")

        home.query_selector_all("product-card .card")[1].tap()  # Dumplings
        detail = mp.current_page
        assert detail.path == "pages/detail/detail" and detail.query == {"id": "p2"}
        assert detail.title == "Dumplings"
        detail.query_selector(".plus").tap()
        detail.query_selector(".plus").tap()
        assert detail.query_selector(".n").text == "3"
        detail.query_selector("button.add").tap()
        assert mp.current_page.path == "pages/home/home"
        assert mp.toasts[-1]["title"] == "Added 3"  # through the EventChannel

        assert mp.switch_tab("/pages/cart/cart")["errMsg"] == "switchTab:ok"
        cart = mp.current_page
        assert cart.query_selector(".item .qty").text == "x3"
        assert cart.query_selector(".total").text == "Total ¥78.00"
        cart.query_selector(".checkout").tap()
        assert mp.modals[-1].options["confirmText"] == "Pay"
        mp.modals[-1].confirm()
        mp.wait_idle()
        assert cart.query_selector(".empty").text == "Your cart is empty"
        assert mp.toasts[-1]["title"] == "Paid"
        assert mp.storage()["cart"] == []


def test_shop_tab_pages_stay_alive_and_action_sheet(tmp_path: Path) -> None:
    with launch(EXAMPLES / "shop", data_dir=tmp_path) as mp:
        home = mp.current_page
        mp.switch_tab("/pages/mine/mine")
        mine = mp.current_page
        assert mine.query_selector(".row").text == "Items in cart: 0"
        assert "minibox" in mine.query_selector_all(".row")[1].text
        mp.switch_tab("/pages/home/home")
        assert mp.current_page.id == home.id  # tab pages are kept, not reloaded
        assert mp.navigate_to("/pages/cart/cart")["errMsg"] == "navigateTo:fail can not navigateTo a tabbar page"
        mp.switch_tab("/pages/mine/mine")
        mp.current_page.query_selector_all(".row")[1].tap()
        sheet = mp.action_sheets[-1]
        assert sheet.options["itemList"] == ["Clear cart", "Keep"]
        sheet.choose(0)
        mp.wait_idle()
        assert mp.current_page.data["count"] == 0
