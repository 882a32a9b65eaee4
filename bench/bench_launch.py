"""Launch benchmark (issue 13): a page of 50 @vant/weapp components, from a verified cached package to
its first render, beside WeChat's own simulator.

The page (LAUNCH_WXML: a bank's transfer page, with cells, fields, buttons, icons, tags, switches,
checkboxes, radios, a stepper, steps, a grid, a collapse...) is built in a project with @vant/weapp
in miniprogram_npm (the pinned npm build, tests/components/vant.py), compiled, packed as a signed
package encrypted for the host, and put in an update cache as `Updater.install` leaves it. Each run
then starts it the way a host does from its cache:

- **verify + unpack**: `Updater.load` (the full verification of the cached bytes, in memory, and
  the check of the unpacked tree it used last time, file by file, or a fresh one written);
- **bundle read**: `LoadedBundle.from_package` (the verified bytes in memory);
- **engine start**: sandboxed, the worker taken from the pre-started pool (forked from the fork
  server, the framework loaded already: `minibox.runtime.preload`); in-process, the preloaded
  engine taken (its limits, its bridge, `Math.random` seeded);
- **framework load** (in-process only: what the fork server did once, before any launch),
  **render.js eval**, **logic.js eval**, **app init**: what the `init` command does (a sandboxed
  worker does it in one command, shown as "init", with the bundle's two sources as raw bytes);
- **first render**: `instance.launch()` (App, the page, its 50 components and their own children,
  the patches to the headless view). In-process it is split into the component modules' first
  `require`, the render functions and the rest (instances, lifetimes, the diff), timed in the engine.

Sandboxed is the real default (own process, seccomp, rlimits); in-process runs the same worker code
(`minibox.runtime.worker.Worker`) inside this process, for the cost of the process boundary.

The peer (bench/bench_runtime_peer.js, `launch` mode): miniprogram-simulate under Node loads the same
components (`simulate.load`, which reads and compiles each component and what it uses), renders the
page and attaches it; its framework load (`require`) is shown apart.

    .venv/bin/python bench/bench_launch.py [--runs 15] [--no-peer]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from minibox.host import Host, HostConfig
from minibox.host.update import Updater
from minibox.package import HostKeyPair, SigningKey, TrustStore, pack
from minibox.runtime import container, preload, protocol
from minibox.runtime.bundle import LoadedBundle
from minibox.runtime.engine import EngineLimits
from minibox.runtime.errors import ScriptError
from minibox.runtime.worker import BRIDGE_BOOTSTRAP, Worker
from minibox.view.tree import HeadlessView

GOAL_MS = 50.0
APP_ID = "wxlaunch0000001"
HOST_ID = "bench-host"

#: tag -> @vant/weapp component
USING = {f"van-{c}": c for c in (
    "nav-bar", "notice-bar", "search", "cell-group", "cell", "field", "switch", "tag", "button", "icon",
    "checkbox-group", "checkbox", "radio-group", "radio", "stepper", "rate", "divider", "loading", "progress",
    "steps", "grid", "grid-item", "collapse", "collapse-item")}

#: 50 components written by the page (their own children, van-icon, van-cell, van-loading, van-info...,
#: come on top)
LAUNCH_WXML = """
<van-nav-bar title="Transfer" left-text="Back" left-arrow bind:click-left="onBack" />
<van-notice-bar left-icon="volume-o" text="{{notice}}" />
<van-search value="{{query}}" placeholder="Search payees" bind:change="onQuery" />
<van-cell-group title="From account">
  <van-cell wx:for="{{accounts}}" wx:key="id" title="{{item.name}}" value="{{item.balance}}" label="{{item.no}}"
            is-link data-id="{{item.id}}" bind:click="onAccount" />
</van-cell-group>
<van-cell-group title="Payee">
  <van-field label="Name" value="{{payee}}" placeholder="Payee name" clearable bind:change="onPayee" />
  <van-field label="Account" value="{{account}}" placeholder="IBAN" border="{{false}}" />
  <van-field label="Amount" type="digit" value="{{amount}}" placeholder="0.00" required error-message="{{amountError}}" />
  <van-field label="Memo" value="{{memo}}" type="textarea" autosize placeholder="What is it for" />
