"""The simulator's chrome in Chromium: back arrow and home button as WeChat draws them, the page menu
following navigation, the console panel, and screenshots with launch queries (issue 16)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from minibox.cli import app
from minibox.view.devserver import DevServer
from minibox.view.discover import discover_queries, resolve_url

from .conftest import EXAMPLES, PROJECTS, Sim, serve, wait_for

NAVLAB = PROJECTS / "navlab"


@pytest.fixture(scope="module")
def shop() -> Iterator[DevServer]:
    yield from serve(EXAMPLES / "shop")


@pytest.fixture(scope="module")
def navlab() -> Iterator[DevServer]:
    yield from serve(NAVLAB)


def _chrome(sim: Sim) -> dict[str, Any]:
    """What a person sees in the navigation bar and the toolbar, and the app's real page stack."""
    page = sim.page
    sim.settle()
    return {
        "back": page.locator(".mb-navbar-back").is_visible(),
        "home": page.locator(".mb-navbar-home").is_visible(),
        "title": page.locator(".mb-navbar-text").inner_text(),
        "menu": page.locator("#mb-page").input_value(),
        "query": page.locator("#mb-query").input_value(),
        "stack": [p["path"] for p in sim.instance.command("pages")],
    }


def _wait_top(sim: Sim, path: str) -> None:
    wait_for(lambda: sim.instance.command("pages")[-1]["path"] == path
             and sim.page.evaluate("() => { const v = window.__mbView; const p = v.top(); return p && p.path; }") == path,
             f"{path} on top")


@pytest.mark.browser
def test_back_arrow_only_with_a_stack_and_never_on_a_switched_tab(context: Any, shop: DevServer,
                                                                  tmp_path: Path) -> None:
    sim = Sim(shop, context.new_page()).open()
    page = sim.page
    assert _chrome(sim) | {"title": ""} == {"back": False, "home": False, "title": "", "menu": "pages/home/home",
                                            "query": "", "stack": ["pages/home/home"]}
    # a tab page opened with switchTab: the stack holds one page, so no back arrow (the home tab stays alive)
    page.locator(".mb-tab", has_text="Cart").click()
    _wait_top(sim, "pages/cart/cart")
    c = _chrome(sim)
    assert (c["back"], c["home"], c["stack"], c["menu"]) == (False, False, ["pages/cart/cart"], "pages/cart/cart")
    page.locator(".mb-tab", has_text="Home").click()
    _wait_top(sim, "pages/home/home")
    assert _chrome(sim)["back"] is False
    # navigateTo: two pages, a back arrow
    page.locator("wx-product-card").first.click()
    _wait_top(sim, "pages/detail/detail")
    c = _chrome(sim)
    assert (c["back"], c["home"], c["stack"]) == (True, False, ["pages/home/home", "pages/detail/detail"])
    assert (c["title"], c["menu"], c["query"]) == ("Green tea", "pages/detail/detail", "id=p1")
    page.screenshot(path=str(tmp_path / "detail-with-back.png"))
    # switchTab from the detail page: the stack is the tab page alone again
    sim.instance.command("navigate", {"api": "switchTab", "url": "/pages/mine/mine"})
    _wait_top(sim, "pages/mine/mine")
    c = _chrome(sim)
    assert (c["back"], c["home"], c["stack"], c["menu"]) == (False, False, ["pages/mine/mine"], "pages/mine/mine")
    page.locator(".mb-tab", has_text="Home").click()
    _wait_top(sim, "pages/home/home")
    page.locator("wx-product-card").nth(1).click()
    _wait_top(sim, "pages/detail/detail")
    assert (_chrome(sim)["menu"], _chrome(sim)["query"]) == ("pages/detail/detail", "id=p2")
    page.locator(".mb-navbar-back").click()
    _wait_top(sim, "pages/home/home")
    c = _chrome(sim)
    assert (c["back"], c["stack"], c["menu"], c["query"]) == (False, ["pages/home/home"], "pages/home/home", "")
    page.close()


