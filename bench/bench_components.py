"""Components bench: 100 `van-cell`s in a wx:for against 100 plain `<view>`s, same run.

    .venv/bin/python bench/bench_components.py

Prints, for each page: first render (time to open the page, patch bytes) and a one-item update
(setData on one row: time, patch bytes), with the ratio of van-cell to view.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minibox.testing import launch  # noqa: E402
from minibox.view.tree import HeadlessView  # noqa: E402
from tests.components.vant import build_vant_project  # noqa: E402

ROWS = 100
RUNS = 15

PAGE_JS = """Page({ data: { rows: [] },
  onLoad() { const rows = []; for (let i = 0; i < %d; i++) rows.push({ id: i, title: 'Payee ' + i, amount: (i * 1.5).toFixed(2) });
             this.setData({ rows }) },
  bump(i) { this.setData({ ['rows[' + i + '].amount']: 'changed' }) } })""" % ROWS

PAGES = {
    "cells": "<van-cell-group><van-cell wx:for='{{rows}}' wx:key='id' title='{{item.title}}' value='{{item.amount}}'"
             " label='CNY' is-link/></van-cell-group>",
    "views": "<view class='group'><view wx:for='{{rows}}' wx:key='id' class='cell'><view class='title'>{{item.title}}"
             "</view><view class='label'>CNY</view><view class='value'>{{item.amount}}</view></view></view>",
}


class _Meter:
    """Counts the bytes of patch messages the view receives."""

    bytes = 0

    @classmethod
    def install(cls) -> None:
        original = HeadlessView.on_message

        def on_message(self: HeadlessView, message: dict[str, Any]) -> None:
            if message.get("t") == "patch" or "ops" in message:
                cls.bytes += len(json.dumps(message, separators=(",", ":")))
            original(self, message)

        HeadlessView.on_message = on_message  # type: ignore[method-assign]


def measure(project: Path, page: str) -> dict[str, float]:
    first_t, first_b, upd_t, upd_b = [], [], [], []
    with launch(project, path="pages/blank/index") as mp:
        for run in range(RUNS):
            _Meter.bytes = 0
            t0 = time.perf_counter()
            mp.relaunch(f"/pages/{page}/index")
            first_t.append(time.perf_counter() - t0)
            first_b.append(_Meter.bytes)
            assert len(mp.current_page.query_selector_all("van-cell" if page == "cells" else ".cell")) == ROWS
            _Meter.bytes = 0
            t0 = time.perf_counter()
            mp.current_page.call_method("bump", run % ROWS)
            upd_t.append(time.perf_counter() - t0)
            upd_b.append(_Meter.bytes)
        assert not mp.errors, mp.errors[:1]
    return {"first_ms": statistics.median(first_t) * 1000, "first_bytes": statistics.median(first_b),
            "update_ms": statistics.median(upd_t) * 1000, "update_bytes": statistics.median(upd_b)}


def main() -> None:
    _Meter.install()
    work = Path(tempfile.mkdtemp(prefix="minibox-bench-components-"))
    project = build_vant_project(work / "p", {**PAGES, "blank": "<view/>"}, using={"van-cell": "cell", "van-cell-group": "cell-group"},
                                 scripts={"cells": PAGE_JS, "views": PAGE_JS})
    views = measure(project, "views")
    cells = measure(project, "cells")
    print(f"{ROWS} rows, median of {RUNS} runs          {'<view>':>12} {'van-cell':>12} {'ratio':>8}")
    for key, label in [("first_ms", "first render (ms)"), ("first_bytes", "first render patch bytes"),
                       ("update_ms", "one-item update (ms)"), ("update_bytes", "one-item update patch bytes")]:
        ratio = cells[key] / views[key] if views[key] else float("nan")
        print(f"{label:<38} {views[key]:>12.1f} {cells[key]:>12.1f} {ratio:>7.2f}x")


if __name__ == "__main__":
    main()
