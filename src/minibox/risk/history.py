"""What happened before: every assessed payment, its decision and outcome (SQLite, host data dir)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class RiskHistory:
    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS attempts (id INTEGER PRIMARY KEY, at REAL NOT NULL, app_id TEXT NOT NULL,"
            " user_id TEXT NOT NULL, device TEXT NOT NULL, amount_fen INTEGER NOT NULL, prepay_id TEXT NOT NULL,"
            " decision TEXT NOT NULL, outcome TEXT NOT NULL DEFAULT 'pending')")
        self._db.execute("CREATE INDEX IF NOT EXISTS attempts_user ON attempts (user_id, at)")
        self._db.execute("CREATE INDEX IF NOT EXISTS attempts_device ON attempts (device, at)")
        self._db.execute("CREATE INDEX IF NOT EXISTS attempts_app ON attempts (app_id, outcome)")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def count_user(self, user_id: str, since: float) -> int:
        return self._one("SELECT COUNT(*) FROM attempts WHERE user_id = ? AND at >= ?", (user_id, since))

    def count_device(self, device: str, since: float) -> int:
        return self._one("SELECT COUNT(*) FROM attempts WHERE device = ? AND at >= ?", (device, since))

    def paid_amounts(self, user_id: str) -> list[int]:
        rows = self._db.execute("SELECT amount_fen FROM attempts WHERE user_id = ? AND outcome = 'paid'",
                                (user_id,)).fetchall()
        return [r[0] for r in rows]

    def known_device(self, user_id: str, device: str) -> bool:
        return bool(self._one("SELECT COUNT(*) FROM attempts WHERE user_id = ? AND device = ? AND outcome = 'paid'",
                              (user_id, device)))

    def app_has_paid(self, app_id: str) -> bool:
        return bool(self._one("SELECT COUNT(*) FROM attempts WHERE app_id = ? AND outcome = 'paid'", (app_id,)))

    def record(self, at: float, app_id: str, user_id: str, device: str, amount_fen: int, prepay_id: str,
               decision: str) -> int:
        with self._lock:
            cur = self._db.execute("INSERT INTO attempts (at, app_id, user_id, device, amount_fen, prepay_id, decision)"
                                   " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                   (at, app_id, user_id, device, amount_fen, prepay_id, decision))
            return int(cur.lastrowid or 0)

    def settle(self, attempt_id: int, outcome: str) -> None:
        with self._lock:
            self._db.execute("UPDATE attempts SET outcome = ? WHERE id = ?", (outcome, attempt_id))

    def _one(self, sql: str, params: tuple[object, ...]) -> int:
        return int(self._db.execute(sql, params).fetchone()[0])