@pytest.mark.browser
def test_home_button_on_a_lone_page_that_is_not_the_home_page(context: Any, shop: DevServer, tmp_path: Path) -> None:
    # opened directly (or reLaunched) on the detail page: WeChat shows a button back to the home page
    sim = Sim(shop, context.new_page()).open("pages/detail/detail", "id=p2")
    page = sim.page
    c = _chrome(sim)
    assert (c["back"], c["home"], c["title"], c["stack"]) == (False, True, "Dumplings", ["pages/detail/detail"])
    assert (c["menu"], c["query"]) == ("pages/detail/detail", "id=p2")
    shot = tmp_path / "home-button.png"
    page.locator("#mb-device-frame").screenshot(path=str(shot))
    box = page.locator(".mb-navbar-home").bounding_box()
    frame = page.locator("#mb-device-frame").bounding_box()
    assert box and frame and box["x"] - frame["x"] < 50 and box["width"] > 20  # at the left of the bar
    page.locator(".mb-navbar-home").click()
    _wait_top(sim, "pages/home/home")
    c = _chrome(sim)
    assert (c["back"], c["home"], c["stack"], c["menu"]) == (False, False, ["pages/home/home"], "pages/home/home")
    assert page.locator(".mb-tabbar").is_visible()
    # a tab page reLaunched alone shows neither button
    sim.instance.command("navigate", {"api": "reLaunch", "url": "/pages/cart/cart"})
    _wait_top(sim, "pages/cart/cart")
    c = _chrome(sim)
    assert (c["back"], c["home"]) == (False, False)
    page.close()


@pytest.mark.browser
def test_page_menu_follows_navigation_and_relaunches_with_the_query(context: Any, shop: DevServer) -> None:
    sim = Sim(shop, context.new_page()).open()
    page = sim.page
    options = page.locator("#mb-page option").all_inner_texts()  # in app.json's order
    assert options == ["pages/home/home", "pages/detail/detail", "pages/cart/cart", "pages/mine/mine"]
    page.locator("wx-product-card").nth(2).click()
    _wait_top(sim, "pages/detail/detail")
    c = _chrome(sim)
    assert (c["menu"], c["query"], c["title"]) == ("pages/detail/detail", "id=p3", "Mooncake")
    assert "path=pages%2Fdetail%2Fdetail" in page.url and "query=id%3Dp3" in page.url
    # choosing a page reLaunches it: the stack is that page alone, the app is not restarted
    session = sim.session
    page.locator("#mb-page").select_option("pages/mine/mine")
    _wait_top(sim, "pages/mine/mine")
    assert _chrome(sim)["stack"] == ["pages/mine/mine"] and sim.session is session
    # back to the detail page: with the query it was last opened with
    page.locator("#mb-page").select_option("pages/detail/detail")
    _wait_top(sim, "pages/detail/detail")
    c = _chrome(sim)
    assert (c["stack"], c["query"], c["title"], c["home"]) == (["pages/detail/detail"], "id=p3", "Mooncake", True)
    # editing the query reLaunches the page with it
    page.locator("#mb-query").fill("id=p4")
    page.locator("#mb-query").press("Enter")
    wait_for(lambda: page.locator(".mb-navbar-text").inner_text() == "Soy milk", "the page with the new query")
    assert sim.instance.command("pages")[-1]["query"] == {"id": "p4"}
    # the address follows, so Reload reopens what the menu shows
    page.locator("#mb-reload").click()
    page.wait_for_function("() => window.__mbView && window.__mbView.stack.length > 0")
    wait_for(lambda: page.locator(".mb-navbar-text").inner_text() == "Soy milk", "the reloaded page")
    assert page.locator("#mb-page").input_value() == "pages/detail/detail"
    page.close()


