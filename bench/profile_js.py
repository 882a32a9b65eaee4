"""The JS side of a render, in the engine: where a first fill or a launch spends its time.

Runs the framework and a compiled bundle in a QuickJS context in this process (no worker, no view),
times the dispatch of a command (`__mbDispatch`) and the collection of its output (`__mbCollect`),
and, with --fns, wraps framework functions with in-engine timers (`performance.now`): for each, its
calls, its total time (outermost calls) and its self time (less the wrapped functions it called).
The wrappers cost about a microsecond a call: compare self times between runs, not with the plain
dispatch figure.

    .venv/bin/python bench/profile_js.py cells 1000 [--fns mbRenderTemplate,mbCreateInstance,...]
    .venv/bin/python bench/profile_js.py list 10000
    .venv/bin/python bench/profile_js.py launch          # bench_launch.py's page of 50 Vant components
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from minibox.runtime.bundle import LoadedBundle, framework_sources
from minibox.runtime.engine import Engine
from minibox.testing import compile_cached

DEFAULT_FNS = ("mbSetData,mbApplySetData,mbRenderTemplate,mbResolveExternalClasses,mbReconcile,mbCreateNode,"
               "mbMountComponent,mbCreateInstance,mbApplyProps,mbRenderComponent,mbRenderLight,mbFlushAttach,"
               "mbCallLifetime,mbRequire")

WRAP_JS = """
(function () {
  var P = {}, stack = [];
  globalThis.__profWrap = function (name) {
    var f = globalThis[name];
    if (typeof f !== "function") return false;
    var rec = P[name] = { total: 0, self: 0, n: 0, depth: 0 };
    globalThis[name] = function () {
      rec.depth++; rec.n++;
      var frame = { child: 0 };
      stack.push(frame);
      var t0 = performance.now();
      try { return f.apply(this, arguments); } finally {
        var el = performance.now() - t0;
        stack.pop();
        rec.depth--;
        if (rec.depth === 0) rec.total += el;
        rec.self += el - frame.child;
        if (stack.length) stack[stack.length - 1].child += el;
      }
    };
    return true;
  };
  globalThis.__profReset = function () { Object.keys(P).forEach(function (k) { P[k].total = P[k].self = P[k].n = 0; }); };
  globalThis.__profDump = function () { return JSON.stringify(P); };
})();
"""


def project(kind: str, work: Path) -> tuple[Path, str | None]:
    from tests.conftest import write_project

    if kind == "list":
        from bench.bench_runtime import PAGE

        return write_project(work / "list", PAGE), None
    from tests.components.vant import build_vant_project

    if kind == "cells":
        from bench.bench_runtime import CELLS_JS, CELLS_WXML

        return build_vant_project(work / "cells", {"cells": CELLS_WXML}, using={"van-cell": "cell", "van-cell-group": "cell-group"},
                                  scripts={"cells": CELLS_JS}), "pages/cells/index"
    from bench.bench_launch import LAUNCH_JS, LAUNCH_WXML, USING

    return build_vant_project(work / "launch", {"transfer": LAUNCH_WXML}, using=USING,
                              scripts={"transfer": LAUNCH_JS}), "pages/transfer/index"


class InEngine:
    def __init__(self, bundle: LoadedBundle, fns: list[str]) -> None:
        self.engine = Engine()
        self.engine.expose("__host_call", lambda s: json.dumps({"err": {"errMsg": "no host here"}}))
        for name, src in [*framework_sources(), ("render.js", bundle.render_js), ("logic.js", bundle.logic_js)]:
            self.engine.eval(src, name)
        self.engine.eval(WRAP_JS)
        self.wrapped = [f for f in fns if self.engine.eval(f"__profWrap({json.dumps(f)})")]
        config = dict(bundle.config)
        config.update(system={}, apis=[])
        self.call("init", {"config": config})

    def call(self, fn: str, args: dict) -> tuple[dict, float, float]:
        t0 = time.perf_counter()
        self.engine.call_json("__mbDispatch", json.dumps({"fn": fn, "args": args, "now": 0}))
        self.engine.drain_jobs()
        t1 = time.perf_counter()
        out = self.engine.call_json("__mbCollect", "")
        return json.loads(out), t1 - t0, time.perf_counter() - t1

    def reset(self) -> None:
        self.engine.eval("__profReset()")

    def dump(self) -> dict:
        return json.loads(str(self.engine.eval("__profDump()")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=("list", "cells", "launch"))
    ap.add_argument("rows", type=int, nargs="?", default=1000)
    ap.add_argument("--fns", default="", help=f"framework functions to time (comma-separated; 'default' stands for {DEFAULT_FNS})")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    fns = [f for f in args.fns.replace("default", DEFAULT_FNS).split(",") if f]
    with tempfile.TemporaryDirectory() as tmp:
        src, path = project(args.kind, Path(tmp))
        bundle = LoadedBundle.from_dir(compile_cached(src))
    dispatch: list[float] = []
    collect: list[float] = []
    prof: dict = {}
    if args.kind == "launch":
        for _ in range(args.repeat):  # a fresh engine each time: a launch happens once per engine
            eng = InEngine(bundle, fns)
            eng.reset()
            _out, d, c = eng.call("launch", {"path": path})
            dispatch.append(d)
            collect.append(c)
            prof = eng.dump()
    else:
        eng = InEngine(bundle, fns)
        out, _d, _c = eng.call("launch", {"path": path} if path else {})
        page = next(m["page"] for m in out["out"] if m.get("t") == "page" and m.get("op") == "open")
        for i in range(args.repeat + 1):  # the first round warms up
            eng.call("callMethod", {"page": page, "method": "clear", "args": []})
            eng.reset()
            _out, d, c = eng.call("callMethod", {"page": page, "method": "fill", "args": [args.rows]})
            if i:
                dispatch.append(d)
                collect.append(c)
        prof = eng.dump()
    med = statistics.median
    what = "launch" if args.kind == "launch" else f"{args.kind} {args.rows} first fill"
    print(f"{what}: dispatch {med(dispatch) * 1000:.1f} ms, collect {med(collect) * 1000:.1f} ms "
          f"(medians of {len(dispatch)}{'; with timers' if fns else ''})")
    if prof:
        print(f"{'function (last run)':32} {'calls':>7} {'total ms':>9} {'self ms':>8}")
        for name, rec in sorted(prof.items(), key=lambda kv: -kv[1]["self"]):
            if rec["n"]:
                print(f"{name:32} {rec['n']:>7} {rec['total']:>9.2f} {rec['self']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
