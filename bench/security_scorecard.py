"""Security scorecard for the host-side wx APIs (storage, files, network policy, permissions).

Runs an attack corpus from a hostile app B against a victim app A (same host, same data dir) and
prints: cases tried per area, escapes (an attack that succeeded, or changed A's data), crashes
(anything other than a typed `ApiError`), and bytes lost (A's stored bytes before vs after), plus
a SIGKILL crash-consistency loop on storage. Run: `.venv/bin/python bench/security_scorecard.py
[--kill-rounds N]`.
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kill-rounds", type=int, default=20)
    ns = ap.parse_args()
    console = Console()
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
    sys.exit(1 if card.escapes or card.crashes or lost or corrupted or after != before else 0)


if __name__ == "__main__":
    main()