@pytest.mark.browser
def test_page_menu_refuses_what_is_not_a_page(context: Any, shop: DevServer) -> None:
    sim = Sim(shop, context.new_page()).open()
    sim.page.evaluate("""() => new Promise(r => { const ws = new WebSocket('ws://' + location.host + '/ws');
        ws.onopen = () => { ws.send(JSON.stringify({t: 'navigate', api: 'reLaunch', url: '/pages/nope/nope'})); };
        ws.onmessage = e => { const m = JSON.parse(e.data); const l = m.t === 'batch' ? m.messages : [m];
          l.forEach(x => { if (x.t === 'refused') { window.__refused = x.reason; ws.close(); r(); } }); }; })""")
    assert "not a page of this mini-program" in sim.page.evaluate("() => window.__refused")
    sim.page.close()


def _console(sim: Sim) -> list[dict[str, Any]]:
    return sim.page.evaluate("() => window.__mbConsole")


@pytest.mark.browser
def test_console_panel_shows_the_apps_console_and_errors_as_text(context: Any, navlab: DevServer,
                                                                 tmp_path: Path) -> None:
    sim = Sim(navlab, context.new_page()).open()
    page = sim.page
    panel = page.locator("#mb-console-list")
    wait_for(lambda: "launched {\"v\":1}" in panel.inner_text(), "App.onLaunch's console.info")
    page.locator("wx-view.log-all").click()
    wait_for(lambda: panel.locator(".mb-console-debug").count() == 1, "every level")
    lines = {level: panel.locator(f".mb-console-{level}").last.inner_text()
             for level in ("log", "info", "warn", "error", "debug")}
    assert lines["log"].endswith('plain log 42 {"a":[1,2]}')
    assert (lines["info"], lines["warn"], lines["error"], lines["debug"]) == ("an info", "a warning", "an error", "a debug")
    assert page.locator(".mb-console-warn").last.evaluate("n => getComputedStyle(n).color") == "rgb(229, 192, 123)"
    assert page.locator(".mb-console-error").last.evaluate("n => getComputedStyle(n).color") == "rgb(244, 112, 103)"
    # an uncaught error: its message and stack, and what App.onError logged
    page.locator("wx-view.boom").click()
    wait_for(lambda: "App.onError: " in panel.inner_text(), "App.onError's log")
    err = panel.locator(".mb-console-error", has_text="boom from tap")
    assert err.count() == 1 and err.locator(".mb-console-source").inner_text() == "uncaught"
    # the stack names the app's file:line:col; the framework's own frames are left out
    stack = err.locator(".mb-console-stack").inner_text()
    assert "pages/index/index.js:" in stack and "<input>" not in stack and "mbGuard" not in stack
    assert "App.onError: " in panel.locator(".mb-console-log").last.inner_text()
    assert "boom from tap" in panel.locator(".mb-console-log").last.inner_text()
    assert page.locator("#mb-console-errors").inner_text() == "2 errors"
    assert page.locator("#mb-console-warnings").inner_text() == "1 warning"
    # the level filter shows errors only
    page.locator("#mb-console-level").select_option("error")
    assert all(line.is_visible() == ("mb-console-error" in (line.get_attribute("class") or ""))
               for line in panel.locator(".mb-console-line").all())
    page.locator("#mb-console-level").select_option("all")
    # HTML is text: no element is made, no script runs
    page.locator("wx-view.html").click()
    wait_for(lambda: "<b>bold</b>" in panel.inner_text(), "the HTML as text")
    assert panel.locator("img, b").count() == 0 and page.evaluate("() => window.__pwned") is None
    page.locator("#mb-device-frame").screenshot(path=str(tmp_path / "frame.png"))
    page.screenshot(path=str(tmp_path / "console.png"))
    # bounded: an entry keeps its first 10,000 characters
    page.locator("wx-view.huge").click()
    wait_for(lambda: "40000 more characters" in panel.locator(".mb-console-warn").last.inner_text(), "the long entry")
    assert len(panel.locator(".mb-console-warn").last.inner_text()) < 10_100
    # bounded: the last 1000 entries
    page.locator("wx-view.flood").click()
    wait_for(lambda: "line 1199" in panel.locator(".mb-console-line").last.inner_text(), "the flood")
    assert panel.locator(".mb-console-line").count() == 1000 and len(_console(sim)) == 1000
    assert panel.locator(".mb-console-line").first.inner_text() == "line 200"
    page.locator("#mb-console-clear").click()
    assert panel.locator(".mb-console-line").count() == 0 and page.locator("#mb-console-errors").inner_text() == "0 errors"
    page.close()