</van-cell-group>
<van-cell-group title="Options">
  <van-cell title="Notify payee" center><van-switch checked="{{notify}}" size="20px" bind:change="onNotify" /></van-cell>
  <van-cell title="Confirm with biometrics" center><van-switch checked="{{biometric}}" size="20px" /></van-cell>
  <van-cell title="Fee" value="{{fee}}" label="Charged to your account" />
</van-cell-group>
<view class="tags">
  <van-tag type="primary">Instant</van-tag>
  <van-tag type="success" plain>Verified</van-tag>
  <van-tag type="warning" round>Limit {{limit}}</van-tag>
  <van-tag type="danger" mark>New payee</van-tag>
</view>
<view class="icons">
  <van-icon name="shield-o" size="24px" />
  <van-icon name="clock-o" size="24px" info="{{pending}}" />
  <van-icon name="chat-o" size="24px" dot />
</view>
<van-checkbox-group value="{{channels}}" bind:change="onChannels">
  <van-checkbox name="sms">SMS receipt</van-checkbox>
  <van-checkbox name="mail">E-mail receipt</van-checkbox>
</van-checkbox-group>
<van-radio-group value="{{speed}}" bind:change="onSpeed">
  <van-radio name="now">Now</van-radio>
  <van-radio name="later">Tomorrow</van-radio>
</van-radio-group>
<van-stepper value="{{copies}}" min="1" max="5" bind:change="onCopies" />
<van-rate value="{{rating}}" />
<van-divider contentPosition="center">Progress</van-divider>
<van-steps steps="{{steps}}" active="{{step}}" />
<van-progress percentage="{{progress}}" />
<van-loading size="20px">Checking limits</van-loading>
<van-grid column-num="4">
  <van-grid-item icon="balance-o" text="Balance" />
  <van-grid-item icon="exchange" text="Exchange" />
  <van-grid-item icon="bill-o" text="Bills" />
  <van-grid-item icon="gift-o" text="Rewards" />
</van-grid>
<van-collapse value="{{open}}" bind:change="onOpen">
  <van-collapse-item title="Fees" name="fees">No fee within the country.</van-collapse-item>
  <van-collapse-item title="Limits" name="limits">{{limit}} a day.</van-collapse-item>
