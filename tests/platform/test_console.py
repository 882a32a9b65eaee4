"""The minimal console in a real browser: login with the CSRF flow, data shown as text only (MGT-09)."""

from __future__ import annotations

import pytest

from minibox.platform.apps import service as apps
from minibox.platform.console import CSP
from minibox.platform.context import Ctx

from .conftest import PASSWORD, World

XSS = '<img src=x onerror="window.__pwned=1">'


def test_console_is_static_with_a_strict_csp(world: World) -> None:
    r = world.client.get("/console")
    assert r.status_code == 200 and r.headers["content-security-policy"] == CSP
    assert "<script>" not in r.text and "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert world.client.get("/console/app.js").headers["content-type"].startswith("text/javascript")
    assert world.client.get("/console/../api.py").status_code == 404
    assert ".innerHTML" not in world.client.get("/console/app.js").text


@pytest.mark.browser
def test_developer_logs_in_and_sees_hostile_names_as_text(world: World) -> None:
    from playwright.sync_api import sync_playwright

    from minibox.view.devserver import CHROMIUM, CHROMIUM_ARGS

    with world.platform.db.write() as s:
        ctx = Ctx(s, world.platform, world.a.users["admin"])
        apps.create_app(ctx, "xss-app", XSS)
        apps.add_member(ctx, "xss-app", world.a.users["developer"].user_id)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{world.server.url}/")
            page.fill("input[name=username]", world.a.users["developer"].username)
            page.fill("input[name=password]", PASSWORD)
            page.click("form#login button")
            page.wait_for_selector("text=xss-app", timeout=15_000)
            assert XSS in page.inner_text("#view")
            assert page.evaluate("window.__pwned") is None
            assert page.inner_text("#who").endswith("(developer)")
            page.click("#logout")
            page.wait_for_selector("form#login:not([hidden])", timeout=15_000)
        finally:
            browser.close()
