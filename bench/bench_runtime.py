"""Runtime benchmark: a wx:for list's first fill and one-row setData, beside WeChat's own simulator.

For each list size (100, 1,000, 10,000 rows) it times, through `minibox.testing` (sandboxed worker,
bridge, headless view), `setData({list})` on an empty list (first fill) and
`setData({'list[mid].name': ...})` (one-row update), with the patch bytes; then 1,000 @vant/weapp
`van-cell`s filled the same way. The peer runs the same pages in the same run: WeChat's
`miniprogram-simulate` (j-component, exparser, jsdom) under Node, bench/bench_runtime_peer.js, from
a git-ignored npm cache (bench/compat.py `peer_modules`). The table gives both sides, the ratio and
issue 13's goal. `--no-peer` measures minibox alone. Also prints the worker launch time beside
creating a bare engine in-process, as the baseline for the process boundary.

    .venv/bin/python bench/bench_runtime.py [--rows 100,1000,10000] [--repeat 10] [--no-peer]

The launch of a page of 50 @vant/weapp components from a verified cached package is
bench/bench_launch.py; the JS side of these fills, timed in the engine, bench/profile_js.py.
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
    """Time one page method call (its setData, render, patches over the bridge, the headless view
    applying them); patch bytes are counted after the clock stops."""
    patches: list[dict] = []
    mp.instance.listeners.append(lambda m: patches.append(m) if m.get("t") == "patch" else None)
    page = mp.current_page.id
    t0 = time.perf_counter()
    mp.instance.command("callMethod", {"page": page, "method": method, "args": list(args)})
    elapsed = time.perf_counter() - t0
    mp.instance.listeners.clear()
    return elapsed, sum(len(json.dumps(m["ops"])) for m in patches)


CELLS_JS = """Page({ data: { rows: [] },
  fill(n) { const rows = []; for (let i = 0; i < n; i++) rows.push({ id: i, title: 'Payee ' + i, amount: (i * 1.5).toFixed(2) });
            this.setData({ rows }) },
  clear() { this.setData({ rows: [] }) } })"""
CELLS_WXML = ("<van-cell-group><van-cell wx:for='{{rows}}' wx:key='id' title='{{item.title}}' value='{{item.amount}}'"
              " label='CNY' is-link/></van-cell-group>")
#: issue 13's goals, as minibox / peer
GOALS = {"fill": 0.25, "update": 0.1, "cells": 0.25}


def run_minibox(sizes: list[int], repeat: int, cells: int, console: Console) -> dict:
    out: dict = {"list": {}, "cells": None}
    project = write_project(Path(tempfile.mkdtemp()) / "bench", PAGE)
    with launch(project, cpu_budget=120) as mp:
        for n in sizes:  # an empty list of sizes: the van-cells alone
            fill, update = [], []
            fill_bytes = update_bytes = 0
            for i in track(range(-1, _repeat(n, repeat)), description=f"minibox {n} rows", console=console):
                measure(mp, "clear")  # round -1 warms up and is not counted
                t, fill_bytes = measure(mp, "fill", n)
                if i >= 0:
                    fill.append(t)
                t, update_bytes = measure(mp, "rename", f"changed {i}")
                if i >= 0:
                    update.append(t)
            rows = mp.current_page.query_selector_all(".row")
            assert len(rows) == n and rows[n // 2].query_selector(".name").text.startswith("changed")
            out["list"][n] = {"fill_ms": fill, "update_ms": update, "fill_bytes": fill_bytes, "update_bytes": update_bytes}
    if cells:
        from tests.components.vant import build_vant_project

        vant = build_vant_project(Path(tempfile.mkdtemp()) / "cells", {"cells": CELLS_WXML},
                                  using={"van-cell": "cell", "van-cell-group": "cell-group"}, scripts={"cells": CELLS_JS})
        with launch(vant, path="pages/cells/index", cpu_budget=120) as mp:
            fill = []
            for i in track(range(-1, max(3, repeat // 2)), description=f"minibox {cells} van-cells", console=console):
                measure(mp, "clear")  # round -1 warms up and is not counted
                t, _ = measure(mp, "fill", cells)
                if i >= 0:
                    fill.append(t)
            assert len(mp.current_page.query_selector_all("van-cell")) == cells and not mp.errors
        out["cells"] = {"fill_ms": fill}
    return out


def _repeat(n: int, repeat: int) -> int:
    return repeat if n <= 1000 else max(3, repeat // 4)


def run_peer(sizes: list[int], repeat: int, cells: int, console: Console) -> dict | None:
    """The same pages in miniprogram-simulate under Node (None, with the reason printed, when it cannot run)."""
    import shutil
    import subprocess

    try:
        from bench.compat import peer_modules

        from tests.components.vant import vant_lib

        modules = peer_modules()
        lib = vant_lib() if cells else None
    except Exception as exc:  # no npm, no network: the bench still prints minibox's side
        console.print(f"[yellow]peer not available: {exc}")
        return None
    node = shutil.which("node")
    if node is None:
        console.print("[yellow]peer not available: node is not on PATH")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps({"modules": str(modules), "vant": str(lib) if lib else None, "rows": sizes,
                                    "cells": cells, "repeat": repeat, "repeats": {n: _repeat(n, repeat) for n in sizes}}))
        with console.status("peer: miniprogram-simulate under Node"):
            proc = subprocess.run([node, str(Path(__file__).with_name("bench_runtime_peer.js")), str(spec)],
                                  capture_output=True, text=True, timeout=3600, check=False)
    if proc.returncode != 0:
        console.print(f"[yellow]peer failed: {proc.stderr.strip()[-800:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="100,1000,10000", help="list sizes, comma-separated")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--cells", type=int, default=1000, help="van-cells to fill (0: skip)")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-launch", action="store_true", help="skip the instance start figures")
    args = ap.parse_args()
    console = Console()
    sizes = [int(x) for x in args.rows.split(",") if x.strip()]
    # interleaved, a list size at a time, so that both sides share whatever else the machine runs
    mine: dict = {"list": {}, "cells": None}
    peer: dict | None = None if args.no_peer else {"list": {}, "cells": None}
    for part in [([n], 0) for n in sizes] + ([([], args.cells)] if args.cells else []):
        got = run_minibox(*part[:1], args.repeat, part[1], console)
        mine["list"].update(got["list"])
        mine["cells"] = got["cells"] or mine["cells"]
        if peer is not None:
            theirs = run_peer(*part[:1], args.repeat, part[1], console)
            if theirs is None:
                peer = None
            else:
                peer["list"].update(theirs["list"])
                peer["cells"] = theirs["cells"] or peer["cells"]

    med = statistics.median
    table = Table(title=f"wx:for list and van-cells: minibox beside miniprogram-simulate (medians; {args.repeat} runs, "
                        f"fewer above 1,000 rows)")
    for col in ("figure", "minibox ms", "peer ms", "minibox / peer", "goal", "minibox patch bytes"):
        table.add_column(col)

    def row(label: str, m: list[float], p: list[float] | None, goal: float, nbytes: str = "") -> None:
        mm = med(m) * 1000
        if p:
            pm = med(p)
            ratio = mm / pm
            verdict = "[green]met" if ratio <= goal else "[red]not met"
            table.add_row(label, f"{mm:.2f}", f"{pm:.2f}", f"{ratio:.3f}", f"<= {goal} {verdict}", nbytes)
        else:
            table.add_row(label, f"{mm:.2f}", "-", "-", f"<= {goal}", nbytes)

    for n in sizes:
        m = mine["list"][n]
        p = peer["list"].get(str(n)) if peer else None
        row(f"{n}-row first fill", m["fill_ms"], p and p["fill_ms"], GOALS["fill"], str(m["fill_bytes"]))
        row(f"{n}-row one-row update", m["update_ms"], p and p["update_ms"], GOALS["update"], str(m["update_bytes"]))
    if mine["cells"]:
        row(f"{args.cells} van-cell first fill", mine["cells"]["fill_ms"], peer and peer["cells"] and peer["cells"]["fill_ms"],
            GOALS["cells"])
    console.print(table)
    updates = [med(mine["list"][n]["update_ms"]) * 1000 for n in sizes]
    if len(updates) > 1:
        console.print(f"one-row update, largest / smallest list: {updates[-1] / updates[0]:.2f}x "
                      f"({sizes[-1] // sizes[0]}x the rows)")
    if args.no_launch:
        return
    launches: list[float] = []
    engines: list[float] = []
    project = write_project(Path(tempfile.mkdtemp()) / "bench", PAGE)
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
    t2 = Table(title="instance start: pooled worker + framework + bundle + launch (median of 20)")
    for col in ("figure", "ms", "ratio to bare engine"):
        t2.add_column(col)
    t2.add_row("bare QuickJS context in-process (baseline)", f"{med(engines) * 1000:.2f}", "1")
    t2.add_row("sandboxed instance (own process, seccomp, rlimits)", f"{med(launches) * 1000:.1f}",
               f"{med(launches) / med(engines):.0f}x")
    console.print(t2)


if __name__ == "__main__":
    main()
