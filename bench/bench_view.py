"""Browser view benchmark: patch-to-paint latency in Chromium for 1,000-row updates, beside the
headless view applying the same patches.

    .venv/bin/python bench/bench_view.py [--rounds 15]

For each update of a 1,000-row `wx:for` list (create all rows, change every row, change one row,
swap two rows) it prints:
- sandbox:   the update in the sandboxed worker (render + keyed diff), headless, end to end
- headless:  `HeadlessView.apply` of the patch (Python)
- browser:   patch applied to the DOM by the renderer, then style, layout and paint (next frame),
             measured inside Chromium from the patch's arrival
- e2e:       from the Python command to the painted frame, over the WebSocket (includes
             Playwright's frame polling)
Ratios compare with the headless figures measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from minibox.testing import launch
from minibox.view.devserver import CHROMIUM, CHROMIUM_ARGS, DevServer
from minibox.view.tree import HeadlessView

ROWS = 1000
WXML = """<view class="list">
  <view wx:for="{{rows}}" wx:key="id" class="row {{item.on ? 'on' : ''}}" data-id="{{item.id}}" bindtap="pick">
    <text class="n">{{item.id}}</text><text class="label">{{item.label}}</text>
  </view>
</view>
"""
JS = """
let gen = 0
function make(n) { const rows = []; for (let i = 0; i < n; i++) rows.push({ id: i, label: 'row ' + i, on: false }); return rows }
Page({
  data: { rows: [] },
  clear() { this.setData({ rows: [] }) },
  create() { this.setData({ rows: make(%d) }) },
  updateAll() { gen++; this.setData({ rows: this.data.rows.map(r => ({ id: r.id, label: 'row ' + r.id + ' v' + gen, on: !r.on })) }) },
  updateOne() { gen++; this.setData({ ['rows[500].label']: 'changed ' + gen }) },
  swap() { const rows = this.data.rows.slice(); const t = rows[1]; rows[1] = rows[998]; rows[998] = t; this.setData({ rows }) },
  pick() {}
})
""" % ROWS
WXSS = ".row { display: flex; padding: 16rpx 24rpx; border-bottom: 1px solid #eee; } .on { background: #f0fff4; } .n { width: 80rpx; color: #999; }"
STEPS = ("create", "updateAll", "updateOne", "swap")


def make_project(root: Path) -> Path:
    (root / "pages/list").mkdir(parents=True)
    (root / "app.json").write_text(json.dumps({"pages": ["pages/list/list"], "window": {"navigationBarTitleText": "Bench"}}))
    (root / "pages/list/list.wxml").write_text(WXML)
    (root / "pages/list/list.js").write_text(JS)
    (root / "pages/list/list.wxss").write_text(WXSS)
    return root


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def bench_headless(project: Path, rounds: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, list[float]]] = {s: {"sandbox": [], "headless": [], "ops": []} for s in STEPS}
    with launch(project, virtual_time=True) as mp:
        # every message, in order, tagged with the step that produced it; replayed below
        log: list[tuple[str, dict[str, Any]]] = []
        current = ["setup"]
        mp.instance.listeners.append(lambda m: log.append((current[0], m)))
        page = mp.current_page
        for _ in range(rounds):
            current[0] = "setup"
            page.call_method("clear")
            for step in STEPS:
                current[0] = step
                t0 = time.perf_counter()
                page.call_method(step)
                out[step]["sandbox"].append((time.perf_counter() - t0) * 1000)
                current[0] = "setup"
        # replay the same messages into a fresh headless view, timing each step's patches
        replay = HeadlessView()
        for view_msg in mp.view.pages.values():
            replay.on_message({"t": "page", "op": "open", "page": view_msg.page, "root": view_msg.root.id,
                               "path": view_msg.path})
        # the launch's own patches were sent before the listener existed: rebuild the tree they made
        _seed(replay, mp.view)
        step_ms: dict[str, float] = {}
        step_ops: dict[str, int] = {}
        last = None
        for step, msg in log:
            if step != last:
                if last in STEPS:
                    out[last]["headless"].append(step_ms.pop(last, 0.0))
                    out[last]["ops"].append(step_ops.pop(last, 0))
                last = step
            if msg.get("t") != "patch":
                replay.on_message(msg)
                continue
            t1 = time.perf_counter()
            replay.on_message(msg)
            step_ms[step] = step_ms.get(step, 0.0) + (time.perf_counter() - t1) * 1000
            step_ops[step] = step_ops.get(step, 0) + len(msg["ops"])
        if last in STEPS:
            out[last]["headless"].append(step_ms.pop(last, 0.0))
            out[last]["ops"].append(step_ops.pop(last, 0))
    return {s: {k: median(v) for k, v in d.items()} for s, d in out.items()}


def _seed(replay: HeadlessView, live: HeadlessView) -> None:
    """Give the replay view the tree the launch built: a page root with the list container."""
    for page in live.pages.values():
        root = replay.pages[page.page].root
        for child in page.root.children:
            if child.tag == "view":
                ops = [["create", child.id, "view"], ["class", child.id, child.class_name], ["insert", root.id, child.id, None]]
                replay.apply(ops)


def bench_browser(project: Path, rounds: int) -> dict[str, dict[str, float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, dict[str, list[float]]] = {s: {"browser": [], "apply": [], "e2e": []} for s in STEPS}
    with DevServer(project) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 900})
        page.goto(server.url)
        page.wait_for_function("() => window.__mbView && window.__mbView.stack.length > 0")
        deadline = time.monotonic() + 10
        while not server.served.sessions and time.monotonic() < deadline:
            time.sleep(0.01)
        session = next(iter(server.served.sessions))
        inst = session.instance
        pid = page.evaluate("() => window.__mbView.stack[0]")
        for _ in range(rounds):
            inst.command("callMethod", {"page": pid, "method": "clear", "args": []})
            page.wait_for_function("() => document.querySelectorAll('wx-view.row').length === 0")
            for step in STEPS:
                before = page.evaluate("() => window.__mbView.stats.length")
                t0 = time.perf_counter()
                inst.command("callMethod", {"page": pid, "method": step, "args": []})
                page.wait_for_function(
                    "n => { const s = window.__mbView.stats; return s.length > n && s[s.length - 1].paintMs !== null }",
                    arg=before, polling="raf")
                out[step]["e2e"].append((time.perf_counter() - t0) * 1000)
                stats = page.evaluate("n => window.__mbView.stats.slice(n)", before)
                out[step]["browser"].append(sum(s["paintMs"] for s in stats))
                out[step]["apply"].append(sum(s["applyMs"] for s in stats))
        browser.close()
    return {s: {k: median(v) for k, v in d.items()} for s, d in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp) / "bench")
        headless = bench_headless(project, args.rounds)
        browser = bench_browser(project, args.rounds)
    print(f"view benchmark: {ROWS}-row list, median of {args.rounds} rounds (ms)")
    print(f"{'update':<10} {'ops':>6} {'sandbox':>9} {'headless':>9} {'DOM apply':>10} {'patch->paint':>13} "
          f"{'e2e':>8} {'paint/headless':>15} {'e2e/sandbox':>12}")
    for step in STEPS:
        h, b = headless[step], browser[step]
        ratio = b["browser"] / h["headless"] if h["headless"] else float("nan")
        print(f"{step:<10} {h['ops']:>6.0f} {h['sandbox']:>9.2f} {h['headless']:>9.2f} {b['apply']:>10.2f} "
              f"{b['browser']:>13.2f} {b['e2e']:>8.2f} {ratio:>14.1f}x {b['e2e'] / h['sandbox']:>11.1f}x")


if __name__ == "__main__":
    main()
