"""Telemetry ingestion, rollups, dashboard figures and the rollout guard.

Ingest (`ingest`): host API key -> body signature (`minibox.telemetry_sig`, the host's registered
X25519 key with the platform's telemetry key) -> schema and sizes -> every app granted to the host
-> in one transaction: the batch id (a replay is `duplicate`, nothing stored twice), the raw
events, and the rollups, all or nothing.

Pseudonyms. A host sends `u = HMAC(host secret, app, user)`; the platform stores
`HMAC(app salt, u)` with a random salt per app that never leaves the platform. Neither value can
be joined across apps (each app has its own), and the platform cannot test a guessed user id
(it never has the host secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from minibox.platform import metrics
from minibox.platform.apps.models import App
from minibox.platform.context import Ctx, Platform
from minibox.platform.db import Database
from minibox.platform.errors import Forbidden, InvalidInput, PlatformError, TooLarge, Unauthenticated
from minibox.platform.hosts import service as hosts
from minibox.platform.hosts.models import Host, HostApp
from minibox.platform.telemetry.models import (
    TelemetryApiDaily,
    TelemetryAppSalt,
    TelemetryBatch,
    TelemetryCounters,
    TelemetryErrorDaily,
    TelemetryErrorGroup,
    TelemetryEvent,
    TelemetryLaunchHist,
    TelemetryUsersDaily,
)
from minibox.telemetry_sig import KEY_CONTEXT, check_body, mac_key

TELEMETRY_KEY_FILE = "telemetry-x25519.pem"
#: Largest batch body, and most events in one batch.
MAX_BODY_BYTES = 1024 * 1024
MAX_EVENTS = 1000
#: Raw events and batch ids are kept this long (days); a batch older than this is refused as stale.
ENV_RETENTION_DAYS = "MINIBOX_TELEMETRY_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
#: Rollups are kept this long (days), and a dashboard range is at most as long.
ROLLUP_RETENTION_DAYS = 400
MAX_RANGE_DAYS = ROLLUP_RETENTION_DAYS
#: Upper bounds (ms) of the launch-time histogram buckets; the last bucket is open.
LAUNCH_BUCKETS_MS = (50, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 8000, 13000, 20000)
KINDS = frozenset({"launch", "page_view", "page_stay", "error", "rejection", "crash", "api", "payment",
                   "custom", "log", "session_end", "payment_record"})
OUTCOMES = frozenset({"granted", "denied", "failed"})
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_SID = re.compile(r"^[0-9a-f]{1,32}$")
_APP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION = re.compile(r"^[0-9A-Za-z.+_-]{1,32}$")
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


class BadSignature(Unauthenticated):
    code = "bad_signature"


def retention_days() -> int:
    try:
        return max(1, int(os.environ.get(ENV_RETENTION_DAYS, DEFAULT_RETENTION_DAYS)))
    except ValueError:
        return DEFAULT_RETENTION_DAYS


# ---- the platform's telemetry key -------------------------------------------------------------------------

_KEYS: dict[Path, X25519PrivateKey] = {}
_KEYS_LOCK = threading.Lock()


def telemetry_key(platform: Platform) -> X25519PrivateKey:
    """The platform's X25519 telemetry key (created on first use; replicas share the key dir)."""
    path = platform.settings.key_dir / TELEMETRY_KEY_FILE
    with _KEYS_LOCK:
        key = _KEYS.get(path)
        if key is not None:
            return key
        if not path.exists():
            new = X25519PrivateKey.generate()
            pem = new.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(pem)
            except FileExistsError:
                pass
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, X25519PrivateKey):
            raise ValueError(f"{path}: not an X25519 private key")
        _KEYS[path] = loaded
        return loaded


def key_document(platform: Platform) -> dict[str, str]:
    """The telemetry public key, signed by the package signing key hosts already trust."""
    raw = telemetry_key(platform).public_key().public_bytes(serialization.Encoding.Raw,
                                                            serialization.PublicFormat.Raw)
    signer = platform.package_signer
    return {"public_key": raw.hex(), "key_id": signer.key_id,
            "sig": base64.b64encode(signer.sign(KEY_CONTEXT, raw)).decode()}


# ---- HyperLogLog (active users) -----------------------------------------------------------------------------

HLL_P = 11
HLL_M = 1 << HLL_P


def hll_new() -> bytearray:
    return bytearray(HLL_M)


def hll_add(regs: bytearray, item: str) -> None:
    x = int.from_bytes(hashlib.blake2b(item.encode(), digest_size=8).digest(), "big")
    idx = x >> (64 - HLL_P)
    w = (x << HLL_P) & ((1 << 64) - 1)
    rho = min(64 - HLL_P, 64 - w.bit_length()) + 1
    if rho > regs[idx]:
        regs[idx] = rho


