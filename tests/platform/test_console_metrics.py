"""The console's Metrics tab (figures and SVG charts from ingested telemetry) and the rollout guard in the
release form, in Chromium (issue 11). The harness (login, waiting for a drawn page, screenshots in both
languages) is test_console's."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from minibox.package import HostKeyPair
from minibox.platform.apps import service as apps
from minibox.platform.context import Ctx
from minibox.platform.hosts import service as hosts
from minibox.platform.release import guard as rguard
from minibox.platform.telemetry import service as tsvc
from minibox.telemetry_sig import mac_key, sign_body

from .conftest import World, auth, project_zip
from .test_console import WAIT, Console, chromium, shots  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
DAY_MS = 86_400_000


def ok(r: Any) -> Any:
    assert r.status_code < 300, r.text
    return r


def app_with_host(world: World, prefix: str) -> tuple[str, Any]:
    app_id = f"{prefix}-{uuid.uuid4().hex[:6]}"
    with world.platform.db.write() as s:
        ctx = Ctx(s, world.platform, world.a.users["admin"])
        apps.create_app(ctx, app_id, "Metrics app")
        creds = hosts.register(ctx, f"host {app_id}", None)
        hosts.grant(ctx, creds.host.host_id, app_id)
    return app_id, creds


def ingest(world: World, creds: Any, events: list[dict[str, Any]]) -> None:
    """Through the platform's ingest path: a batch signed with the host's key."""
    pair = HostKeyPair.from_private_pem(creds.private_key_pem.encode())
    platform_pub = tsvc.telemetry_key(world.platform).public_key().public_bytes_raw()
    key = mac_key(pair.private, platform_pub, creds.host.host_id)
    body = json.dumps({"format": 1, "batch_id": secrets.token_hex(16), "host_id": creds.host.host_id,
                       "created_at": int(time.time() * 1000), "dropped": 0, "events": events}).encode()
    res = tsvc.ingest(world.platform, creds.api_key, sign_body(key, body), body)
    assert res.stored == len(events)


def ev(kind: str, app: str, version: str, t: int, user: str, name: str = "", data: dict[str, Any] | None = None
       ) -> dict[str, Any]:
    return {"k": kind, "t": t, "a": app, "v": version, "u": user, "s": secrets.token_hex(8), "n": name,
            "d": data or {}}


def test_metrics_tab_shows_figures_and_charts(world: World, chromium: Any, shots: Path) -> None:  # noqa: F811
    app_id, creds = app_with_host(world, "metrics")
    now = int(time.time() * 1000)
    users = [secrets.token_hex(16) for _ in range(6)]
    events: list[dict[str, Any]] = []
    for day in (2, 1, 0):
        t = now - day * DAY_MS - 60_000
        for i, u in enumerate(users):
            version = "1.1.0" if (day == 0 and i < 3) or (day == 1 and i < 1) else "1.0.0"
            events.append(ev("launch", app_id, version, t, u, data={"ms": 100 + 100 * i}))
            events.append(ev("session_end", app_id, version, t, u,
                             data={"ms": 5000, "errors": 1 if version == "1.1.0" else 0, "crashed": False}))
            events.append(ev("api", app_id, version, t, u, "request", {"o": "granted", "c": 2}))
        events.append(ev("error", app_id, "1.1.0", t, users[0], "Cannot read properties of undefined (reading 'x')",
                         {"loc": "pages/cart/cart.js:12", "stack": ["pages/cart/cart.js:12", "app.js:3"]}))
    events.append(ev("api", app_id, "1.0.0", now - 60_000, users[5], "getLocation", {"o": "denied", "c": 1}))
    ingest(world, creds, events)
    m = ok(world.client.get(f"/api/v1/apps/{app_id}/metrics", headers=auth(world.a, "admin"))).json()
    assert m["launches"] == 18 and m["active_users"] == 6

    p, totp = world.new_user("operator")
    c = Console(chromium, world, shots).login(p.username, totp)
    page = c.go(f"/apps/{app_id}/metrics")
    page.wait_for_selector(".stats .m-launches", timeout=WAIT)
    assert page.inner_text(".m-launches .stat-value") == "18"
    assert page.inner_text(".m-users .stat-value") == "6"
    assert page.inner_text(".m-sessions .stat-value") == "18"
    assert page.inner_text(".m-error-rate .stat-value") == f"{100 * 4 / 18:.2f}%"
    assert page.inner_text(".m-crash-free .stat-value") == "100.00%"
    assert page.inner_text(".m-p50 .stat-value").endswith(" ms")
    assert page.inner_text(".m-p95 .stat-value").endswith(" ms")
    # charts drawn in the page as SVG: activity (launches and errors), error rate per version, grayscale reach
    assert page.locator("svg.chart").count() == 3
    assert page.locator("svg.chart .series polyline").count() >= 2
    assert page.eval_on_selector("svg.chart", "n => n.namespaceURI") == "http://www.w3.org/2000/svg"
    assert page.locator("svg.chart.reach rect").count() >= 4  # 3 days, two versions on two of them
    shares = page.eval_on_selector_all("svg.chart.reach rect title", "ns => ns.map((n) => n.textContent)")
    assert any(s.startswith("1.1.0") and "50.0%" in s for s in shares), shares
    # top errors with the stack and the first version; API calls by name and outcome
    row = page.locator("tr:has-text('Cannot read properties')")
    assert "pages/cart/cart.js:12" in row.inner_text() and "1.1.0" in row.inner_text()
    row.locator("summary").click()
    assert "app.js:3" in row.locator("pre").inner_text()
    # dates in the user's time zone (the browser's: Asia/Shanghai)
    first_seen = m["top_errors"][0]["first_seen"]
    local = page.evaluate("(iso) => new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'medium', "
                          "timeZone: 'Asia/Shanghai' }).format(new Date(iso))", first_seen)
    assert local in row.inner_text(), (local, row.inner_text())
    api_rows = page.locator(".card:has(h2:has-text('API calls')) tbody tr")
    assert api_rows.count() == 2
    assert "request" in api_rows.nth(0).inner_text() and "Granted" in api_rows.nth(0).inner_text()
    assert "36" in api_rows.nth(0).inner_text()
    assert "Denied" in api_rows.nth(1).inner_text()
    c.shot("40-metrics", both=True)
    # one version only
    page.select_option("select.metrics-version", "1.1.0")
    page.wait_for_selector("#view:not([data-stale]) .stats", timeout=WAIT)
    c.settle()
    page.wait_for_function("() => document.querySelector('.m-launches .stat-value').textContent === '4'",
                           timeout=WAIT)
    c.close()

    # in Chinese: the tab, the figures' labels, the charts
    zh_p, zh_totp = world.new_user("reviewer")
    zh = Console(chromium, world, shots, lang="zh-CN").login(zh_p.username, zh_totp)
    page = zh.go(f"/apps/{app_id}/metrics")
    page.wait_for_selector(".tab.active:has-text('数据')", timeout=WAIT)
    assert "活跃用户" in page.inner_text(".m-users .stat-label")
    assert page.locator("svg.chart").count() == 3
    zh.close()


def test_release_form_sets_a_guard_on_a_gray_release(world: World, chromium: Any, shots: Path,  # noqa: F811
                                                     tmp_path: Path) -> None:
    app_id, creds = app_with_host(world, "guarded")
    ok(world.client.post(f"/api/v1/apps/{app_id}/members", headers=auth(world.a, "admin"),
                         json={"user_id": world.a.users["developer"].user_id}))
    for v in ("1.0.0", "1.1.0"):
        ok(world.client.post(f"/api/v1/apps/{app_id}/versions", headers=auth(world.a, "developer"),
                             data={"version": v, "kind": "source"},
                             files={"file": ("src.zip", project_zip(tmp_path, title=v), "application/zip")}))
        ok(world.client.post(f"/api/v1/apps/{app_id}/versions/{v}/submit", headers=auth(world.a, "developer"), json={}))
        ok(world.client.post(f"/api/v1/apps/{app_id}/versions/{v}/approve", headers=auth(world.a, "reviewer"), json={}))
    ok(world.client.post(f"/api/v1/apps/{app_id}/releases", headers=auth(world.a, "operator"), json={"version": "1.0.0"}))

    p, totp = world.new_user("operator")
    op = Console(chromium, world, shots).login(p.username, totp)
    page = op.go(f"/apps/{app_id}/releases")
    page.select_option("form.release select[name=version]", "1.1.0")
    page.select_option("form.release select[name=mode]", "gray")
    page.fill("form.release input[name=percentage]", "10")
    assert page.is_hidden("form.release .guard-inputs")
    page.check("form.release input.guard-on")
    assert page.input_value("input[name='guard.max_error_ratio']") == "1.5"
    assert page.input_value("input[name='guard.min_crash_free']") == "99.5"
    assert page.input_value("input[name='guard.min_sessions']") == "500"
    page.fill("input[name='guard.min_crash_free']", "150")  # not a percentage: refused at the field
    page.click("form.release button[type=submit]")
    page.wait_for_selector(".field[data-field='guard.min_crash_free'].invalid .field-error:has-text('from 0 to 100')",
                           timeout=WAIT)
    page.fill("input[name='guard.min_crash_free']", "99")
    page.fill("input[name='guard.min_sessions']", "200")
    page.fill("input[name='guard.max_error_ratio']", "0.5")
    page.click("form.release button[type=submit]")
    page.wait_for_selector(".field[data-field='guard.max_error_ratio'].invalid .field-error:has-text('from 1 to 100')",
                           timeout=WAIT)
    op.shot("41-release-guard")
    page.fill("input[name='guard.max_error_ratio']", "1.5")
    page.click("form.release button[type=submit]")
    assert "Errors ≤ 1.5× the full release, crash-free ≥ 99.00%, over ≥ 200 sessions" in page.inner_text("dialog.modal")
    op.confirm("Release")
    op.toast("1.1.0 released.")
    releases = ok(world.client.get(f"/api/v1/apps/{app_id}/releases", headers=auth(world.a, "operator"))).json()
    gray = next(r for r in releases if r["active"] and r["kind"] == "gray")
    assert gray["guard"] == {"max_error_ratio": 1.5, "min_crash_free": 0.99, "min_sessions": 200, "baseline": "1.0.0"}

    # the current releases show the guard and, once evaluated, its verdict
    page = op.go(f"/apps/{app_id}/releases")
    cell = page.locator(".guard-cell")
    assert "200" in cell.inner_text() and "1.0.0" in cell.inner_text() and "Not checked yet" in cell.inner_text()
    assert rguard.evaluate_release(world.platform, gray["id"])["decision"] == "wait"
    page = op.go(f"/apps/{app_id}/releases")
    assert "Waiting for sessions" in page.inner_text(".guard-cell")
    op.shot("42-release-guard-state", both=True)

    # the new version errors in half its sessions: the guard stops it, the history says so
    now = int(time.time() * 1000)
    ingest(world, creds, [ev("session_end", app_id, v, now, secrets.token_hex(16),
                             data={"errors": 1 if (v == "1.1.0" and i % 2) or (v == "1.0.0" and i < 2) else 0})
                          for v in ("1.0.0", "1.1.0") for i in range(200)])
    assert rguard.evaluate_release(world.platform, gray["id"])["decision"] == "fail"
    page = op.go(f"/apps/{app_id}/releases")
    assert page.locator(".guard-cell").count() == 0  # only the full release is live
    page.wait_for_selector(".card:has(h2:has-text('Release history')) .badge:has-text('Stopped by its guard')",
                           timeout=WAIT)
    why = page.inner_text(".card:has(h2:has-text('Release history')) .guard-reasons")
    assert "Error rate 50.00% of 1.1.0 is above 1.5× the 1.00% of 1.0.0" in why, why
    op.shot("43-release-stopped-by-guard", both=True)
    op._switch("zh-CN")  # the reasons are drawn in the console's language from the recorded figures
    why = page.inner_text(".guard-reasons")
    assert "1.1.0 的错误率 50.00% 高于 1.0.0 的 1.00% 的 1.5 倍" in why, why
    op.close()