</van-collapse>
<van-button type="primary" block bind:click="onSubmit">Send</van-button>
<van-button plain block>Save as template</van-button>
<van-button type="danger" size="small" icon="delete-o">Cancel</van-button>
<van-button loading type="info" size="small" loading-text="Checking" />
"""

LAUNCH_DATA: dict[str, Any] = {
    "notice": "Transfers over 10,000 CNY need a second confirmation.", "query": "",
    "accounts": [{"id": i, "name": n, "balance": b, "no": f"6222 **** {1000 + i * 37}"}
                 for i, (n, b) in enumerate([("Current", "12,830.50"), ("Savings", "80,100.00"),
                                             ("Salary", "3,402.17"), ("Travel", "512.00")])],
    "payee": "", "account": "", "amount": "", "amountError": "", "memo": "", "notify": True, "biometric": False,
    "fee": "0.00", "limit": "50,000", "pending": 2, "channels": ["sms"], "speed": "now", "copies": 1, "rating": 3,
    "steps": [{"text": "Payee"}, {"text": "Amount"}, {"text": "Confirm"}], "step": 1, "progress": 40,
    "open": ["fees"],
}
HANDLERS = ("onBack", "onQuery", "onAccount", "onPayee", "onNotify", "onChannels", "onSpeed", "onCopies",
            "onOpen", "onSubmit")
LAUNCH_JS = ("Page({ data: " + json.dumps(LAUNCH_DATA) + ",\n" +
             ",\n".join(f"  {h}(e) {{ this.last = e.type }}" for h in HANDLERS) + " })")


def written_components(wxml: str) -> int:
    """Component instances the page writes (a wx:for over `accounts` counts once per account)."""
    import re

    tags = re.findall(r"<(van-[a-z-]+)([^>]*)>", wxml)
    return sum(len(LAUNCH_DATA["accounts"]) if "wx:for" in attrs else 1 for _tag, attrs in tags)


class Fixture:
    """The project, its package in a host's update cache, and the host."""

    def __init__(self, work: Path) -> None:
        from minibox.compiler import compile_project
        from tests.components.vant import build_vant_project

        src = build_vant_project(work / "src", {"transfer": LAUNCH_WXML}, using=USING,
                                 scripts={"transfer": LAUNCH_JS})
        bundle = work / "bundle"
        compile_project(src, bundle)
        signer, self.host_key = SigningKey.generate(), HostKeyPair.generate()
        now = datetime.now(UTC).replace(microsecond=0)
        data = pack(bundle, app_id=APP_ID, version="1.0.0", build=1, signer=signer, created_at=now,
                    expires_at=now + timedelta(days=30), recipients={HOST_ID: self.host_key.public_bytes()})
        self.package_bytes = len(data)
        self.trust = TrustStore.for_keys(work / "trust", [signer])
        cache = work / "cache"
        self.updater = Updater("http://127.0.0.1:1", HOST_ID, "k", self.trust, cache, self.host_key)
        sha = hashlib.sha256(data).hexdigest()  # what Updater.install leaves: the bytes and the pointer
        (cache / "packages" / f"{sha}.mbx").write_bytes(data)
        (cache / "apps" / f"{APP_ID}.json").write_text(json.dumps({"sha256": sha, "build": 1, "version": "1.0.0",
                                                                   "allowlist": {}}))
        self.host = Host(HostConfig(data_dir=work / "host", host_id=HOST_ID))

    def close(self) -> None:
        self.updater.close()
        self.host.close()


# ---- in-process: the worker's own code in this process ---------------------------------------------
PROFILE_JS = """
(function () {
  var T = globalThis.__mbLaunchTimes = { require: 0, render: 0 };
  var req = globalThis.mbRequire, render = __mb.render, depth = 0;
  globalThis.mbRequire = function () {
    if (depth++) { try { return req.apply(this, arguments); } finally { depth--; } }
    var t0 = performance.now();
    try { return req.apply(this, arguments); } finally { depth--; T.require += performance.now() - t0; }
  };
  __mb.render = function () {
    var t0 = performance.now();
    try { return render.apply(this, arguments); } finally { T.render += performance.now() - t0; }
  };
})();
"""


class InProcessWorker(Worker):
    """`Worker` without its process: the host's `request` calls it directly; `init` is timed."""

    def __init__(self, profile: bool) -> None:
        super().__init__(None, None)  # type: ignore[arg-type]  # no pipes: API calls go to on_call
        self.on_call: Any = None
        self.profile = profile
        self.steps: dict[str, float] = {}
        self.dead = False
        self.pid = 0

    # the WorkerProcess interface the container uses
    def request(self, message: dict[str, Any], on_call: Any, budget: float | None = None) -> dict[str, Any]:
        del budget
        self.on_call = on_call
        done = self.handle(message)
        if isinstance(done, (bytes, bytearray)):  # a done frame's body, as the worker sends it
            done = protocol.loads(bytes(done))
        err = done.get("error")
        if err:
            raise ScriptError(err.get("message", ""), err.get("stack", ""))
        return done

    def cpu_seconds(self) -> float | None:
        return time.thread_time()

    def deprioritize(self) -> None:
        pass

    def close(self) -> None:
        self.engine = None

    def host_call(self, payload: str) -> str:
        request = json.loads(payload)
        return json.dumps(self.on_call(request["api"], request.get("args")))

    def handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        if msg.get("cmd") != "init":
            t0 = time.perf_counter()
            done = super().handle(msg)
            self.steps["dispatch"] = self.steps.get("dispatch", 0.0) + time.perf_counter() - t0
            return done
        steps = self.steps
        assert msg.get("framework") == "preloaded"
        t0 = time.perf_counter()
        preload.preload(BRIDGE_BOOTSTRAP)  # what a pooled worker has done before the launch
        t1 = time.perf_counter()
        self.engine = preload.take(BRIDGE_BOOTSTRAP, self.host_call, EngineLimits(**msg.get("limits", {})))
        steps["framework load"] = t1 - t0
        steps["engine start"] = time.perf_counter() - t1
        for name, text in msg["sources"]:
            t = time.perf_counter()
            if isinstance(text, int):
                text = msg[protocol.BLOBS][text].decode("utf-8", "surrogatepass")
            self.engine.eval(text, name)
            steps[name] = steps.get(name, 0.0) + time.perf_counter() - t
        if self.profile:
            self.engine.eval(PROFILE_JS)
        t2 = time.perf_counter()
        done = self._run("init", {"config": msg["config"]}, msg.get("now", 0))
        steps["app init"] = time.perf_counter() - t2
        return done

    def launch_times(self) -> dict[str, float]:
        assert self.engine is not None
        return json.loads(self.engine.eval("JSON.stringify(globalThis.__mbLaunchTimes || {})"))  # type: ignore[arg-type]