@pytest.mark.browser
def test_console_shows_compile_warnings_and_errors_with_file_line_col(context: Any, tmp_path: Path) -> None:
    with DevServer(NAVLAB) as server:
        server.served.warnings = ["pages/index/index.wxml:3:28: warning: duplicated attribute \"class\" [duplicate-attr]"]
        sim = Sim(server, context.new_page()).open()
        line = sim.page.locator("#mb-console-list .mb-console-warn", has_text="pages/index/index.wxml:3:28")
        wait_for(lambda: line.count() == 1, "the compile warning")
        assert line.locator(".mb-console-source").inner_text() == "compile"
        sim.page.close()
        server.served.errors = ["pages/list/list.wxml:2:7: unclosed tag <view> [wxml]"]
        page = context.new_page()
        page.goto(server.url)
        errors = page.locator("#mb-console-list .mb-console-error", has_text="pages/list/list.wxml:2:7")
        wait_for(lambda: errors.count() == 1, "the compile error in the console")
        assert page.locator("#mb-errors").is_visible()
        page.close()


def test_discovery_learns_queries_from_navigators_and_taps() -> None:
    server = DevServer(NAVLAB)
    try:
        found = discover_queries(server.served.host, server.served.bundle())
        assert {k: (v.query, v.source) for k, v in found.items()} == {
            "pages/list/list": ("cat=tea", "<navigator> in pages/index/index"),
            "pages/item/item": ("id=i1", "a tap in pages/list/list")}
        # a given query wins and is not rediscovered
        assert "pages/list/list" not in discover_queries(server.served.host, server.served.bundle(),
                                                         {"pages/list/list": "cat=green"})
        assert server.served.host.instances == []
        # pages still without a query take one written literally in the app's files
        found = discover_queries(server.served.host, server.served.bundle(), project=NAVLAB)
        assert (found["pages/orphan/orphan"].query, found["pages/orphan/orphan"].source) == (
            "k=shared", "a url in pages/other/other.js:3")
        assert found["pages/list/list"].source == "<navigator> in pages/index/index"  # what the app did wins
    finally:
        server.stop()
    assert resolve_url("../list/list?cat=tea", "pages/index/index") == ("pages/list/list", "cat=tea")
    assert resolve_url("/pages/a/a.html", "pages/b/b") == ("pages/a/a", "")


@pytest.mark.browser
def test_cli_screenshots_take_queries_and_say_which_pages_had_none(tmp_path: Path) -> None:
    out = tmp_path / "shots"
    results: list[Any] = []
    # in a thread of its own: the CLI starts its own Playwright, which refuses to nest in the fixture's
    worker = threading.Thread(target=lambda: results.append(CliRunner().invoke(
        app, ["dev", str(NAVLAB), "--screenshot", str(out), "--page-query", "pages/orphan/orphan=k=given"])))
    worker.start()
    worker.join(timeout=120)
    result = results[0]
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.endswith("pages/list/list ?cat=tea (from <navigator> in pages/index/index)") for line in lines)
    assert any(line.endswith("pages/item/item ?id=i1 (from a tap in pages/list/list)") for line in lines)
    assert any(line.endswith("pages/orphan/orphan ?k=given (--page-query)") for line in lines)
    assert "opened without a query (2): pages/index/index, pages/other/other" in result.output
    assert sorted(p.name for p in out.iterdir()) == [f"pages__{n}__{n}.png" for n in
                                                     ("index", "item", "list", "orphan", "other")]