_H = int.from_bytes(b"\x80" * HLL_M, "big")


def hll_merge(a: bytes | bytearray, b: bytes | bytearray) -> bytes:
    """Register-wise max (registers are < 128), on whole integers: about 100x `map(max)`."""
    x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    ge = (((x | _H) - y) & _H) >> 7           # 1 in each byte where x >= y
    mask = (ge << 8) - ge                       # 0xff there
    return ((x & mask) | (y & ~mask & ((1 << (8 * HLL_M)) - 1))).to_bytes(HLL_M, "big")


_POW = [2.0 ** -i for i in range(66)]


def hll_count(regs: bytes | bytearray) -> int:
    alpha = 0.7213 / (1 + 1.079 / HLL_M)
    est = alpha * HLL_M * HLL_M / sum(map(_POW.__getitem__, regs))
    zeros = regs.count(0)
    if est <= 2.5 * HLL_M and zeros:
        est = HLL_M * math.log(HLL_M / zeros)
    return round(est)


# ---- validation -------------------------------------------------------------------------------------------------

@dataclass
class Batch:
    batch_id: str
    created_at: int
    dropped: int
    events: list[dict[str, Any]]


def _bad(message: str, index: int | None = None, field_name: str | None = None) -> InvalidInput:
    details = {"event": index, "field": field_name} if index is not None else None
    return InvalidInput(message, code="invalid_batch", details=details)