class _Pool:
    def __init__(self, worker: Any) -> None:
        self.worker = worker

    def acquire(self, limits: Any) -> Any:
        del limits
        return self.worker


@contextlib.contextmanager
def timed_pool(mode: str, profile: bool = True) -> Iterator[dict[str, Any]]:
    """Instances started meanwhile get an in-process worker (mode "in-process"), or the default pool's
    worker with the time `acquire` took (mode "sandboxed")."""
    state: dict[str, Any] = {}
    real = container.default_pool
    if mode == "in-process":
        def pool() -> Any:
            state["worker"] = InProcessWorker(profile)
            return _Pool(state["worker"])
    else:
        def pool() -> Any:
            p = real()

            class Timed:
                def acquire(self, limits: Any) -> Any:
                    t = time.perf_counter()
                    w = p.acquire(limits)
                    state["acquire"] = time.perf_counter() - t
                    return w
            return Timed()
    container.default_pool = pool  # type: ignore[assignment]
    try:
        yield state
    finally:
        container.default_pool = real


def launch_once(fx: Fixture, mode: str) -> dict[str, float]:
    """One launch from the cache; the figures in ms, by step."""
    out: dict[str, float] = {}
    with timed_pool(mode) as state:
        t0 = time.perf_counter()
        pkg = fx.updater.load(APP_ID)
        t1 = time.perf_counter()
        bundle = LoadedBundle.from_package(pkg)  # the verified bytes, as Host.start_released
        t2 = time.perf_counter()
        view = HeadlessView()
        inst = fx.host.start(bundle, app_id=APP_ID, user_id="u1", views=[view], virtual_time=True)
        t3 = time.perf_counter()
        inst.launch()
        t4 = time.perf_counter()
    try:
        assert not inst.errors, inst.errors[:3]
        out["verify + unpack"] = t1 - t0
        out["bundle read"] = t2 - t1
        if mode == "in-process":
            w: InProcessWorker = state["worker"]
            for k in ("engine start", "framework load", "render.js", "logic.js", "app init"):
                out[k] = w.steps.get(k, 0.0)
            out["host start (rest)"] = (t3 - t2) - sum(w.steps.get(k, 0.0) for k in
                                                       ("engine start", "framework load", "render.js", "logic.js",
                                                        "app init"))
            js = w.launch_times()
            out["first render"] = t4 - t3
            out["  component modules (require)"] = js.get("require", 0.0) / 1000
            out["  render functions"] = js.get("render", 0.0) / 1000
            out["  rest of the launch command"] = w.steps.get("dispatch", 0.0) - out["  component modules (require)"] - out["  render functions"]
            out["  view + host after the command"] = (t4 - t3) - w.steps.get("dispatch", 0.0)
        else:
            out["engine start (pool acquire)"] = state.get("acquire", 0.0)
            out["init (framework, render.js, logic.js, app)"] = (t3 - t2) - state.get("acquire", 0.0)
            out["first render"] = t4 - t3
        out["total"] = t4 - t0
        out["components"] = sum(1 for n in view.nodes.values() if n.tag.startswith("van-"))
    finally:
        inst.close()
    return {k: v * 1000 if k != "components" else v for k, v in out.items()}


