"""Overhead of the governed host APIs against a plain baseline measured in the same run.

- storage: encrypted `StorageService.set/get` vs raw SQLite (same WAL + synchronous=FULL) writes
  and reads of the same JSON;
- URL policy: `parse_url` + allowlist match vs `urllib.parse.urlsplit`;
- files: `FileService.write_file/read_file` (openat walk, atomic rename, fsync) vs `open().write`
  + fsync and `open().read`.
Run: `.venv/bin/python bench/bench_policy.py`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from minibox.policy.files import FileService
from minibox.policy.storage import Owner, StorageService
from minibox.policy.urlpolicy import Allowlist, parse_url

KEY = b"b" * 32
OWNER = Owner("h", "app", "u")


def rate(fn: Callable[[int], None], n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t)


def main() -> None:
    rows: list[tuple[str, float, float]] = []
    value = {"user": "alice", "items": list(range(50)), "note": "x" * 200}
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        s = StorageService(root / "s.db", KEY)
        raw = sqlite3.connect(root / "raw.db", isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=FULL")
        raw.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB)")
        n = 300
        rows.append(("storage set (ops/s)", rate(lambda i: s.set(OWNER, f"k{i % 50}", value), n),
                     rate(lambda i: raw.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)",
                                                (f"k{i % 50}", json.dumps(value))), n)))
        rows.append(("storage get (ops/s)", rate(lambda i: s.get(OWNER, f"k{i % 50}"), 3000),
                     rate(lambda i: json.loads(raw.execute("SELECT v FROM kv WHERE k=?",
                                                           (f"k{i % 50}",)).fetchone()[0]), 3000)))
        al = Allowlist({"request": [f"https://api{i}.bank.example" for i in range(20)]})
        urls = [f"https://api{i % 25}.bank.example/v1/accounts?id={i}" for i in range(1000)]
        rows.append(("url policy (urls/s)", rate(lambda i: al.allows("request", parse_url(urls[i % 1000])), 20000),
                     rate(lambda i: urlsplit(urls[i % 1000]).hostname, 20000)))
        fs = FileService(root / "files", KEY)
        (root / "plain").mkdir()
        data = os.urandom(4096)

        def plain_write(i: int) -> None:
            with open(root / "plain" / f"f{i % 20}", "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())

        rows.append(("file write 4 KB (ops/s)", rate(lambda i: fs.write_file(OWNER, f"wxfile://usr/f{i % 20}", data), 300),
                     rate(plain_write, 300)))
        rows.append(("file read 4 KB (ops/s)", rate(lambda i: fs.read_file(OWNER, f"wxfile://usr/f{i % 20}"), 3000),
                     rate(lambda i: (root / "plain" / f"f{i % 20}").read_bytes(), 3000)))
        s.close()
        raw.close()
    table = Table(title="minibox policy layer vs baseline (same run)")
    for c in ("operation", "minibox", "baseline", "ratio"):
        table.add_column(c, justify="right" if c != "operation" else "left")
    for name, ours, base in rows:
        table.add_row(name, f"{ours:,.0f}", f"{base:,.0f}", f"{ours / base:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
