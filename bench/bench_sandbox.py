"""Sandbox benchmark: what the process boundary costs, each figure beside the in-process one.

- launch: a sandboxed instance (pooled worker, seccomp, rlimits) vs. a QuickJS engine with the
  same framework and bundle loaded in this process;
- API round trip: `wx.getStorageSync` from JS through the worker bridge vs. the same registry
  call from an in-process engine;
- memory per live instance: the worker's RSS and PSS vs. this process's RSS growth per
  in-process engine, and instances per GiB for both.

    .venv/bin/python bench/bench_sandbox.py [--instances 20] [--calls 2000]
"""

from __future__ import annotations

import argparse
import gc
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
from minibox.apis.registry import CallContext
from minibox.host import Host, HostConfig
from minibox.host.host import _EventSink
from minibox.policy.storage import Owner
from minibox.runtime.bundle import LoadedBundle, framework_sources
from minibox.runtime.engine import Engine
from minibox.testing import compile_cached
from minibox.view.tree import HeadlessView
from tests.conftest import write_project

APP = {
    "pages/p/p.wxml": '<view wx:for="{{items}}" wx:key="*this" class="item">{{item}}</view>',
    "pages/p/p.js": """Page({ data: { items: ['a', 'b', 'c'] },
      loop(n) { for (let i = 0; i < n; i++) wx.getStorageSync('k') } })""",
}


def proc_kb(pid: int | str, field: str, name: str = "status") -> int:
    for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def in_process_engine(host: Host, bundle: LoadedBundle) -> Engine:
    """The same framework and bundle in this process: the baseline without the boundary."""
    ctx = CallContext(host.config.host_id, "wxbench", "u", host.services_for(bundle, "wxbench", _EventSink()))
    engine = Engine()

    def call(payload: str) -> str:
        msg = json.loads(payload)
        try:
            return json.dumps({"ok": host.registry.call(ctx, msg["api"], msg["args"])})
        except Exception as exc:
            return json.dumps({"err": {"errMsg": str(exc)}})

    engine.expose("__host_call", call)
    for name, src in [*framework_sources(), ("render.js", bundle.render_js), ("logic.js", bundle.logic_js)]:
        engine.eval(src, name)
    cfg = dict(bundle.config)
    cfg.update(system={}, apis=[{"name": n, "kind": host.registry.get(n).kind} for n in host.registry.names()])
    for fn, fargs in (("init", {"config": cfg}), ("launch", {})):
        engine.call_json("__mbDispatch", json.dumps({"fn": fn, "args": fargs, "now": 0}))
    engine.drain_jobs()
    return engine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    console = Console()
    host = Host(HostConfig(data_dir=Path(tempfile.mkdtemp())))
    host.storage.set(Owner(host.config.host_id, "wxbench", "u"), "k", {"v": 1})
    bundle = LoadedBundle.from_dir(compile_cached(write_project(Path(tempfile.mkdtemp()) / "app", APP)))

    def start():
        inst = host.start(bundle, app_id="wxbench", user_id="u", views=[HeadlessView()], virtual_time=True)
        inst.launch()
        return inst

    sandboxed, inproc = [], []
    for _ in track(range(15), description="launch", console=console):
        t0 = time.perf_counter()
        start().close()
        sandboxed.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        in_process_engine(host, bundle)
        inproc.append(time.perf_counter() - t0)

    inst = start()
    page = inst.command("pages", {})[-1]["page"]
    t0 = time.perf_counter()
    inst.command("callMethod", {"page": page, "method": "loop", "args": [args.calls]})
    worker_call = (time.perf_counter() - t0) / args.calls
    inst.close()
    engine = in_process_engine(host, bundle)
    engine.eval("globalThis.__benchLoop = function (n) { MB.pages[0].loop(n) }")
    t0 = time.perf_counter()
    engine.eval(f"__benchLoop({args.calls})")
    inproc_call = (time.perf_counter() - t0) / args.calls
    del engine

    live = [start() for _ in track(range(args.instances), description="live workers", console=console)]
    rss = [proc_kb(i.worker_pid, "VmRSS") for i in live]
    pss = [proc_kb(i.worker_pid, "Pss", "smaps_rollup") for i in live]
    for i in live:
        i.close()
    gc.collect()
    before = proc_kb("self", "VmRSS")
    engines = [in_process_engine(host, bundle) for _ in range(args.instances)]
    per_engine = max(1, (proc_kb("self", "VmRSS") - before) / len(engines))
    del engines
    host.close()

    med = statistics.median
    table = Table(title="sandbox cost: worker process vs. in-process engine (same framework, same app)")
    for col in ("figure", "sandboxed (worker)", "in-process", "ratio"):
        table.add_column(col)
    table.add_row("launch (ms, median of 15)", f"{med(sandboxed) * 1000:.1f}", f"{med(inproc) * 1000:.1f}",
                  f"{med(sandboxed) / med(inproc):.1f}x")
    table.add_row(f"wx.getStorageSync round trip (µs, {args.calls} calls)", f"{worker_call * 1e6:.1f}",
                  f"{inproc_call * 1e6:.1f}", f"{worker_call / inproc_call:.1f}x")
    table.add_row(f"memory per live instance (KiB, median of {args.instances})",
                  f"{med(rss):.0f} RSS / {med(pss):.0f} PSS", f"{per_engine:.0f} RSS growth",
                  f"{med(pss) / per_engine:.1f}x (PSS)")
    table.add_row("instances per GiB", f"{1024 * 1024 / med(pss):.0f}", f"{1024 * 1024 / per_engine:.0f}",
                  f"{per_engine / med(pss):.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
