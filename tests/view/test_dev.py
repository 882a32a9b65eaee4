"""`minibox dev`: recompile on change, compile errors in the page and the terminal, screenshots."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from minibox.cli import app
from minibox.view.devserver import DevServer, screenshot_pages

from .conftest import EXAMPLES, Sim, wait_for

BROKEN_WXML = '<view class="a">\n  <text>{{ x </text>\n</view>\n'
BROKEN_APP_JS = "App({ onLaunch() {\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES / "todo", tmp_path / "todo"))


def test_compile_errors_name_file_line_col(project: Path) -> None:
    (project / "app.js").write_text(BROKEN_APP_JS)  # without app.js no page can run
    server = DevServer(project)
    try:
        assert server.served.bundle_dir is None
        assert server.served.errors and server.served.errors[0].startswith("app.js:")
    finally:
        server.stop()


def test_a_broken_page_fails_alone(project: Path) -> None:
    (project / "pages/stats/stats.wxml").write_text(BROKEN_WXML)
    server = DevServer(project)
    try:
        assert server.served.bundle_dir is not None and server.served.errors == []
        assert server.served.page_errors and server.served.page_errors[0].startswith("pages/stats/stats.wxml:2:")
    finally:
        server.stop()


@pytest.mark.browser
def test_a_broken_page_opens_as_an_error_page(project: Path, context: Any, tmp_path: Path) -> None:
    (project / "pages/stats/stats.wxml").write_text(BROKEN_WXML)
    with DevServer(project) as server:
        sim = Sim(server, context.new_page()).open("pages/stats/stats")
        page = sim.page
        box = page.locator("wx-view.mb-error-page")
        wait_for(lambda: box.count() == 1, "the error page")
        assert box.locator(".mb-error-page__title").inner_text() == "This page could not be opened"
        assert box.locator(".mb-error-page__reason").first.inner_text().startswith("pages/stats/stats.wxml:2:")
        assert box.evaluate("n => getComputedStyle(n).textAlign") == "center"
        page.locator("#mb-device-frame").screenshot(path=str(tmp_path / "error-page.png"))
        console = page.locator("#mb-console-list .mb-console-error", has_text="pages/stats/stats.wxml:2:")
        wait_for(lambda: console.count() >= 1, "the error in the console")
        # the rest of the app runs: the home button opens the home page
        page.locator(".mb-navbar-home").click()
        wait_for(lambda: page.locator(".mb-navbar-text").inner_text() == "My todos", "the home page")
        page.close()


def test_cli_reports_compile_errors(project: Path, tmp_path: Path) -> None:
    (project / "app.js").write_text(BROKEN_APP_JS)
    result = CliRunner().invoke(app, ["dev", str(project), "--screenshot", str(tmp_path / "shots")])
    assert result.exit_code == 1
    assert "compile failed" in result.output and "app.js:" in result.output


@pytest.mark.browser
def test_cli_screenshots_an_app_with_a_broken_page_and_exits_1(project: Path, tmp_path: Path) -> None:
    (project / "pages/stats/stats.wxml").write_text(BROKEN_WXML)
    out, results = tmp_path / "shots", []
    # a thread of its own: the CLI starts its own Playwright, which refuses to nest in the fixture's
    worker = threading.Thread(target=lambda: results.append(
        CliRunner().invoke(app, ["dev", str(project), "--screenshot", str(out), "--no-discover-queries"])))
    worker.start()
    worker.join(timeout=120)
    result = results[0]
    assert result.exit_code == 1, result.output
    assert "compiled with 1 error" in result.output and "pages/stats/stats.wxml:2:" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["pages__index__index.png", "pages__stats__stats.png"]


def test_cli_refuses_unknown_device(project: Path) -> None:
    result = CliRunner().invoke(app, ["dev", str(project), "--device", "nokia"])
    assert result.exit_code != 0 and "unknown device" in result.output


@pytest.mark.browser
def test_reload_on_change_and_errors_in_page(project: Path, context: Any) -> None:
    with DevServer(project) as server:
        stop = threading.Event()
        watcher = threading.Thread(target=server.watch, args=(stop,), daemon=True)
        watcher.start()
        try:
            sim = Sim(server, context.new_page()).open()
            assert sim.page.locator(".mb-navbar-text").inner_text() == "My todos"
            index_json = project / "pages/index/index.json"
            index_json.write_text('{ "navigationBarTitleText": "Changed" }')
            wait_for(lambda: sim.page.locator(".mb-navbar-text").count()
                     and sim.page.locator(".mb-navbar-text").inner_text() == "Changed", "the reloaded page")
            # a broken page fails alone: the app reloads, the console names the file:line:col
            (project / "pages/stats/stats.wxml").write_text(BROKEN_WXML)
            found = sim.page.locator("#mb-console-list .mb-console-error", has_text="pages/stats/stats.wxml:2:")
            wait_for(lambda: found.count() == 1, "the page's compile error in the console")
            assert not sim.page.locator("#mb-errors").is_visible()
            wait_for(lambda: sim.page.locator(".mb-navbar-text").inner_text() == "Changed", "the app running")
            state = httpx.get(server.url + "state").json()
            assert state["errors"] == [] and state["pageErrors"][0].startswith("pages/stats/stats.wxml:2:")
            # without app.js nothing runs: the overlay and the console say why
            (project / "app.js").write_text(BROKEN_APP_JS)
            errors = sim.page.locator("#mb-errors")
            wait_for(lambda: errors.is_visible(), "the compile error overlay")
            assert "app.js:" in errors.inner_text()
            assert sim.page.locator("#mb-console-list .mb-console-error", has_text="app.js:").count() == 1
            state = httpx.get(server.url + "state").json()
            assert state["errors"][0].startswith("app.js:")
            sim.page.close()
        finally:
            stop.set()
            (project / "pages/index/index.json").write_text("{}")  # wake the watcher so it sees the stop
            watcher.join(timeout=10)


@pytest.mark.browser
def test_screenshots_of_every_page(tmp_path: Path, browser: Any) -> None:
    with DevServer(EXAMPLES / "shop") as server:
        shots = screenshot_pages(server.url, server.served.bundle().page_paths(), tmp_path / "shots", "iphone-se",
                                 browser=browser)
    assert sorted(p.name for p in shots) == ["pages__cart__cart.png", "pages__detail__detail.png", "pages__home__home.png",
                                             "pages__mine__mine.png"]
    for shot in shots:
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    with pytest.raises(ValueError, match="unknown device"):
        screenshot_pages("http://127.0.0.1:1/", [], tmp_path, "nokia")
