"""A small append-only, hash-chained local audit log (JSON lines) for consent and policy decisions.

Each line is `{"seq", "ts", "event", "host", "app", "user", ..., "prev", "hash"}` where
`hash = sha256(prev || canonical JSON of the line without "hash")`. Editing, deleting or reordering
a line breaks the chain at that line (`verify` names it). Tail truncation is not detectable from
the file alone: the platform should store the head hash (`head()`) elsewhere (see MGT-06).
Writes are appended under an exclusive `flock` (several `AuditLog` objects, threads or processes
may share one file: each append re-reads the tail) and fsync'd before `record` returns (fail
closed: an exception propagates and the caller must refuse the action).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


class AuditTampered(Exception):
    """The chain is broken at `line` (1-based)."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__(f"audit log tampered at line {line}: {why}")
        self.line = line


def _digest(prev: str, body: dict[str, Any]) -> str:
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + raw).encode()).hexdigest()


class AuditLog:
    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._lock = threading.Lock()

    @staticmethod
    def _tail(fd: int) -> tuple[int, str]:
        end = os.lseek(fd, 0, os.SEEK_END)
        pos, buf = end, b""
        while pos > 0 and buf.count(b"\n") < 2:
            step = min(4096, pos)
            pos -= step
            buf = os.pread(fd, step, pos) + buf
        lines = [ln for ln in buf.split(b"\n") if ln.strip()]
        if not lines:
            return 0, GENESIS
        d = json.loads(lines[-1])
        return d["seq"], d["hash"]

    def record(self, event: str, *, host: str, app: str, user: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                seq, prev = self._tail(fd)
                body = {**fields, "seq": seq + 1, "ts": round(time.time(), 3), "event": event, "host": host,
                        "app": app, "user": user, "prev": prev}
                body["hash"] = _digest(prev, body)
                line = (json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")
                os.write(fd, line.encode())
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            return body

    def head(self) -> tuple[int, str]:
        """(sequence, hash) of the last entry: store it elsewhere to detect tail truncation."""
        if not self.path.exists():
            return 0, GENESIS
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return self._tail(fd)
        finally:
            os.close(fd)

    def entries(self, **match: Any) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        with self.path.open("rb") as f:
            for line in f:
                if line.strip():
                    d = json.loads(line)
                    if all(d.get(k) == v for k, v in match.items()):
                        out.append(d)
        return out

    def verify(self) -> int:
        """Check the whole chain; return the number of entries or raise `AuditTampered`."""
        prev, n = GENESIS, 0
        if not self.path.exists():
            return 0
        with self.path.open("rb") as f:
            for i, line in enumerate(f, 1):
                try:
                    d = json.loads(line)
                    h = d.pop("hash")
                except (ValueError, KeyError) as e:
                    raise AuditTampered(i, "unparseable line") from e
                if d.get("prev") != prev or d.get("seq") != n + 1:
                    raise AuditTampered(i, "chain link or sequence mismatch")
                if _digest(prev, d) != h:
                    raise AuditTampered(i, "hash mismatch")
                prev, n = h, n + 1
        return n
