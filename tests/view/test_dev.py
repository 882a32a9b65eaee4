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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES / "todo", tmp_path / "todo"))


def test_compile_errors_name_file_line_col(project: Path) -> None:
    (project / "pages/stats/stats.wxml").write_text(BROKEN_WXML)
    server = DevServer(project)
    try:
        assert server.served.bundle_dir is None
        assert server.served.errors and server.served.errors[0].startswith("pages/stats/stats.wxml:2:")
    finally:
        server.stop()


def test_cli_reports_compile_errors(project: Path, tmp_path: Path) -> None:
    (project / "pages/stats/stats.wxml").write_text(BROKEN_WXML)
    result = CliRunner().invoke(app, ["dev", str(project), "--screenshot", str(tmp_path / "shots")])
    assert result.exit_code == 1
    assert "compile failed" in result.output and "pages/stats/stats.wxml:2:" in result.output


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
            (project / "pages/stats/stats.wxml").write_text(BROKEN_WXML)
            errors = sim.page.locator("#mb-errors")
            wait_for(lambda: errors.is_visible(), "the compile error overlay")
            assert "pages/stats/stats.wxml:2:" in errors.inner_text()
            state = httpx.get(server.url + "state").json()
            assert state["errors"][0].startswith("pages/stats/stats.wxml:2:")
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