def run_peer(lib: Path, runs: int, console: Console) -> dict[str, list[float]] | None:
    import shutil
    import subprocess

    try:
        from bench.compat import peer_modules

        modules = peer_modules()
    except Exception as exc:  # no npm: minibox's side alone
        console.print(f"[yellow]peer not available: {exc}")
        return None
    node = shutil.which("node")
    if node is None:
        console.print("[yellow]peer not available: node is not on PATH")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps({"modules": str(modules), "vant": str(lib), "rows": [], "cells": 0,
                                    "launch": {"template": LAUNCH_WXML, "data": LAUNCH_DATA, "using": USING,
                                               "handlers": list(HANDLERS), "runs": runs}}))
        proc = subprocess.run([node, str(Path(__file__).with_name("bench_runtime_peer.js")), str(spec)],
                              capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        console.print(f"[yellow]peer failed: {proc.stderr.strip()[-800:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])["launch"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args(argv)
    console = Console(width=130)
    from tests.components.vant import vant_lib

    with tempfile.TemporaryDirectory() as tmp:
        with console.status("building, compiling and packing the page"):
            fx = Fixture(Path(tmp))
        results: dict[str, list[dict[str, float]]] = {"sandboxed": [], "in-process": []}
        peer: dict[str, list[float]] | None = None
        try:
            for mode in results:  # one warm-up each (the pool's first workers, the OS caches)
                launch_once(fx, mode)
            with console.status("launching"):
                for _ in range(args.runs):  # interleaved, so both modes share what else runs
                    for mode in results:
                        results[mode].append(launch_once(fx, mode))
            if not args.no_peer:
                with console.status("peer: miniprogram-simulate under Node"):
                    peer = run_peer(vant_lib(), args.runs, console)
        finally:
            fx.close()

    med = statistics.median
    table = Table(title=f"50 @vant/weapp components: launch to first render from a verified cached package "
                        f"(medians of {args.runs}; package {fx.package_bytes // 1024} KiB)")
    for col in ("step", "sandboxed ms", "in-process ms"):
        table.add_column(col, justify="left" if col == "step" else "right")
    keys: list[str] = []
    for mode in results:
        for k in results[mode][0]:
            if k not in keys and k not in ("total", "components"):
                keys.append(k)
    for k in [*keys, "total"]:
        cells = [f"{med([r[k] for r in results[m]]):.2f}" if k in results[m][0] else "" for m in results]
        table.add_row(k, *cells)
    console.print(table)
    total = med([r["total"] for r in results["sandboxed"]])
    comps = results["sandboxed"][0]["components"]
    console.print(f"component instances in the first render: {comps:.0f} ({written_components(LAUNCH_WXML)} "
                  f"written by the page, the rest their own children)")
    verdict = "[green]met" if total <= GOAL_MS else "[red]not met"
    console.print(f"sandboxed launch to first render: {total:.1f} ms (goal <= {GOAL_MS:.0f} ms: {verdict}[/])")
    if peer:
        pt = med(peer["total_ms"])
        console.print(f"peer (miniprogram-simulate, Node + jsdom): load the components {med(peer['load_ms']):.1f} ms, "
                      f"render + attach {med(peer['render_ms']):.1f} ms, total {pt:.1f} ms "
                      f"(+ its framework require once: {peer['require_ms']:.0f} ms); "
                      f"minibox sandboxed / peer: {total / pt:.3f}, in-process / peer: "
                      f"{med([r['total'] for r in results['in-process']]) / pt:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