def parse_batch(body: bytes, host_id: str, now_ms: int) -> Batch:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _bad("the batch is not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != 1:
        raise _bad("the batch must be an object with format 1")
    batch_id, events = doc.get("batch_id"), doc.get("events")
    if not isinstance(batch_id, str) or not _HEX32.match(batch_id):
        raise _bad("batch_id must be 32 lowercase hex characters")
    if doc.get("host_id") != host_id:
        raise Forbidden("the batch names another host", code="wrong_host")
    created, dropped = doc.get("created_at"), doc.get("dropped", 0)
    if not _int(created) or not _int(dropped) or dropped < 0:
        raise _bad("created_at and dropped must be integers")
    if not isinstance(events, list):
        raise _bad("events must be a list")
    if len(events) > MAX_EVENTS:
        raise TooLarge(f"a batch holds at most {MAX_EVENTS} events, this one {len(events)}",
                       code="too_many_events", details={"max_events": MAX_EVENTS})
    oldest = now_ms - retention_days() * DAY_MS
    if created < oldest:
        raise InvalidInput(f"the batch is older than the {retention_days()}-day retention", code="stale_batch")
    for i, e in enumerate(events):
        _check_event(e, i, oldest, now_ms + DAY_MS)
    return Batch(batch_id, created, dropped, events)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def _check_event(e: Any, i: int, oldest: int, newest: int) -> None:
    if not isinstance(e, dict):
        raise _bad("an event must be an object", i)
    kind = e.get("k")
    if kind not in KINDS:
        raise _bad(f"unknown event kind {str(kind)[:20]!r}", i, "k")
    t = e.get("t")
    if not _int(t) or not oldest <= t <= newest:
        raise _bad("event time out of range", i, "t")
    if not isinstance(e.get("a"), str) or not _APP.match(e["a"]):
        raise _bad("bad app id", i, "a")
    if not isinstance(e.get("v"), str) or not _VERSION.match(e["v"]):
        raise _bad("bad version", i, "v")
    if not isinstance(e.get("u"), str) or not _HEX32.match(e["u"]):
        raise _bad("the user must be a 32-hex pseudonym", i, "u")
    if not isinstance(e.get("s"), str) or not _SID.match(e["s"]):
        raise _bad("bad session id", i, "s")
    name, data = e.get("n", ""), e.get("d", {})
    if not isinstance(name, str) or len(name) > 300:
        raise _bad("name must be a string of at most 300 characters", i, "n")
    if not isinstance(data, dict) or len(orjson.dumps(data)) > 4096:
        raise _bad("data must be an object of at most 4 KB", i, "d")
    if kind == "api" and (data.get("o") not in OUTCOMES or not _int(data.get("c")) or data["c"] < 1):
        raise _bad("an api event needs o (granted|denied|failed) and c >= 1", i, "d")
    if len(name) > 64 and kind == "api":
        raise _bad("api name too long", i, "n")


# ---- ingestion ------------------------------------------------------------------------------------------------

@dataclass
class IngestResult:
    batch_id: str
    stored: int
    duplicate: bool

    def to_json(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "stored": self.stored, "duplicate": self.duplicate}


def ingest(platform: Platform, api_key: str | None, signature: str | None, body: bytes) -> IngestResult:
    if len(body) > MAX_BODY_BYTES:
        metrics.TELEMETRY_BATCHES.labels("too_large").inc()
        raise TooLarge(f"a telemetry batch is at most {MAX_BODY_BYTES} bytes, this one {len(body)}",
                       details={"max_bytes": MAX_BODY_BYTES})
    with platform.db.read() as s:
        host = hosts.authenticate(s, api_key or "")
        if host is None:
            metrics.TELEMETRY_BATCHES.labels("unauthenticated").inc()
            raise Unauthenticated("unknown or revoked host key")
        host_pk, host_id = host.id, host.host_id
        key = mac_key(telemetry_key(platform), bytes.fromhex(host.public_key), host_id)
        if not check_body(key, body, signature):
            metrics.TELEMETRY_BATCHES.labels("bad_signature").inc()
            raise BadSignature("the batch signature does not verify with this host's key")
        now_ms = int(time.time() * 1000)
        try:
            batch = parse_batch(body, host_id, now_ms)
        except PlatformError as e:
            metrics.TELEMETRY_BATCHES.labels(e.code).inc()
            raise
        wanted = {e["a"] for e in batch.events}
        granted = dict(s.execute(select(App.app_id, App.id).join(HostApp, HostApp.app_pk == App.id)
                                 .where(HostApp.host_pk == host_pk, App.app_id.in_(wanted))).all()) if wanted else {}
        missing = sorted(wanted - set(granted))
        if missing:
            metrics.TELEMETRY_BATCHES.labels("app_not_granted").inc()
            raise Forbidden(f"host {host_id} is not granted app {missing[0]!r}", code="app_not_granted",
                            details={"apps": missing[:10]})
        if s.get(TelemetryBatch, batch.batch_id) is not None:
            metrics.TELEMETRY_BATCHES.labels("duplicate").inc()
            return IngestResult(batch.batch_id, 0, True)
    try:
        with platform.db.write() as s:
            s.add(TelemetryBatch(batch_id=batch.batch_id, host_pk=host_pk, events=len(batch.events)))
            s.flush()  # a concurrent copy of this batch fails here, before anything else is written
            _store(s, host_pk, granted, batch, now_ms)
    except IntegrityError:
        metrics.TELEMETRY_BATCHES.labels("duplicate").inc()
        return IngestResult(batch.batch_id, 0, True)
    metrics.TELEMETRY_BATCHES.labels("stored").inc()
    metrics.TELEMETRY_EVENTS.inc(len(batch.events))
    if batch.dropped:
        metrics.TELEMETRY_DROPPED.inc(batch.dropped)
    for e in batch.events:
        metrics.TELEMETRY_LAG.observe(max(0.0, (now_ms - e["t"]) / 1000.0))
    _maybe_prune(platform)
    return IngestResult(batch.batch_id, len(batch.events), False)


def _salts(s: Session, app_pks: Iterable[int]) -> dict[int, bytes]:
    pks = sorted(set(app_pks))
    got = dict(s.execute(select(TelemetryAppSalt.app_pk, TelemetryAppSalt.salt)
                         .where(TelemetryAppSalt.app_pk.in_(pks))).all())
    for pk in pks:
        if pk not in got:
            salt = os.urandom(32)
            upsert(s, TelemetryAppSalt, [{"app_pk": pk, "salt": salt, "created_at": datetime.now(UTC)}],
                              ["app_pk"], {})
            got[pk] = s.execute(select(TelemetryAppSalt.salt).where(TelemetryAppSalt.app_pk == pk)).scalar_one()
    return got


def payment_records(s: Session, org_id: int, order_id: str) -> dict[str, Any] | None:
    """Every step hosts reported for one payment (risk decision, step-up, confirmation, settlement),
    in time order, for a dispute; None when no app of the organisation has this order."""
    rows = s.execute(select(TelemetryEvent, App.app_id, Host.host_id)
                     .join(App, App.id == TelemetryEvent.app_pk).join(Host, Host.id == TelemetryEvent.host_pk)
                     .where(App.org_id == org_id, TelemetryEvent.kind == "payment_record",
                            TelemetryEvent.name == order_id)
                     .order_by(TelemetryEvent.ts, TelemetryEvent.id).limit(500)).all()
    if not rows:
        return None
    first = rows[0]
    return {"order_id": order_id, "app_id": first[1], "host_id": first[2], "user": first[0].user,
            "version": first[0].version,
            "steps": [{"at": e.ts.isoformat(), "host_id": h, **e.data} for e, _a, h in rows]}


def forget_user(s: Session, app_pk: int, host_pseudonym: str) -> int:
    """A user's data was deleted on their order: delete the raw events stored under the pseudonym the
    host names (re-keyed here as at ingest). Rollups are counts and sketches, not a person's data: they
    stay. Returns how many events went."""
    if not re.fullmatch(r"[0-9a-f]{32}", host_pseudonym or ""):
        return 0
    salt = s.execute(select(TelemetryAppSalt.salt).where(TelemetryAppSalt.app_pk == app_pk)).scalar()
    if salt is None:
        return 0  # nothing was ever ingested for this app
    user = hmac.new(salt, host_pseudonym.encode(), hashlib.sha256).hexdigest()[:32]
    result = s.execute(delete(TelemetryEvent).where(TelemetryEvent.app_pk == app_pk, TelemetryEvent.user == user))
    return int(result.rowcount or 0)


def upsert(s: Session, model: Any, rows: list[dict[str, Any]], keys: list[str], add: dict[str, Any]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE (or NOTHING) on SQLite and PostgreSQL, executemany style
    (one compiled statement, cached; PostgreSQL batches the rows). `add`: column -> True (add the new
    value) or fn(current columns, excluded columns) -> expression."""
    if not rows:
        return
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    table = model.__table__
    stmt = dialect_insert(table)  # Core, not the ORM's bulk path: one cached statement, plain executemany
    if not add:
        s.execute(stmt.on_conflict_do_nothing(index_elements=keys), rows)
        return
    sets = {col: (fn(table.c, stmt.excluded) if callable(fn) else table.c[col] + stmt.excluded[col])
            for col, fn in add.items()}
    s.execute(stmt.on_conflict_do_update(index_elements=keys, set_=sets), rows)


HOURLY_COLUMNS = ("events", "launches", "sessions", "error_sessions", "crashed_sessions", "errors", "page_views",
                  "stay_ms", "setdata_count", "setdata_bytes", "setdata_ms", "api_calls", "payments_ok",
                  "payments_failed", "custom_events")


COUNTER_KEYS = ["app_pk", "grain", "period", "version", "host_pk"]
HIST_KEYS = ["app_pk", "grain", "period", "version", "bucket"]


def counter_rows(hourly: dict[tuple[int, str, int], dict[str, int]], host_pk: int) -> list[dict[str, Any]]:
    """Rows of `TelemetryCounters` for counters per (app, version, hour): the hourly rows and their
    sums per day, sorted by key (concurrent ingests lock rows in one order)."""
    daily: dict[tuple[int, str, int], dict[str, int]] = defaultdict(lambda: dict.fromkeys(HOURLY_COLUMNS, 0))
    for (a, v, h), c in hourly.items():
        row = daily[(a, v, h // 24)]
        for k, n in c.items():
            row[k] += n
    rows = [{"app_pk": a, "grain": g, "period": t, "version": v, "host_pk": host_pk, **c}
            for g, src in ((1, hourly), (24, daily)) for (a, v, t), c in src.items()]
    return sorted(rows, key=lambda r: (r["app_pk"], r["grain"], r["period"], r["version"]))


def hist_rows(hist: dict[tuple[int, str, int, int], int]) -> list[dict[str, Any]]:
    daily: dict[tuple[int, str, int, int], int] = defaultdict(int)
    for (a, v, h, b), n in hist.items():
        daily[(a, v, h // 24, b)] += n
    rows = [{"app_pk": a, "grain": g, "period": t, "version": v, "bucket": b, "count": n}
            for g, src in ((1, hist), (24, daily)) for (a, v, t, b), n in src.items()]
    return sorted(rows, key=lambda r: (r["app_pk"], r["grain"], r["period"], r["version"], r["bucket"]))


def periods(h0: int, h1: int) -> list[tuple[int, int, int]]:
    """[h0, h1) in hours as (grain, from, to) pieces: whole days from the daily rows, the ragged
    ends from the hourly ones."""
    d_lo, d_hi = -(-h0 // 24), h1 // 24
    if d_lo >= d_hi:
        return [(1, h0, h1)]
    out = [(24, d_lo, d_hi)]
    if h0 < d_lo * 24:
        out.append((1, h0, d_lo * 24))
    if d_hi * 24 < h1:
        out.append((1, d_hi * 24, h1))
    return out


def launch_bucket(ms: float) -> int:
    for i, bound in enumerate(LAUNCH_BUCKETS_MS):
        if ms <= bound:
            return i
    return len(LAUNCH_BUCKETS_MS)


def error_fingerprint(kind: str, message: str, location: str) -> str:
    # digits in messages ("index 12 out of range") would split one error into many
    norm = re.sub(r"\d+", "#", message)[:200]
    return hashlib.sha256(f"{kind}\x00{norm}\x00{location}".encode()).hexdigest()[:32]


def _store(s: Session, host_pk: int, granted: dict[str, int], batch: Batch, now_ms: int) -> None:
    now = datetime.now(UTC)
    salts = _salts(s, granted.values())
    hourly: dict[tuple[int, str, int], dict[str, int]] = defaultdict(lambda: dict.fromkeys(HOURLY_COLUMNS, 0))
    hist: dict[tuple[int, str, int, int], int] = defaultdict(int)
    apis: dict[tuple[int, str, int, str, str], int] = defaultdict(int)
    users: dict[tuple[int, str, int], set[str]] = defaultdict(set)
    err_daily: dict[tuple[int, str, int, str], int] = defaultdict(int)
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    raw = []
    for e in batch.events:
        app_pk, version, t, kind, name, d = granted[e["a"]], e["v"], e["t"], e["k"], e.get("n", ""), e.get("d", {})
        user = hmac.new(salts[app_pk], e["u"].encode(), hashlib.sha256).hexdigest()[:32]
        hour, day = t // HOUR_MS, t // DAY_MS
        ts = datetime.fromtimestamp(t / 1000, UTC)
        raw.append({"app_pk": app_pk, "host_pk": host_pk, "version": version, "ts": ts, "kind": kind, "name": name,
                    "user": user, "session": e["s"], "data": d, "received_at": now})
        row = hourly[(app_pk, version, hour)]
        row["events"] += 1
        users[(app_pk, version, day)].add(user)
        if kind == "launch":
            row["launches"] += 1
            if _num(d.get("ms")):
                hist[(app_pk, version, hour, launch_bucket(d["ms"]))] += 1
        elif kind == "session_end":
            row["sessions"] += 1
            row["error_sessions"] += 1 if _num(d.get("errors")) and d["errors"] > 0 else 0
            row["crashed_sessions"] += 1 if d.get("crashed") is True else 0
            for col in ("setdata_count", "setdata_bytes", "setdata_ms"):
                if _num(d.get(col)):
                    row[col] += int(d[col])
        elif kind in ("error", "rejection"):
            row["errors"] += 1
            loc = str(d.get("loc", ""))[:300]
            fp = error_fingerprint(kind, name, loc)
            err_daily[(app_pk, version, day, fp)] += 1
            g = groups.get((app_pk, fp))
            if g is None or ts < g["first_seen"]:
                stack = [str(x)[:300] for x in d.get("stack", [])[:8]] if isinstance(d.get("stack"), list) else []
                groups[(app_pk, fp)] = {"app_pk": app_pk, "fingerprint": fp, "kind": kind, "message": name,
                                        "location": loc, "stack": stack, "first_version": version,
                                        "first_seen": ts, "last_seen": max(ts, g["last_seen"]) if g else ts}
            else:
                g["last_seen"] = max(g["last_seen"], ts)
        elif kind == "page_view":
            row["page_views"] += 1
        elif kind == "page_stay" and _num(d.get("ms")):
            row["stay_ms"] += int(d["ms"])
        elif kind == "api":
            row["api_calls"] += d["c"]
            apis[(app_pk, version, day, name, d["o"])] += d["c"]
        elif kind == "payment":
            row["payments_ok" if name == "ok" else "payments_failed"] += 1
        elif kind == "custom":
            row["custom_events"] += 1
    if raw:
        _insert_raw(s, raw)
    if hourly:
        upsert(s, TelemetryCounters, counter_rows(hourly, host_pk), COUNTER_KEYS, dict.fromkeys(HOURLY_COLUMNS, True))
    if hist:
        upsert(s, TelemetryLaunchHist, hist_rows(hist), HIST_KEYS, {"count": True})
    if apis:
        rows = [{"app_pk": a, "version": v, "day": d, "api": api[:64], "outcome": o, "count": n}
                for (a, v, d, api, o), n in sorted(apis.items())]
        upsert(s, TelemetryApiDaily, rows, ["app_pk", "version", "day", "api", "outcome"], {"count": True})
    if err_daily:
        rows = [{"app_pk": a, "version": v, "day": d, "fingerprint": fp, "count": n}
                for (a, v, d, fp), n in sorted(err_daily.items())]
        upsert(s, TelemetryErrorDaily, rows, ["app_pk", "version", "day", "fingerprint"], {"count": True})
    if groups:
        rows = [groups[k] for k in sorted(groups)]
        # SET reads the old row on both databases: first_version follows the earliest first_seen
        upsert(s, TelemetryErrorGroup, rows, ["app_pk", "fingerprint"], {
            "last_seen": lambda c, x: case((x.last_seen > c.last_seen, x.last_seen), else_=c.last_seen),
            "first_version": lambda c, x: case((x.first_seen < c.first_seen, x.first_version), else_=c.first_version),
            "first_seen": lambda c, x: case((x.first_seen < c.first_seen, x.first_seen), else_=c.first_seen),
        })
    _merge_users(s, users)


_RAW_COLUMNS = ("app_pk", "host_pk", "version", "ts", "kind", "name", "user", "session", "data", "received_at")


def _insert_raw(s: Session, raw: list[dict[str, Any]]) -> None:
    """Raw events: PostgreSQL COPY inside the session's transaction (several times faster than an
    executemany of INSERTs), SQLite an executemany."""
    if s.get_bind().dialect.name != "postgresql":
        s.execute(insert(TelemetryEvent.__table__), raw)
        return
    driver = s.connection().connection.driver_connection
    cols = ", ".join(f'"{c}"' for c in _RAW_COLUMNS)
    with driver.cursor() as cur, cur.copy(f"COPY telemetry_events ({cols}) FROM STDIN") as copy:
        for r in raw:
            copy.write_row((r["app_pk"], r["host_pk"], r["version"], r["ts"], r["kind"], r["name"], r["user"],
                            r["session"], orjson.dumps(r["data"]).decode(), r["received_at"]))


def _merge_users(s: Session, users: dict[tuple[int, str, int], set[str]]) -> None:
    pg = s.get_bind().dialect.name == "postgresql"
    for (app_pk, version, day) in sorted(users):
        q = select(TelemetryUsersDaily).where(TelemetryUsersDaily.app_pk == app_pk,
                                              TelemetryUsersDaily.version == version, TelemetryUsersDaily.day == day)
        if pg:
            q = q.with_for_update()
        row = s.execute(q).scalar_one_or_none()
        regs = bytearray(row.hll) if row is not None else hll_new()
        for u in users[(app_pk, version, day)]:
            hll_add(regs, u)
        if row is None:
            upsert(s, TelemetryUsersDaily, [{"app_pk": app_pk, "version": version, "day": day,
                                                         "hll": bytes(regs)}], ["app_pk", "version", "day"],
                              {"hll": lambda c, x: x.hll})
        else:
            row.hll = bytes(regs)
    s.flush()


# ---- retention -----------------------------------------------------------------------------------------------

_last_prune = 0.0
PRUNE_EVERY_S = 3600.0


def _maybe_prune(platform: Platform) -> None:
    global _last_prune
    if time.monotonic() - _last_prune < PRUNE_EVERY_S:
        return
    _last_prune = time.monotonic()
    try:
        prune(platform.db)
    except Exception:  # pruning is housekeeping: an ingest never fails because of it
        import logging

        logging.getLogger(__name__).exception("telemetry prune failed")


def prune(db: Database, *, days: int | None = None, rollup_days: int = ROLLUP_RETENTION_DAYS,
          chunk: int = 50_000) -> dict[str, int]:
    """Delete raw events and batch ids older than `days` (default the retention), rollups older than
    `rollup_days`. Raw events go in chunks so no transaction grows large."""
    days = days if days is not None else retention_days()
    cutoff = datetime.now(UTC) - timedelta(days=days)
    out = {"events": 0, "batches": 0, "rollups": 0}
    while True:
        with db.write() as s:
            ids = list(s.execute(select(TelemetryEvent.id).where(TelemetryEvent.received_at < cutoff)
                                 .limit(chunk)).scalars())
            if not ids:
                break
            s.execute(delete(TelemetryEvent).where(TelemetryEvent.id.in_(ids)))
            out["events"] += len(ids)
    with db.write() as s:
        out["batches"] = s.execute(delete(TelemetryBatch).where(TelemetryBatch.received_at < cutoff)).rowcount or 0
        hour_cut = int((time.time() - rollup_days * 86400) * 1000) // HOUR_MS
        day_cut = hour_cut // 24
        n = 0
        for model in (TelemetryCounters, TelemetryLaunchHist):
            for grain, cut in ((1, hour_cut), (24, day_cut)):
                n += s.execute(delete(model).where(model.grain == grain, model.period < cut)).rowcount or 0
        for model in (TelemetryApiDaily, TelemetryUsersDaily, TelemetryErrorDaily):
            n += s.execute(delete(model).where(model.day < day_cut)).rowcount or 0
        out["rollups"] = n
    return out


# ---- dashboard figures --------------------------------------------------------------------------------------

def _percentile(counts: dict[int, int], q: float) -> float | None:
    total = sum(counts.values())
    if not total:
        return None
    rank, seen = q * total, 0
    for b in sorted(counts):
        n = counts[b]
        if seen + n >= rank:
            lo = LAUNCH_BUCKETS_MS[b - 1] if b > 0 else 0
            hi = LAUNCH_BUCKETS_MS[b] if b < len(LAUNCH_BUCKETS_MS) else LAUNCH_BUCKETS_MS[-1] * 1.5
            return round(lo + (hi - lo) * (rank - seen) / n, 1)  # linear within the bucket
        seen += n
    return float(LAUNCH_BUCKETS_MS[-1])


def _rates(sessions: int, error_sessions: int, crashed: int) -> dict[str, float | None]:
    return {"error_rate": round(error_sessions / sessions, 6) if sessions else None,
            "crash_free": round(1 - crashed / sessions, 6) if sessions else None}


_SERIES = ("launches", "sessions", "errors", "page_views", "error_sessions", "crashed_sessions")
_COL = {c: i for i, c in enumerate(HOURLY_COLUMNS)}


def app_metrics(ctx: Ctx, app_id: str, since: datetime | None = None, until: datetime | None = None,
                version: str | None = None) -> dict[str, Any]:
    """The figures of one app's dashboard over [since, until) (default: the last 7 days), from rollups only."""
    from minibox.platform.apps import service as apps
    from minibox.platform.apps.protection import map_top_errors

    app = apps.get_app(ctx, app_id)
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=7)
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    try:
        t0, t1 = since.timestamp(), until.timestamp()
    except (OverflowError, ValueError, OSError):
        raise InvalidInput("from and to must be real times", code="invalid_range") from None
    if t0 >= t1:
        raise InvalidInput("from must be before to", code="invalid_range")
    if t1 - t0 > MAX_RANGE_DAYS * 86400 or not 0 <= t0 <= 2**33:
        raise InvalidInput(f"a range is at most {MAX_RANGE_DAYS} days, after 1970", code="invalid_range")
    h0, h1 = int(t0 * 1000) // HOUR_MS, -(-int(t1 * 1000) // HOUR_MS)
    d0, d1 = h0 // 24, -(-h1 // 24)
    s, H = ctx.s, TelemetryCounters
    vf = (lambda col: col == version) if version else (lambda col: col.isnot(None))
    by_version: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(HOURLY_COLUMNS, 0))
    daily: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(_SERIES, 0))
    sums = [func.sum(getattr(H, c)) for c in HOURLY_COLUMNS]
    for grain, lo, hi in periods(h0, h1):
        for r in s.execute(select(H.period, H.version, *sums)
                           .where(H.app_pk == app.id, H.grain == grain, H.period >= lo, H.period < hi, vf(H.version))
                           .group_by(H.period, H.version)):
            ver, values = r[1], r[2:]
            tot, day = by_version[ver], daily[(int(r[0]) * grain // 24, ver)]
            for c, v in zip(HOURLY_COLUMNS, values, strict=True):
                tot[c] += int(v or 0)
            for c in _SERIES:
                day[c] += int(values[_COL[c]] or 0)
    totals = {c: sum(v[c] for v in by_version.values()) for c in HOURLY_COLUMNS}
    series_day = [{"day": _day_iso(d), "version": v, **daily[(d, v)]} for d, v in sorted(daily)]
    L = TelemetryLaunchHist
    hist: dict[int, int] = defaultdict(int)
    for grain, lo, hi in periods(h0, h1):
        for b, n in s.execute(select(L.bucket, func.sum(L.count)).where(
                L.app_pk == app.id, L.grain == grain, L.period >= lo, L.period < hi, vf(L.version)).group_by(L.bucket)):
            hist[int(b)] += int(n)
    U = TelemetryUsersDaily
    merged: dict[str, bytes] = {}
    per_day: dict[tuple[int, str], bytes] = {}
    total_regs = bytes(HLL_M)
    for day, ver, regs in s.execute(select(U.day, U.version, U.hll).where(U.app_pk == app.id, U.day >= d0, U.day < d1,
                                                                         vf(U.version))):
        merged[ver] = hll_merge(merged.get(ver, bytes(HLL_M)), regs)
        per_day[(day, ver)] = regs
        total_regs = hll_merge(total_regs, regs)
    reach: dict[int, dict[str, int]] = defaultdict(dict)
    for (day, ver), regs in per_day.items():
        reach[day][ver] = hll_count(regs)
    A = TelemetryApiDaily
    api_calls = [{"api": api, "outcome": o, "count": int(n)}
                 for api, o, n in s.execute(select(A.api, A.outcome, func.sum(A.count).label("n"))
                                            .where(A.app_pk == app.id, A.day >= d0, A.day < d1, vf(A.version))
                                            .group_by(A.api, A.outcome).order_by(func.sum(A.count).desc(), A.api))]
    E, G = TelemetryErrorDaily, TelemetryErrorGroup
    top = select(E.fingerprint, func.sum(E.count).label("n")).where(
        E.app_pk == app.id, E.day >= d0, E.day < d1, vf(E.version)).group_by(E.fingerprint).order_by(
        func.sum(E.count).desc()).limit(10).subquery()
    top_errors = [{"message": g.message, "location": g.location, "stack": g.stack, "kind": g.kind, "count": int(n),
                   "first_version": g.first_version, "first_seen": _iso(g.first_seen), "last_seen": _iso(g.last_seen)}
                  for g, n in s.execute(select(G, top.c.n).join(top, (G.fingerprint == top.c.fingerprint)
                                                                & (G.app_pk == app.id)).order_by(top.c.n.desc()))]
    top_errors = map_top_errors(s, ctx.platform.blobs, app, top_errors)  # protected versions' frames
    versions = {v: {**c, **_rates(c["sessions"], c["error_sessions"], c["crashed_sessions"]),
                    "active_users": hll_count(merged[v]) if v in merged else 0} for v, c in by_version.items()}
    return {
        "app_id": app.app_id, "from": _iso(since), "to": _iso(until), "version": version,
        "launches": totals["launches"], "sessions": totals["sessions"], "errors": totals["errors"],
        "page_views": totals["page_views"], "api_call_count": totals["api_calls"],
        "active_users": hll_count(total_regs) if per_day else 0,
        **_rates(totals["sessions"], totals["error_sessions"], totals["crashed_sessions"]),
        "launch_ms": {"p50": _percentile(hist, 0.5), "p95": _percentile(hist, 0.95), "count": sum(hist.values()),
                      "buckets": [{"le": LAUNCH_BUCKETS_MS[b] if b < len(LAUNCH_BUCKETS_MS) else None, "count": n}
                                  for b, n in sorted(hist.items())]},
        "setdata": {"count": totals["setdata_count"], "bytes": totals["setdata_bytes"], "ms": totals["setdata_ms"]},
        "stay_ms": totals["stay_ms"], "payments": {"ok": totals["payments_ok"], "failed": totals["payments_failed"]},
        "custom_events": totals["custom_events"],
        "versions": versions, "series": series_day,
        "reach": [{"day": _day_iso(d), "users": reach[d]} for d in sorted(reach)],
        "api_calls": api_calls, "top_errors": top_errors,
    }


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day_iso(day: int) -> str:
    return datetime.fromtimestamp(int(day) * 86400, UTC).strftime("%Y-%m-%d")


# ---- the rollout guard -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VersionStats:
    version: str
    sessions: int = 0
    error_sessions: int = 0
    crashed_sessions: int = 0
    errors: int = 0
    launches: int = 0

    @property
    def error_rate(self) -> float | None:
        return self.error_sessions / self.sessions if self.sessions else None

    @property
    def crash_free(self) -> float | None:
        return 1 - self.crashed_sessions / self.sessions if self.sessions else None


@dataclass(frozen=True)
class GuardVerdict:
    decision: str  # "pass" | "fail" | "wait" (not enough sessions yet)
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GuardMetrics:
    new: VersionStats
    baseline: VersionStats

    def evaluate(self, *, max_error_ratio: float = 1.5, min_crash_free: float = 0.995,
                 min_sessions: int = 500) -> GuardVerdict:
        """"error rate of the new version <= max_error_ratio x the old one and crash-free >= min_crash_free
        over >= min_sessions sessions" (error rate = share of sessions with at least one JS error)."""
        n, b = self.new, self.baseline
        if n.sessions < min_sessions:
            return GuardVerdict("wait", [f"{n.version}: {n.sessions} of {min_sessions} sessions"])
        reasons = []
        base_rate = b.error_rate if b.error_rate is not None else 0.0
        new_rate = n.error_rate or 0.0
        if new_rate > max_error_ratio * base_rate:
            reasons.append(f"error rate {new_rate:.4f} of {n.version} > {max_error_ratio}x {base_rate:.4f} of "
                           f"{b.version}")
        if (n.crash_free or 0.0) < min_crash_free:
            reasons.append(f"crash-free {n.crash_free:.4f} of {n.version} < {min_crash_free}")
        return GuardVerdict("fail" if reasons else "pass", reasons)


def guard_metrics(s: Session, app: App | int, version: str, baseline_version: str, *,
                  since: datetime | None = None) -> GuardMetrics:
    """What a rollout guard needs about two versions of an app, in one query over the rollups: the daily
    rows (all time), or the hourly rows from `since` (the hour it falls in)."""
    app_pk = app if isinstance(app, int) else app.id
    H = TelemetryCounters
    q = (select(H.version, func.sum(H.sessions), func.sum(H.error_sessions), func.sum(H.crashed_sessions),
                func.sum(H.errors), func.sum(H.launches))
         .where(H.app_pk == app_pk, H.version.in_([version, baseline_version])).group_by(H.version))
    if since is None:
        q = q.where(H.grain == 24)
    else:
        q = q.where(H.grain == 1, H.period >= int(since.timestamp() * 1000) // HOUR_MS)
    got = {r[0]: VersionStats(r[0], *(int(x or 0) for x in r[1:])) for r in s.execute(q)}
    return GuardMetrics(got.get(version, VersionStats(version)), got.get(baseline_version, VersionStats(baseline_version)))
