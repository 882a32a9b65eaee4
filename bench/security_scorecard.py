"""Security scorecard for the host-side wx APIs (storage, files, network policy, permissions).

Runs an attack corpus from a hostile app B against a victim app A (same host, same data dir) and
prints: cases tried per area, escapes (an attack that succeeded, or changed A's data), crashes
(anything other than a typed `ApiError`), and bytes lost (A's stored bytes before vs after), plus
a SIGKILL crash-consistency loop on storage.

Then the floods (issue 15): a neighbour instance measures the latency of its own
`wx.getStorageSync` (performance.now() around each call, inside its sandbox) while another
instance of the same host floods (10,000 `setInterval(fn, 0)`, 20,000 `wx.setStorageSync` in a
loop, an endless loop of API calls, a stream of 200,000-deep bridge messages). Printed per flood:
how it ended (fail errors / stopped) and after how long, and the neighbour's p50 and p99 with
their ratio to the quiet baseline measured in the same run, before the floods.

Run: `.venv/bin/python bench/security_scorecard.py [--kill-rounds N] [--no-floods] [--unmetered]`
(`--unmetered` repeats the floods with the flooder's meter off, to show what the meter buys).
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from minibox.apis.budget import BudgetConfig, Meter
from minibox.apis.registry import ApiError, ApiRegistry, CallContext
from minibox.apis.storage import owner_of
from minibox.policy import AppGrants, close_services, make_services, register_all
from minibox.policy.network import NetError
from minibox.policy.storage import Owner, StorageService
from minibox.policy.urlpolicy import vet_address

KEY = b"s" * 32
HOST = "scorecard-host"
FS = "FileSystemManager."


class Resolver:
    """Every name answers with a hostile address chosen per name."""

    ANSWERS = {"good.test": ["127.0.0.1"], "rebind.test": ["10.0.0.1"], "meta.test": ["169.254.169.254"],
               "v6.test": ["::ffff:127.0.0.1"], "mixed.test": ["8.8.8.8", "192.168.0.1"]}

    def resolve(self, host: str, port: int) -> list[str]:
        return self.ANSWERS.get(host, ["10.9.9.9"])


def tree_digest(root: Path) -> tuple[str, int]:
    h, total = hashlib.sha256(), 0
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            total += len(data)
            h.update(str(p.relative_to(root)).encode() + b"\0" + data)
    return h.hexdigest(), total


class Card:
    def __init__(self) -> None:
        self.tried: Counter[str] = Counter()
        self.escapes: list[str] = []
        self.crashes: list[str] = []

    def expect_fail(self, area: str, fn: Callable[[], Any], label: str) -> None:
        self.tried[area] += 1
        try:
            fn()
        except (ApiError, NetError):
            return
        except Exception as e:  # a crash: not a typed refusal
            self.crashes.append(f"{area}: {label}: {type(e).__name__}: {e}")
            return
        self.escapes.append(f"{area}: {label}")


def run_attacks(card: Card, data: Path) -> tuple[int, int]:
    registry = ApiRegistry()
    register_all(registry)
    grants = AppGrants.build(request=["https://good.test", "https://rebind.test", "https://meta.test",
                                      "https://v6.test", "https://mixed.test"])
    app_json = {"permission": {"scope.userLocation": {"desc": "x"}}}

    def inst(app: str, consent: bool = True) -> tuple[CallContext, Any]:
        s = make_services(data, KEY, grants=grants, app_json=app_json, resolver=Resolver(),
                          consent_callback=lambda r: consent, privacy_callback=lambda r: "agree")
        return CallContext(HOST, app, "u1", s), s

    a_ctx, a_svc = inst("victim")
    b_ctx, b_svc = inst("attacker", consent=False)
    call = registry.call
    for i in range(50):
        call(a_ctx, "setStorageSync", {"key": f"k{i}", "data": {"secret": "A" * i}})
    call(a_ctx, FS + "mkdir", {"dirPath": "wxfile://usr/docs"})
    for i in range(20):
        call(a_ctx, FS + "writeFile", {"filePath": f"wxfile://usr/docs/f{i}", "data": "B" * (100 * i)})
    a_owner = Owner(HOST, "victim", "u1")
    a_dir = a_svc.files.owner_dir(a_owner)
    before_store = a_svc.storage.checksum(a_owner)
    before_files = tree_digest(a_dir)
    before_bytes = sum(len(str(v)) for v in [a_svc.storage.get(a_owner, k)
                                              for k in a_svc.storage.info(a_owner)["keys"]]) + before_files[1]

    # storage: B reads A's keys by every spelling
    for key in ["k1", "victim:k1", "../victim/k1", "k1\x00", "K1", "victim/u1/k1", "%6b1", "k1 ", "k" + "1" * 1000]:
        card.expect_fail("STO", lambda k=key: call(b_ctx, "getStorageSync", {"key": k}), f"read {key[:20]!r}")
    for forged in [{"appId": "victim"}, {"app_id": "victim", "user_id": "u1"}, {"host": HOST, "app": "victim"}]:
        card.expect_fail("STO", lambda f=forged: call(b_ctx, "getStorageSync", {"key": "k1", **f}), f"forged {forged}")
    card.expect_fail("STO", lambda: call(b_ctx, "setStorageSync", {"key": "big", "data": "x" * (1 << 20)}), "1MB+")
    card.expect_fail("STO", lambda: call(b_ctx, "setStorageSync", {"key": "n", "data": float("nan")}), "NaN")
    call(b_ctx, "clearStorageSync", {})

    # files: traversal, absolute, symlinks into A's directory
    paths = ["wxfile://usr/../x", "wxfile://usr/../../victim", "/etc/passwd", "wxfile://usr/a\x00b",
             "wxfile://usr\\..\\x", "wxfile://../usr/docs/f1", "wxfile://usr/./docs", "wxfile:///etc/passwd",
             "wxfile://store_../../x", "wxfile://tmp_x/../../y", "../../etc/passwd", "wxfile://usr/" + "a/" * 2100]
    for p in paths:
        card.expect_fail("FS", lambda p=p: call(b_ctx, FS + "writeFile", {"filePath": p, "data": "pwn"}), f"write {p[:30]!r}")
        card.expect_fail("FS", lambda p=p: call(b_ctx, FS + "readFile", {"filePath": p}), f"read {p[:30]!r}")
    b_usr = b_svc.files.owner_dir(owner_of(b_ctx)) / "usr"
    (b_usr / "link").symlink_to(a_dir / "usr" / "docs" / "f1")
    (b_usr / "dirlink").symlink_to(a_dir / "usr" / "docs", target_is_directory=True)
    os.mkfifo(b_usr / "fifo")
    for api, args in [("readFile", {"filePath": "wxfile://usr/link"}),
                      ("writeFile", {"filePath": "wxfile://usr/link", "data": "x"}),
                      ("appendFile", {"filePath": "wxfile://usr/link", "data": "x"}),
                      ("readFile", {"filePath": "wxfile://usr/dirlink/f1"}),
                      ("writeFile", {"filePath": "wxfile://usr/dirlink/new", "data": "x"}),
                      ("unlink", {"filePath": "wxfile://usr/dirlink/f1"}),
                      ("rmdir", {"dirPath": "wxfile://usr/dirlink", "recursive": True}),
                      ("readdir", {"dirPath": "wxfile://usr/dirlink"}),
                      ("copyFile", {"srcPath": "wxfile://usr/link", "destPath": "wxfile://usr/c"}),
                      ("rename", {"oldPath": "wxfile://usr/dirlink/f2", "newPath": "wxfile://usr/stolen"}),
                      ("readFile", {"filePath": "wxfile://usr/fifo"})]:
        card.expect_fail("FS", lambda a=api, g=args: call(b_ctx, FS + a, g), f"{api} via link")

    # network policy (no traffic leaves: every answer is hostile or the URL is refused first)
    urls = ["http://good.test/", "https://evil.test/", "https://127.0.0.1/", "https://2130706433/", "https://0x7f.1/",
            "https://[::1]/", "https://[::ffff:a9fe:a9fe]/", "https://localhost/", "https://a.localhost/",
            "https://good.test@evil.test/", "https://evil.test#@good.test", "https://good.test%40evil.test/",
            " https://good.test/", "https://good.test/\n", "https:/\\good.test/", "https://good.test:443/",
            "https://good.test:8443/", "https://good.test.evil.test/", "https://gооd.test/", "https://rebind.test/",
            "https://meta.test/", "https://v6.test/", "https://mixed.test/", "file:///etc/passwd",
            "https://good.test:0/", "https://good.test:65536/", "https://good.test:/", "//good.test/"]
    for u in urls:
        card.expect_fail("NET", lambda u=u: b_svc.network.vet("request", u), f"vet {u!r}")
        card.expect_fail("NET", lambda u=u: call(b_ctx, "request", {"url": u}), f"request {u!r}")
    nets = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
    for addr in ["169.254.169.254", "0.0.0.0", "::", "fd00:ec2::254", "224.0.0.1", "::ffff:169.254.169.254"]:
        card.expect_fail("NET", lambda a=addr: _raise_net(vet_address, a, nets), f"always-blocked {addr}")

    # permissions and privacy
    card.expect_fail("PRV", lambda: call(b_ctx, "getLocation", {}), "undeclared requiredPrivateInfos")
    card.expect_fail("PRV", lambda: call(b_ctx, "authorize", {"scope": "scope.userLocation"}), "refused scope")
    card.expect_fail("PRV", lambda: call(b_ctx, "authorize", {"scope": "scope.userLocation"}), "nag after refusal")
    card.expect_fail("PRV", lambda: call(b_ctx, "authorize", {"scope": "scope.root"}), "unknown scope")
    card.expect_fail("PRV", lambda: call(b_ctx, "privacyAuthorizeResolve", {"event": "agree"}), "JS agree")

    after_store = a_svc.storage.checksum(a_owner)
    after_files = tree_digest(a_dir)
    if after_store != before_store:
        card.escapes.append("STO: victim storage changed")
    if after_files != before_files:
        card.escapes.append("FS: victim files changed")
    after_bytes = sum(len(str(v)) for v in [a_svc.storage.get(a_owner, k)
                                             for k in a_svc.storage.info(a_owner)["keys"]]) + after_files[1]
    close_services(a_svc)
    close_services(b_svc)
    return before_bytes, after_bytes


def _raise_net(fn: Callable[..., Any], *a: Any) -> None:
    from minibox.policy.urlpolicy import AddressRefused

    try:
        fn(*a)
    except AddressRefused as e:
        raise NetError(str(e)) from None


WRITER = textwrap.dedent("""
    import sys
    from minibox.policy.storage import Owner, StorageService
    s = StorageService(sys.argv[1], b"s" * 32)
    o = Owner("h", "app", "u")
    i = int(sys.argv[2])
    while True:
        s.set(o, f"k{i % 16}", {"i": i, "pad": "p" * (i % 900)})
        print(i, flush=True)
        i += 1
