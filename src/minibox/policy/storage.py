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

Keys rotate (`minibox.policy.keys.KeyRing`): each row records the key version it is sealed under
(`kver`); writes use the current version (kid and seals), reads look a key up under every held
version's kid and open it with the row's version, and a write replaces an older version's row of
the same key in the same transaction. `rotate(batch)` re-keys old rows a batch per transaction
(same seq, same size: `kv_usage` does not move) while the service keeps serving; a crash rolls the
batch back and the next `rotate` picks it up again. `pending()` counts rows not yet re-keyed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from minibox.policy.keys import KeyRing, KeyVersionError, as_ring, encode_parts, name_digest

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
  kver INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (host, app, user, kid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_seq (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv_times (seq INTEGER PRIMARY KEY, at REAL NOT NULL);
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

    def __init__(self, db_path: str | os.PathLike[str], master_key: bytes | KeyRing, *,
                 max_item: int = MAX_ITEM_BYTES, max_total: int = MAX_TOTAL_BYTES,
                 max_keys: int = MAX_KEYS) -> None:
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.ring = as_ring(master_key)
        self.ring.derive(self.ring.current, "check")  # fail fast on a bad master key
        self.max_item = max_item
        self.max_total = max_total
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._keys: dict[tuple[int, Owner], tuple[AESGCM, bytes]] = {}
        self._keys_gen = self.ring.generation
        #: rows `rotate` could not open (corrupted): skipped, and still counted by `pending`
        self._unrotatable: set[tuple[str, str, str, str]] = set()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Databases from before key rotation: every row is version 1 (added in place, once)."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cols = {r[1] for r in cur.execute("PRAGMA table_info(kv)")}
            if "kver" not in cols:
                cur.execute("ALTER TABLE kv ADD COLUMN kver INTEGER NOT NULL DEFAULT 1")
            # rotation and `pending` find old rows without scanning the values
            cur.execute("CREATE INDEX IF NOT EXISTS kv_kver ON kv(kver)")
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- crypto -------------------------------------------------------------------------------
    def _crypto(self, o: Owner, ver: int) -> tuple[AESGCM, bytes]:
        if self._keys_gen != self.ring.generation:  # rotated or retired: drop derived keys
            self._keys, self._keys_gen = {}, self.ring.generation
        c = self._keys.get((ver, o))
        if c is None:
            k = self.ring.derive(ver, "storage", o.host, o.app, o.user)
            mac = self.ring.derive(ver, "storage-names", o.host, o.app, o.user)
            c = self._keys[(ver, o)] = (AESGCM(k), mac)
        return c

    def _kid(self, o: Owner, key: str, ver: int) -> str:
        return name_digest(self._crypto(o, ver)[1], key)

    def _kids(self, o: Owner, key: str) -> dict[str, int]:
        """kid -> version, for every version held (current first)."""
        return {self._kid(o, key, v): v for v in self.ring.versions()}

    def _seal(self, o: Owner, key: str, role: str, plain: bytes, ver: int) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aad = encode_parts(role, o.host, o.app, o.user, key)
        return nonce + self._crypto(o, ver)[0].encrypt(nonce, plain, aad)

    def _open(self, o: Owner, key: str, role: str, blob: bytes, ver: int) -> bytes:
        aad = encode_parts(role, o.host, o.app, o.user, key)
        try:
            return self._crypto(o, ver)[0].decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError, KeyVersionError) as e:
            raise StorageCorrupted(f"key {key!r} failed authentication") from e

    @staticmethod
    def _in(kids: dict[str, int]) -> str:
        return ",".join("?" * len(kids))

    # -- operations ---------------------------------------------------------------------------
    def set(self, o: Owner, key: str, value: Any) -> None:
        body = encode_value(value)
        size = len(key.encode("utf-8", "surrogatepass")) + len(body)
        if size > self.max_item:
            raise ItemTooLarge(f"{size} bytes > {self.max_item}")
        ver = self.ring.current
        kids = self._kids(o, key)
        kid = self._kid(o, key, ver)
        name_blob = self._seal(o, "", "name", key.encode("utf-8", "surrogatepass"), ver)
        value_blob = self._seal(o, key, "value", body, ver)
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                # the key's row under any version (at most one: a write replaces older versions' rows)
                rows = cur.execute(f"SELECT seq, size, kid FROM kv WHERE host=? AND app=? AND user=? "
                                   f"AND kid IN ({self._in(kids)})", (o.host, o.app, o.user, *kids)).fetchall()
                row = rows[0] if rows else None
                used, keys = self._usage(cur, o)
                used += size - sum(r[1] for r in rows)
                keys += 1 - len(rows)
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
                for r in rows:  # the same key under an older version goes in this transaction
                    if r[2] != kid:
                        cur.execute("DELETE FROM kv WHERE host=? AND app=? AND user=? AND kid=?",
                                    (o.host, o.app, o.user, r[2]))
                cur.execute("INSERT OR REPLACE INTO kv (host, app, user, kid, seq, size, name, value, kver) "
                            "VALUES (?,?,?,?,?,?,?,?,?)",
                            (o.host, o.app, o.user, kid, seq, size, name_blob, value_blob, ver))
                # when the key was last written, for the app's retention period (`expire`)
                cur.execute("INSERT OR REPLACE INTO kv_times VALUES (?, ?)", (seq, time.time()))
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
        kids = self._kids(o, key)
        with self._lock:
            rows = self._db.execute(f"SELECT value, kver, kid FROM kv WHERE host=? AND app=? AND user=? "
                                    f"AND kid IN ({self._in(kids)})", (o.host, o.app, o.user, *kids)).fetchall()
        # a row counts only under the version its kid was made with
        rows = sorted((r for r in rows if kids.get(r[2]) == r[1]), key=lambda r: -r[1])
        if not rows:
            raise NotFound(key)
        plain = self._open(o, key, "value", rows[0][0], rows[0][1])
        return json.loads(plain)

    def remove(self, o: Owner, key: str) -> None:
        kids = self._kids(o, key)
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                rows = cur.execute(f"SELECT size, kid FROM kv WHERE host=? AND app=? AND user=? "
                                   f"AND kid IN ({self._in(kids)})", (o.host, o.app, o.user, *kids)).fetchall()
                if rows:
                    used, keys = self._usage(cur, o)
                    for _size, kid in rows:
                        cur.execute("DELETE FROM kv WHERE host=? AND app=? AND user=? AND kid=?",
                                    (o.host, o.app, o.user, kid))
                    cur.execute("UPDATE kv_usage SET used=?, keys=? WHERE host=? AND app=? AND user=?",
                                (used - sum(r[0] for r in rows), keys - len(rows), o.host, o.app, o.user))
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
                "SELECT name, size, kver FROM kv WHERE host=? AND app=? AND user=? ORDER BY seq",
                (o.host, o.app, o.user)).fetchall()
        keys = [self._open(o, "", "name", r[0], r[2]).decode("utf-8", "surrogatepass") for r in rows]
        used = sum(r[1] for r in rows)
        return {"keys": keys, "currentSize": -(-used // 1024), "limitSize": self.max_total // 1024}

    def expire(self, o: Owner, older_than: float) -> int:
        """Remove the owner's keys last written before `older_than` (Unix time): the app's retention
        period. Keys written before retention was tracked start their clock now. Returns how many."""
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute("INSERT OR IGNORE INTO kv_times SELECT seq, ? FROM kv WHERE host=? AND app=? AND user=?",
                            (time.time(), o.host, o.app, o.user))
                rows = cur.execute("SELECT kv.kid, kv.size, kv.seq FROM kv JOIN kv_times t ON t.seq = kv.seq "
                                   "WHERE kv.host=? AND kv.app=? AND kv.user=? AND t.at < ?",
                                   (o.host, o.app, o.user, older_than)).fetchall()
                if rows:
                    used, keys = self._usage(cur, o)
                    for kid, _size, seq in rows:
                        cur.execute("DELETE FROM kv WHERE host=? AND app=? AND user=? AND kid=?",
                                    (o.host, o.app, o.user, kid))
                        cur.execute("DELETE FROM kv_times WHERE seq=?", (seq,))
                    cur.execute("UPDATE kv_usage SET used=?, keys=? WHERE host=? AND app=? AND user=?",
                                (used - sum(r[1] for r in rows), keys - len(rows), o.host, o.app, o.user))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return len(rows)

    def users_of(self, host: str, app: str) -> list[str]:
        """The users an app holds storage for on this host (for its retention period)."""
        with self._lock:
            rows = self._db.execute("SELECT user FROM kv_usage WHERE host=? AND app=? AND keys > 0 ORDER BY user",
                                    (host, app)).fetchall()
        return [r[0] for r in rows]

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

    # -- key rotation ---------------------------------------------------------------------------
    def pending(self) -> int:
        """Rows not sealed under the current key version (0: the old versions can be retired)."""
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM kv WHERE kver < ?", (self.ring.current,)).fetchone()
        return int(n)

    def owners(self) -> list[Owner]:
        """Every (host, app, user) holding storage (rotation hands them to the file service)."""
        with self._lock:
            rows = self._db.execute("SELECT host, app, user FROM kv_usage UNION "
                                    "SELECT DISTINCT host, app, user FROM kv").fetchall()
        return [Owner(*r) for r in rows]

    def rotate(self, batch: int = 500, *, max_bytes: int = 16 * 1024 * 1024) -> int:
        """Re-key up to `batch` rows (and about `max_bytes` of them) sealed under an older version:
        open name and value with the row's version, seal under the current one, new kid; seq and
        size stay, so `kv_usage` does not move. The rows are read and re-sealed outside the write
        lock; one short transaction then swaps each row that did not change meanwhile (a row a
        writer replaced is left to the writer). Returns how many rows were re-keyed; a crash rolls
        the batch back (nothing half-done) and the next call picks the rows up again."""
        ver = self.ring.current
        while True:
            rows = self._rotation_candidates(ver, batch, max_bytes)
            if not rows:
                return 0
            work = self._resealed(rows, ver)
            # none swapped: every candidate was unreadable (now skipped) or rewritten by a writer
            # meanwhile (now current): look further
            if work and (done := self._swap(work, ver)):
                return done

    def _rotation_candidates(self, ver: int, batch: int, max_bytes: int) -> list[tuple]:
        rows: list[tuple] = []
        size = 0
        with self._lock:  # only as many rows as a batch holds are read (values are up to 1 MB)
            cur = self._db.execute("SELECT host, app, user, kid, kver, name, value FROM kv WHERE kver < ?", (ver,))
            try:
                for r in cur:
                    if tuple(r[:4]) in self._unrotatable:
                        continue
                    rows.append(r)
                    size += len(r[6])
                    if len(rows) >= batch or size >= max_bytes:
                        break
            finally:
                cur.close()
        return rows

    def _resealed(self, rows: list[tuple], ver: int) -> list[tuple]:
        work = []
        for host, app, user, kid, kver, name, value in rows:
            o = Owner(host, app, user)
            try:
                key = self._open(o, "", "name", name, kver).decode("utf-8", "surrogatepass")
                if self._kid(o, key, kver) != kid:
                    raise StorageCorrupted("kid does not match the name")
                body = self._open(o, key, "value", value, kver)
            except StorageCorrupted:
                self._unrotatable.add((host, app, user, kid))  # unreadable already; counted by pending
                continue
            work.append((o, kid, kver, name, value, self._kid(o, key, ver),
                         self._seal(o, "", "name", key.encode("utf-8", "surrogatepass"), ver),
                         self._seal(o, key, "value", body, ver)))
        return work

    def _swap(self, work: list[tuple], ver: int) -> int:
        done = 0
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                for o, kid, kver, name, value, new_kid, new_name, new_value in work:
                    row = cur.execute("SELECT seq, size, kver, name, value FROM kv "
                                      "WHERE host=? AND app=? AND user=? AND kid=?",
                                      (o.host, o.app, o.user, kid)).fetchone()
                    if row is None or row[2:] != (kver, name, value):
                        continue  # removed or rewritten meanwhile: nothing to re-key
                    cur.execute("DELETE FROM kv WHERE host=? AND app=? AND user=? AND kid=?",
                                (o.host, o.app, o.user, kid))
                    dup = cur.execute("SELECT size FROM kv WHERE host=? AND app=? AND user=? AND kid=?",
                                      (o.host, o.app, o.user, new_kid)).fetchone()
                    if dup is not None:  # a newer row of the same key exists: the old one was stale
                        used, keys = self._usage(cur, o)
                        cur.execute("UPDATE kv_usage SET used=?, keys=? WHERE host=? AND app=? AND user=?",
                                    (used - row[1], keys - 1, o.host, o.app, o.user))
                    else:
                        cur.execute("INSERT INTO kv (host, app, user, kid, seq, size, name, value, kver) "
                                    "VALUES (?,?,?,?,?,?,?,?,?)",
                                    (o.host, o.app, o.user, new_kid, row[0], row[1], new_name, new_value, ver))
                    done += 1
                self._between_rows()
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return done

    def _between_rows(self) -> None:
        """Test hook: runs inside the rotation transaction, before it commits."""

    def unrotatable(self) -> int:
        """Rows `rotate` skipped because they no longer authenticate (already unreadable)."""
        return len(self._unrotatable)
