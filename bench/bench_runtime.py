"""Runtime benchmark: a 1,000-item wx:for list, first render vs. a one-row setData.

Prints times and patch bytes for both and their ratios (the update should cost a small fraction
of the first render, and its patch should not grow with the list). Also prints the worker launch
time beside creating a bare engine in-process, as the baseline for the process boundary.

    .venv/bin/python bench/bench_runtime.py [--rows 1000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from minibox.host import Host, HostConfig
from minibox.runtime.bundle import LoadedBundle
from minibox.runtime.engine import Engine
from minibox.testing import compile_cached, launch
from minibox.view.tree import HeadlessView
from tests.conftest import write_project

PAGE = {
    "pages/list/list.wxml": '<view class="list"><view wx:for="{{list}}" wx:key="id" class="row" data-id="{{item.id}}">'
                            '<text class="name">{{item.name}}</text><text class="n">{{index}}</text></view></view>',
    "pages/list/list.js": """Page({
      data: { list: [] },
      fill(n) { const l = []; for (let i = 0; i < n; i++) l.push({ id: i, name: 'row ' + i }); this.setData({ list: l }) },
      clear() { this.setData({ list: [] }) },
      rename(v) { this.setData({ ["list[" + (this.data.list.length >> 1) + "].name"]: v }) },
    })""",
}


def measure(mp, method: str, *args) -> tuple[float, int]:
    sizes: list[int] = []
    mp.instance.listeners.append(lambda m: sizes.append(len(json.dumps(m["ops"]))) if m.get("t") == "patch" else None)
    t0 = time.perf_counter()
    mp.instance.command("callMethod", {"page": mp.current_page.id, "method": method, "args": list(args)})
    elapsed = time.perf_counter() - t0
    mp.instance.listeners.clear()
    return elapsed, sum(sizes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    console = Console()
    project = write_project(Path(tempfile.mkdtemp()) / "bench", PAGE)
    first: list[float] = []
    update: list[float] = []
    first_bytes = update_bytes = 0
    with launch(project, cpu_budget=60) as mp:
        for i in track(range(args.repeat), description="render + update", console=console):
            measure(mp, "clear")
            t, first_bytes = measure(mp, "fill", args.rows)
            first.append(t)
            t, update_bytes = measure(mp, "rename", f"changed {i}")
            update.append(t)
    launches: list[float] = []
    engines: list[float] = []
    host = Host(HostConfig(data_dir=Path(tempfile.mkdtemp())))
    bundle = LoadedBundle.from_dir(compile_cached(project))
    for _ in track(range(20), description="launch", console=console):
        t0 = time.perf_counter()
        instance = host.start(bundle, app_id="wxbench", user_id="u", views=[HeadlessView()], virtual_time=True)
        instance.launch()
        launches.append(time.perf_counter() - t0)
        instance.close()
        t0 = time.perf_counter()
        Engine().eval("1")
        engines.append(time.perf_counter() - t0)
    host.close()

    med = statistics.median
    table = Table(title=f"{args.rows}-row wx:for list, median of {args.repeat}")
    for col in ("figure", "first render", "one-row update", "update / first"):
        table.add_column(col)
    table.add_row("time (ms, incl. bridge)", f"{med(first) * 1000:.2f}", f"{med(update) * 1000:.2f}",
                  f"{med(update) / med(first):.3f}")
    table.add_row("patch bytes", str(first_bytes), str(update_bytes), f"{update_bytes / first_bytes:.5f}")
    console.print(table)
    t2 = Table(title="instance start: pooled worker + framework + bundle + launch (median of 20)")
    for col in ("figure", "ms", "ratio to bare engine"):
        t2.add_column(col)
    t2.add_row("bare QuickJS context in-process (baseline)", f"{med(engines) * 1000:.2f}", "1")
    t2.add_row("sandboxed instance (own process, seccomp, rlimits)", f"{med(launches) * 1000:.1f}",
               f"{med(launches) / med(engines):.0f}x")
    console.print(t2)


if __name__ == "__main__":
    main()