""")


def kill_loop(rounds: int, data: Path) -> tuple[int, int, int]:
    """Returns (acknowledged writes, lost, corrupted) over `rounds` SIGKILLs."""
    db = data / "storm.db"
    acked: dict[str, int] = {}
    start, total, lost, corrupted = 0, 0, 0, 0
    for r in range(rounds):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(start)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for n, line in enumerate(proc.stdout, 1):
            i = int(line)
            acked[f"k{i % 16}"] = i
            total += 1
            start = i + 1
            if n >= 10 + (r * 37) % 90:
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait()
        s = StorageService(db, KEY)
        o = Owner("h", "app", "u")
        for k, last in acked.items():
            try:
                v = s.get(o, k)
            except Exception:
                corrupted += 1
                continue
            if v["i"] < last:
                lost += 1
            start = max(start, v["i"] + 1)
        s.close()
    return total, lost, corrupted


FLOODS: dict[str, str] = {
    "setInterval x10,000": "for (let i = 0; i < 10000; i++) setInterval(() => {}, 0); return 'armed'",
    "setStorageSync x20,000": """
        let ok = 0, failed = 0, first = '';
        for (let i = 0; i < 20000; i++) {
          try { wx.setStorageSync('f' + i, 'x'.repeat(100)); ok++ } catch (e) { failed++; first = first || e.message }
        }
        return {ok, failed, first}""",
    "endless API calls": "for (;;) { try { wx.getStorageSync('k') } catch (e) {} }",
    "200,000-deep messages": """
        const deep = '{"api":"getStorageSync","args":{"key":' + '['.repeat(200000) + ']'.repeat(200000) + '}}';
        let n = 0;
        for (;;) { __host_call(deep); n++ }""",
}
NEIGHBOUR_JS = """Page({
  lat(n) {
    const out = [];
    for (let i = 0; i < n; i++) { const t = performance.now(); wx.getStorageSync('k'); out.push(performance.now() - t) }
    return out
  },
})"""


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def flood_latency(data: Path, max_flood_s: float = 30.0, baseline_s: float = 3.0,
                  metered: bool = True) -> list[dict[str, Any]]:
    """Neighbour getStorageSync latency (ms) quiet, then during each flood, then quiet again; how
    each flood ended. `metered=False` turns the flooder's meter off (for comparison)."""
    import threading
    import time

    from minibox.host import Host, HostConfig
    from minibox.runtime.errors import RuntimeFault
    from minibox.testing import compile_cached

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.conftest import write_project

    methods = ",\n".join(f"  m{i}() {{ {body} }}" for i, body in enumerate(FLOODS.values()))
    flooder_src = write_project(data / "flooder", {"pages/p/p.wxml": "<view>x</view>",
                                                   "pages/p/p.js": "Page({\n" + methods + "\n})"})
    neighbour_src = write_project(data / "neighbour", {"pages/n/n.wxml": "<view>n</view>",
                                                       "pages/n/n.js": NEIGHBOUR_JS})
    host = Host(HostConfig(data_dir=data / "flood-host"))
    rows: list[dict[str, Any]] = []
    try:
        neighbour = host.start(compile_cached(neighbour_src), app_id="wxneighbour00000", user_id="alice")
        neighbour.launch()
        page = neighbour.command("pages", {})[0]["page"]
        neighbour.command("callWx", {"name": "setStorageSync", "args": ["k", {"v": 1}]})

        def sample(until: Callable[[], bool]) -> list[float]:
            """Batches of 20 calls every ~10 ms: a busy but well-behaved app, within its own meter."""
            out: list[float] = []
            while not until():
                out += neighbour.command("callMethod", {"page": page, "method": "lat", "args": [20]})
                time.sleep(0.01)
            return out

        t_end = time.monotonic() + baseline_s
        quiet = sample(lambda: time.monotonic() > t_end)
        rows.append({"flood": "quiet baseline", "ended": "-", "seconds": baseline_s, "n": len(quiet),
                     "p50": _pct(quiet, 0.5), "p99": _pct(quiet, 0.99)})
        flooder_bundle = compile_cached(flooder_src)
        for i, name in enumerate(FLOODS):
            flooder = host.start(flooder_bundle, app_id=f"wxflooder{i:07d}", user_id="mallory")
            if not metered:
                flooder.meter = Meter(BudgetConfig(enabled=False))
            flooder.launch()
            fpage = flooder.command("pages", {})[0]["page"]
            outcome: dict[str, Any] = {}

            def drive(f=flooder, fp=fpage, m=f"m{i}", out=outcome) -> None:
                t0 = time.monotonic()
                try:
                    out["result"] = f.command("callMethod", {"page": fp, "method": m, "args": []})
                    while f.next_timer_ms() is not None or f.has_pending():  # timers keep it going
                        if time.monotonic() - t0 > max_flood_s:
                            out["ended"] = f"still running after {max_flood_s:g} s"
                            break
                        if not f.pump():
                            time.sleep(0.001)
                except RuntimeFault as e:
                    out["ended"] = f"stopped: {type(e).__name__}"
                out.setdefault("ended", "returned")
                out["seconds"] = time.monotonic() - t0

            th = threading.Thread(target=drive, daemon=True)
            th.start()
            time.sleep(0.05)
            during = sample(lambda t=th: not t.is_alive())
            th.join()
            res = outcome.get("result")
            ended = outcome["ended"]
            if isinstance(res, dict) and "failed" in res:
                ended = f"returned: {res['ok']} ok, {res['failed']} x '{res['first']}'" + (
                    "" if ended == "returned" else f"; {ended}")
            rows.append({"flood": name, "ended": ended, "seconds": outcome["seconds"], "n": len(during),
                         "p50": _pct(during, 0.5), "p99": _pct(during, 0.99)})
            flooder.close()
        t_end = time.monotonic() + baseline_s
        quiet = sample(lambda: time.monotonic() > t_end)
        rows.append({"flood": "quiet again (noise check)", "ended": "-", "seconds": baseline_s, "n": len(quiet),
                     "p50": _pct(quiet, 0.5), "p99": _pct(quiet, 0.99)})
    finally:
        host.close()
    base50, base99 = rows[0]["p50"], rows[0]["p99"]
    for r in rows:
        r["x50"], r["x99"] = r["p50"] / base50, r["p99"] / base99
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kill-rounds", type=int, default=20)
    ap.add_argument("--no-floods", action="store_true", help="skip the neighbour-latency floods")
    ap.add_argument("--unmetered", action="store_true",
                    help="also run the floods with the flooder's meter off, for comparison (slow)")
    ns = ap.parse_args()
    console = Console(width=max(160, Console().width))
    card = Card()
    with tempfile.TemporaryDirectory() as d:
        before, after = run_attacks(card, Path(d))
        acked, lost, corrupted = kill_loop(ns.kill_rounds, Path(d))
    table = Table(title="minibox host API security scorecard")
    for col in ("area", "cases tried"):
        table.add_column(col)
    for area, n in sorted(card.tried.items()):
        table.add_row(area, str(n))
    table.add_row("STO-05 SIGKILL rounds", f"{ns.kill_rounds} ({acked} acknowledged writes)")
    console.print(table)
    console.print(f"cases tried: {sum(card.tried.values())}")
    console.print(f"escapes: {len(card.escapes)}")
    for e in card.escapes:
        console.print(f"  [red]{e}[/red]")
    console.print(f"crashes: {len(card.crashes)}")
    for c in card.crashes:
        console.print(f"  [red]{c}[/red]")
    console.print(f"victim bytes lost: {max(0, before - after)} of {before}")
    console.print(f"acknowledged writes lost after SIGKILL: {lost} of {acked}; corrupted values: {corrupted}")
    for metered in [True, False] if ns.unmetered else [True] if not ns.no_floods else []:
        with tempfile.TemporaryDirectory() as d:
            rows = flood_latency(Path(d), metered=metered)
        ft = Table(title="neighbour wx.getStorageSync latency while another instance floods (same host, same run)"
                   + ("" if metered else ": flooder's meter OFF"))
        for col in ("flood", "how it ended", "s", "samples", "p50 ms", "p99 ms", "p50 x quiet", "p99 x quiet"):
            ft.add_column(col)
        for r in rows:
            ft.add_row(r["flood"], str(r["ended"]), f"{r['seconds']:.1f}", str(r["n"]), f"{r['p50']:.3f}",
                       f"{r['p99']:.3f}", f"{r['x50']:.2f}", f"{r['x99']:.2f}")
        console.print(ft)
        console.print(f"cores: {os.cpu_count()}; each flood capped at 30 s (a command already running is "
                      "not interrupted); " + ("the meter's defaults (minibox.apis.budget) are in force"
                                              if metered else "the flooder's meter is off"))
    sys.exit(1 if card.escapes or card.crashes or lost or corrupted or after != before else 0)


if __name__ == "__main__":
    main()
