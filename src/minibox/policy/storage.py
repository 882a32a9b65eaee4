"""Encrypted key-value storage behind wx.setStorage & co.

One SQLite database (WAL, synchronous=FULL) holds every (host, app, user). Rows are keyed by
(host, app, user, HMAC(key)), a composite primary key, never string concatenation. Both the key
name and the JSON value are sealed with AES-256-GCM under a key derived (HKDF) per app and user
from the host master key; the AAD binds a ciphertext to (host, app, user, key), so a row copied to
another app, user or key fails to decrypt and is reported as `StorageCorrupted`, never as data.

Sizes follow WeChat: a key's size is len(utf8 key) + len(utf8 JSON value); at most 1 MB per key
and 10 MB per app and user, keys and values counted together, so many small keys reach the quota
too; and at most `MAX_KEYS` keys (design choice: bounds the rows, whose encryption adds bytes that
WeChat's count leaves out). Usage per owner is kept in `kv_usage`, updated in the same transaction
as the row, so the quota check costs the same at the 10,000th key as at the first. A write is one
transaction: after `set` returns, the value survives a SIGKILL of the process (and a power loss,
with synchronous=FULL).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from minibox.policy.keys import derive_key, encode_parts, name_digest

#: WeChat: a single key holds at most 1 MB (key + JSON value bytes).
MAX_ITEM_BYTES = 1024 * 1024
#: WeChat: all storage of one app and user is at most 10 MB.
MAX_TOTAL_BYTES = 10 * 1024 * 1024
#: Keys per app and user (design choice; WeChat counts bytes only).
MAX_KEYS = 100_000
#: JSON nesting deeper than this is refused (Python's encoder would recurse).
MAX_DEPTH = 256
NONCE_BYTES = 12

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
  host TEXT NOT NULL, app TEXT NOT NULL, user TEXT NOT NULL, kid TEXT NOT NULL,
  seq INTEGER NOT NULL, size INTEGER NOT NULL, name BLOB NOT NULL, value BLOB NOT NULL,
  PRIMARY KEY (host, app, user, kid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_seq (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv_usage (
  host TEXT NOT NULL, app TEXT NOT NULL, user TEXT NOT NULL, used INTEGER NOT NULL, keys INTEGER NOT NULL,
  PRIMARY KEY (host, app, user)
) WITHOUT ROWID;
"""


class StorageError(Exception):
    """Base class; `reason` is the WeChat-shaped text after `<api>:fail `."""

    reason = "storage error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.reason)
        self.detail = detail


class NotFound(StorageError):
    reason = "data not found"


class ItemTooLarge(StorageError):
    reason = "exceed storage item max length"


class QuotaExceeded(StorageError):
    reason = "exceed storage max size 10Mb"


class InvalidValue(StorageError):
    reason = "parameter error: data is not JSON-serialisable"


class StorageCorrupted(StorageError):
    reason = "storage corrupted"


@dataclass(frozen=True)
class Owner:
    host: str
    app: str
    user: str


