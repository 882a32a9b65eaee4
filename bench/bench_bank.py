"""Bank-grade flows (issue 14): what each costs, beside a floor measured in the same run.

- SBOM of @vant/weapp (scan, versions, a SHA-256 of every file) vs. hashing the same files alone;
- the risk decision before a payment, with 10,000 earlier attempts in the history, vs. one SQLite
  insert (the record the decision writes anyway);
- a secure-channel request signed by the host and verified by the backend (and sealed, and a signed
  answer verified back) vs. one HMAC-SHA256 of the body.

Run: .venv/bin/python bench/bench_bank.py
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minibox.platform.supplychain.sbom import scan
from minibox.risk import DEFAULT_RULES, RiskEngine, RiskHistory
from minibox.securechannel import ChannelKey, Signer, Verifier
from tests.components.vant import vant_lib


def median_ms(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    console = Console()
    rows: list[tuple[str, float, float]] = []
    with Progress(console=console, transient=True) as bar, tempfile.TemporaryDirectory() as tmp:
        task = bar.add_task("bank flows", total=3)
        root = Path(tmp) / "proj"
        lib = vant_lib()
        shutil.copytree(lib, root / "miniprogram_npm" / "@vant" / "weapp")  # the scan does not follow links
        files = [p for p in (root / "miniprogram_npm").rglob("*") if p.is_file()]
        sbom = median_ms(lambda: scan(root), 7)
        floor = median_ms(lambda: [hashlib.sha256(p.read_bytes()).digest() for p in files], 7)
        rows.append((f"SBOM of @vant/weapp ({len(files)} files) vs. hashing them", sbom, floor))
        bar.advance(task)

        history = RiskHistory(Path(tmp) / "risk.db")
        for i in range(10_000):
            history.record(time.time() - i, "wxapp", f"user{i % 500}", f"dev{i % 300}", 100 + i % 900, f"o{i}", "allow")
        engine = RiskEngine(history, DEFAULT_RULES)
        counter = iter(range(10**9))
        risk = median_ms(lambda: engine.assess("wxapp", "user7", "dev7", 2500, f"p{next(counter)}"), 200)
        db = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (a TEXT, b REAL)")
        insert = median_ms(lambda: db.execute("INSERT INTO t VALUES (?, ?)", ("x", time.time())), 200)
        rows.append(("risk decision (10,000 attempts in history) vs. one SQLite insert", risk, insert))
        bar.advance(task)

        key = ChannelKey.derive(b"m" * 32, "wxapp")
        signer, verifier = Signer(key), Verifier({"wxapp": key})
        body = b'{"question": "' + b"x" * 2000 + b'"}'
        url = "https://ai.bank.example/v1/chat"

        def round_trip() -> None:
            req = signer.sign_request("POST", url, body, encrypt=True)
            got = verifier.verify_request("POST", url, req.headers, req.body)
            headers, answer = verifier.sign_response(got, 200, b'{"answer": "ok"}')
            signer.verify_response(req, 200, headers, answer)

        channel = median_ms(round_trip, 500)
        mac = median_ms(lambda: hmac.new(b"k" * 32, body, hashlib.sha256).digest(), 500)
        rows.append(("secure channel round trip (sealed, 2 kB) vs. one HMAC of the body", channel, mac))
        bar.advance(task)
        history.close()

    table = Table(title="bank-grade flows (median ms)")
    for col in ("flow", "minibox", "floor", "ratio"):
        table.add_column(col)
    for name, ours, base in rows:
        table.add_row(name, f"{ours:.3f}", f"{base:.3f}", f"{ours / base:.1f}x")
    console.print(table)


if __name__ == "__main__":
    main()