def _check_depth(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise InvalidValue(f"nesting deeper than {MAX_DEPTH}")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidValue("object keys must be strings")
            _check_depth(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_depth(v, depth + 1)
    elif not isinstance(value, str | int | float | bool | type(None)):
        raise InvalidValue(f"unsupported type {type(value).__name__}")


def encode_value(value: Any) -> bytes:
    _check_depth(value)
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except (ValueError, TypeError) as e:
        raise InvalidValue(str(e)) from e


class StorageService:
    """Thread-safe; one instance may serve many (host, app, user) owners."""

    def __init__(self, db_path: str | os.PathLike[str], master_key: bytes, *,
                 max_item: int = MAX_ITEM_BYTES, max_total: int = MAX_TOTAL_BYTES,
                 max_keys: int = MAX_KEYS) -> None:
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._master = bytes(master_key)
        derive_key(self._master, "check")  # fail fast on a bad master key
        self.max_item = max_item
        self.max_total = max_total
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._keys: dict[Owner, tuple[AESGCM, bytes]] = {}
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- crypto -------------------------------------------------------------------------------
    def _crypto(self, o: Owner) -> tuple[AESGCM, bytes]:
        c = self._keys.get(o)
        if c is None:
            k = derive_key(self._master, "storage", o.host, o.app, o.user)
            mac = derive_key(self._master, "storage-names", o.host, o.app, o.user)
            c = self._keys[o] = (AESGCM(k), mac)
        return c

    def _kid(self, o: Owner, key: str) -> str:
        return name_digest(self._crypto(o)[1], key)

    def _seal(self, o: Owner, key: str, role: str, plain: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aad = encode_parts(role, o.host, o.app, o.user, key)
        return nonce + self._crypto(o)[0].encrypt(nonce, plain, aad)

    def _open(self, o: Owner, key: str, role: str, blob: bytes) -> bytes:
        aad = encode_parts(role, o.host, o.app, o.user, key)
        try:
            return self._crypto(o)[0].decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError) as e:
            raise StorageCorrupted(f"key {key!r} failed authentication") from e

    # -- operations ---------------------------------------------------------------------------
    def set(self, o: Owner, key: str, value: Any) -> None:
        body = encode_value(value)
        size = len(key.encode("utf-8", "surrogatepass")) + len(body)
        if size > self.max_item:
            raise ItemTooLarge(f"{size} bytes > {self.max_item}")
        kid = self._kid(o, key)
        name_blob = self._seal(o, "", "name", key.encode("utf-8", "surrogatepass"))
        value_blob = self._seal(o, key, "value", body)
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                row = cur.execute("SELECT seq, size FROM kv WHERE host=? AND app=? AND user=? AND kid=?",
                                  (o.host, o.app, o.user, kid)).fetchone()
                used, keys = self._usage(cur, o)
                used += size - (row[1] if row else 0)
                keys += 0 if row else 1
                if used > self.max_total:
                    raise QuotaExceeded(f"{used} bytes > {self.max_total}")
                if keys > self.max_keys:
                    raise QuotaExceeded(f"{keys} keys > {self.max_keys}")
                cur.execute("UPDATE kv_usage SET used=?, keys=? WHERE host=? AND app=? AND user=?",
                            (used, keys, o.host, o.app, o.user))
                if row is None:
                    cur.execute("INSERT INTO kv_seq(id, seq) VALUES (1, 1) "
                                "ON CONFLICT(id) DO UPDATE SET seq = seq + 1")
                    (seq,) = cur.execute("SELECT seq FROM kv_seq WHERE id=1").fetchone()
                else:
                    seq = row[0]
                cur.execute("INSERT OR REPLACE INTO kv VALUES (?,?,?,?,?,?,?,?)",
                            (o.host, o.app, o.user, kid, seq, size, name_blob, value_blob))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    @staticmethod
    def _usage(cur: sqlite3.Cursor, o: Owner) -> tuple[int, int]:
        """(bytes, keys) of one owner, inside the caller's write transaction; computed once from
        the rows when the usage row is missing (a database from before `kv_usage`)."""
        row = cur.execute("SELECT used, keys FROM kv_usage WHERE host=? AND app=? AND user=?",
                          (o.host, o.app, o.user)).fetchone()
        if row is not None:
            return int(row[0]), int(row[1])
        used, keys = cur.execute("SELECT COALESCE(SUM(size),0), COUNT(*) FROM kv WHERE host=? AND app=? AND user=?",
                                 (o.host, o.app, o.user)).fetchone()
        cur.execute("INSERT INTO kv_usage VALUES (?,?,?,?,?)", (o.host, o.app, o.user, used, keys))
        return int(used), int(keys)

    def get(self, o: Owner, key: str) -> Any:
        kid = self._kid(o, key)
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE host=? AND app=? AND user=? AND kid=?",
                                   (o.host, o.app, o.user, kid)).fetchone()
        if row is None:
            raise NotFound(key)
        plain = self._open(o, key, "value", row[0])
        return json.loads(plain)

    def remove(self, o: Owner, key: str) -> None:
        kid = self._kid(o, key)
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                row = cur.execute("SELECT size FROM kv WHERE host=? AND app=? AND user=? AND kid=?",
                                  (o.host, o.app, o.user, kid)).fetchone()
                if row is not None:
                    used, keys = self._usage(cur, o)
                    cur.execute("DELETE FROM kv WHERE host=? AND app=? AND user=? AND kid=?",
                                (o.host, o.app, o.user, kid))
                    cur.execute("UPDATE kv_usage SET used=?, keys=? WHERE host=? AND app=? AND user=?",
                                (used - row[0], keys - 1, o.host, o.app, o.user))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def clear(self, o: Owner) -> None:
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute("DELETE FROM kv WHERE host=? AND app=? AND user=?", (o.host, o.app, o.user))
                cur.execute("DELETE FROM kv_usage WHERE host=? AND app=? AND user=?", (o.host, o.app, o.user))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def info(self, o: Owner) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, size FROM kv WHERE host=? AND app=? AND user=? ORDER BY seq",
                (o.host, o.app, o.user)).fetchall()
        keys = [self._open(o, "", "name", r[0]).decode("utf-8", "surrogatepass") for r in rows]
        used = sum(r[1] for r in rows)
        return {"keys": keys, "currentSize": -(-used // 1024), "limitSize": self.max_total // 1024}

    def apps_of(self, host: str, user: str) -> list[str]:
        """The apps holding storage for a user on this host (for the user's data overview)."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT app FROM kv WHERE host=? AND user=? ORDER BY app",
                                    (host, user)).fetchall()
        return [r[0] for r in rows]

    def checksum(self, o: Owner) -> str:
        """A digest of one owner's decrypted contents, for tests and the scorecard."""
        import hashlib

        h = hashlib.sha256()
        for k in sorted(self.info(o)["keys"]):
            h.update(encode_parts(k, json.dumps(self.get(o, k), sort_keys=True)))
        return h.hexdigest()
