"""Container telemetry: what runs, for whom (pseudonymously), how well; batched, spooled, signed.

The host records, per running instance (a *session*): the launch and its launch-to-first-render
time, page views and stay time, setData (render passes: count, bytes of patches, time of the
commands that rendered), JS errors with the mini-program's `file:line`, API calls by name and
outcome (granted / denied / failed, counted per batch), watchdog and OOM kills, payment outcomes,
and what the mini-program reports itself (`wx.reportEvent`, `wx.reportAnalytics`,
`wx.getRealtimeLogManager`). Never page data, request bodies, API arguments or results.

Privacy.
- The user id never leaves the host: events carry `u = HMAC(host secret, app_id, user_id)`, a
  per-app pseudonym the platform cannot reverse (it lacks the host secret, so no dictionary of
  phone numbers helps) nor join across apps (a different app gives an unrelated value). The
  platform re-keys it with a per-app salt it holds before storing (`telemetry.service`), so a
  copy of the telemetry tables is not joinable with a host's data either, and rotating the salt
  unlinks history.
- `Telemetry.set_consent(user_id, False)` stops collection for that user on this host (kept in
  the data dir); only the host calls it. The mini-program has no API that reads or changes
  consent, pseudonyms, the spool or the uploader; what it reports itself is stored as `custom` /
  `log` events and can never become a launch, error, crash or API event.

Delivery. Events are buffered in memory (at most `max_buffer`; more are dropped and counted) and
written as batches to an append-only spool in `<data_dir>/telemetry/` (each batch one line, its
body exactly as uploaded, with a random batch id; fsync'd before `flush` returns), at
`batch_size` events, every `flush_interval_s`, and at once for errors, crashes and payments. The
spool is bounded (`max_spool_bytes`; a batch that does not fit is dropped and counted). The
uploader POSTs each unacknowledged batch to `/api/v1/telemetry` signed with the host key
(`minibox.telemetry_sig`) and appends its id to the ack file (fsync'd) once the platform answered
200 (stored, or `duplicate` when it had it already). After a kill -9 the spool is reread: a torn
last line is cut off, acknowledged batches are skipped, the rest are sent again; the platform
stores a batch id once. So every batch that reached the spool is delivered exactly once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import math
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from minibox.telemetry_sig import SIG_HEADER, mac_key, sign_body, verify_platform_key

log = logging.getLogger(__name__)

FORMAT = 1
#: Event kinds the host records itself; the mini-program's own reports are only `custom` / `log`.
KINDS = frozenset({"launch", "page_view", "page_stay", "error", "rejection", "crash", "api", "payment",
                   "custom", "log", "session_end", "payment_record"})
#: APIs of the analytics family: not counted as API calls (they are the pipeline itself).
ANALYTICS_APIS = frozenset({"reportEvent", "RealtimeLogManager.log", "Performance.getEntries"})
#: Kinds that are written to the spool at once (a crash may follow).
URGENT = frozenset({"error", "rejection", "crash", "payment", "payment_record"})
URGENT_FLUSH_S = 0.1
MAX_TEXT = 300
MAX_STACK_FRAMES = 8
MAX_CUSTOM_KEYS = 20
MAX_LOG_CHARS = 1024
#: Largest `d` of one event (the platform's limit is 4 KB).
MAX_DATA_BYTES = 3500
_FRAME = re.compile(r"((?:[\w@.-]+/)*[\w@.-]+\.(?:js|wxs)):(\d+)(?::(\d+))?")


def _clip(text: Any, n: int = MAX_TEXT) -> str:
    return str(text)[:n]


def error_location(stack: str) -> tuple[str, list[str]]:
    """The mini-program's own `file:line:col` frames of a mapped stack (framework frames left out). The
    column tells apart the places on one line: minified code (a library's, or code protection's, which
    the platform maps back to the original file) is all on one or a few lines."""
    frames = []
    for m in _FRAME.finditer(stack or ""):
        path = m.group(1)
        if path.startswith("framework/") or path in ("logic.js", "render.js"):
            continue
        frames.append(f"{path}:{m.group(2)}" + (f":{m.group(3)}" if m.group(3) else ""))
        if len(frames) >= MAX_STACK_FRAMES:
            break
    return (frames[0] if frames else ""), frames


@dataclass
class TelemetryConfig:
    """How much the host keeps and how often it sends. `secret` keys the pseudonyms: hosts that
    serve the same users from several replicas give them one secret (default: derived from the
    host master key)."""

    enabled: bool = True
    batch_size: int = 200
    flush_interval_s: float = 5.0
    max_buffer: int = 10_000
    max_spool_bytes: int = 16 * 1024 * 1024
    max_batch_bytes: int = 512 * 1024
    default_consent: bool = True
    secret: bytes | None = None
    #: upload target (None: spool only, `Telemetry.upload(client)` by hand)
    base_url: str | None = None
    api_key: str | None = None
    host_private_key: Any = None       # X25519PrivateKey | HostKeyPair
    platform_key: bytes | None = None  # the platform's telemetry X25519 public key (else fetched)
    trust: Any = None                  # TrustStore that checks a fetched platform key
    transport: httpx.BaseTransport | None = None


# ---- the spool --------------------------------------------------------------------------------------------

class Spool:
    """Append-only batches (one JSON line each) and an append-only file of acknowledged ids."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "spool.jsonl"
        self.ack_path = directory / "acked.txt"
        self.rejected_path = directory / "rejected.jsonl"
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.pending: dict[str, bytes] = {}  # batch id -> body, in spool order
        self._load()

    def _load(self) -> None:
        acked: set[str] = set()
        if self.ack_path.exists():
            acked = {line.strip() for line in self.ack_path.read_text("ascii", "replace").splitlines() if line.strip()}
        if not self.path.exists():
            self.path.touch()
            self.ack_path.touch()
            fd = os.open(self.path.parent, os.O_RDONLY)  # the new files' names survive a crash too
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            return
        data = self.path.read_bytes()
        good = 0
        for line in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
            end = good + len(line) + 1
            if end > len(data) or data[end - 1:end] != b"\n":
                break  # a torn last line (killed mid-write): it was never acknowledged to anyone
            try:
                batch_id = json.loads(line)["batch_id"]
            except (ValueError, KeyError, TypeError):
                break
            if batch_id not in acked:
                self.pending[batch_id] = line
            good = end
        if good < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def append(self, batch_id: str, body: bytes) -> bool:
        with self._lock:
            if self.size + len(body) + 1 > self.max_bytes:
                return False
            with open(self.path, "ab") as f:
                f.write(body + b"\n")
                f.flush()
                os.fsync(f.fileno())
            self.pending[batch_id] = body
            return True

    def ack(self, batch_id: str, *, rejected: bool = False) -> None:
        with self._lock:
            body = self.pending.pop(batch_id, None)
            if rejected and body is not None:
                with open(self.rejected_path, "ab") as f:
                    f.write(body + b"\n")
            with open(self.ack_path, "a", encoding="ascii") as f:
                f.write(batch_id + "\n")
                f.flush()
                os.fsync(f.fileno())
            if not self.pending:
                # all delivered: start both files afresh (spool first; a stale ack id is harmless)
                for path in (self.path, self.ack_path):
                    with open(path, "r+b") as f:
                        f.truncate(0)
                        os.fsync(f.fileno())

    def unsent(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self.pending.items())

    def drop_events(self, keep: Any) -> int:
        """Rewrite the unsent batches without the events `keep(event)` refuses (a user's data deleted);
        atomic (temp file, fsync, rename): a crash leaves the old spool or the new one. Returns how
        many events went."""
        with self._lock:
            removed = 0
            rewritten: dict[str, bytes] = {}
            for batch_id, body in self.pending.items():
                doc = json.loads(body)
                events = [e for e in doc.get("events", []) if keep(e)]
                removed += len(doc.get("events", [])) - len(events)
                doc["events"] = events
                rewritten[batch_id] = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
            if not removed:
                return 0
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                for body in rewritten.values():
                    f.write(body + b"\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            self.pending = rewritten
            return removed


# ---- consent ------------------------------------------------------------------------------------------------

class ConsentStore:
    """Per-user telemetry consent of this host, persisted (atomic rewrite). Host-only."""

    def __init__(self, path: Path, default: bool) -> None:
        self.path, self.default = path, default
        self._lock = threading.Lock()
        try:
            self._choices: dict[str, bool] = {str(k): bool(v) for k, v in json.loads(path.read_text()).items()}
        except (FileNotFoundError, ValueError, AttributeError):
            self._choices = {}

    def get(self, user_id: str) -> bool:
        return self._choices.get(user_id, self.default)

    def set(self, user_id: str, allowed: bool) -> None:
        with self._lock:
            self._choices[user_id] = allowed
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._choices, sort_keys=True))
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, self.path)


# ---- upload -------------------------------------------------------------------------------------------------

class UploadError(Exception):
    pass


class TelemetryClient:
    """POSTs spooled batches to the platform, signed with the host's X25519 key."""

    def __init__(self, base_url: str, host_id: str, api_key: str, host_private_key: Any, *,
                 platform_key: bytes | None = None, trust: Any = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.host_id = host_id
        private = getattr(host_private_key, "private", host_private_key)
        self._private = private
        self._client = httpx.Client(headers={"X-Minibox-Host-Key": api_key}, timeout=httpx.Timeout(15, connect=5),
                                    follow_redirects=False, transport=transport)
        self._trust = trust
        self._key = mac_key(private, platform_key, host_id) if platform_key else None

    def _mac_key(self) -> bytes:
        if self._key is None:
            r = self._client.get(f"{self.base_url}/api/v1/telemetry/key")
            if r.status_code != 200:
                raise UploadError(f"telemetry key: HTTP {r.status_code}")
            if self._trust is None:
                raise UploadError("no platform telemetry key configured and no trust store to check one")
            raw = verify_platform_key(r.json(), self._trust.trusted_keys())
            self._key = mac_key(self._private, raw, self.host_id)
        return self._key

    def send(self, body: bytes) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json", SIG_HEADER: sign_body(self._mac_key(), body)}
        r = self._client.post(f"{self.base_url}/api/v1/telemetry", content=body, headers=headers)
        try:
            doc = r.json()
        except ValueError:
            doc = {}
        return r.status_code, doc if isinstance(doc, dict) else {}

    def close(self) -> None:
        self._client.close()


# ---- sessions -----------------------------------------------------------------------------------------------

@dataclass
class _Session:
    telemetry: Telemetry
    app_id: str
    version: str
    user: str        # the pseudonym
    user_id: str     # for the consent check only; never sent
    sid: str = field(default_factory=lambda: secrets.token_hex(8))
    t0: float = field(default_factory=time.monotonic)
    wall0: float = field(default_factory=time.time)
    launched: bool = False
    errors: int = 0
    crashed: bool = False
    ended: bool = False
    setdata_count: int = 0
    setdata_bytes: int = 0
    setdata_ms: float = 0.0
    pages: dict[int, str] = field(default_factory=dict)
    shown: dict[int, float] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    _render_pending: bool = False
    restart_seen: float | None = None  # the host's time of the last restart this session saw

    def emit(self, kind: str, name: str = "", data: dict[str, Any] | None = None) -> None:
        self.telemetry.record(self, kind, name, data or {})

    def _since(self) -> float:
        return round((time.monotonic() - self.t0) * 1000.0, 1)

    # instance messages (the framework's, via Instance.listeners)
    def on_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("t")
        if kind == "patch":
            ops = msg.get("ops") or []
            self.setdata_count += 1
            self.setdata_bytes += len(json.dumps(ops, separators=(",", ":"), default=str))
            self._render_pending = True
            if not self.launched:
                self.launched = True
                ms = self._since()
                self.entries.append({"name": "appLaunch", "entryType": "navigation", "startTime": self.wall0 * 1000,
                                     "duration": ms})
                self.entries.append({"name": "firstRender", "entryType": "render", "startTime": self.wall0 * 1000,
                                     "duration": ms, "path": next(iter(self.pages.values()), "")})
                self.emit("launch", next(iter(self.pages.values()), ""), {"ms": ms})
        elif kind == "page":
            op, page = msg.get("op"), msg.get("page")
            if not isinstance(page, int):
                return
            if op == "open":
                self.pages[page] = _clip(msg.get("path", ""), 200)
            elif op == "show":
                path = self.pages.get(page, "")
                self.shown[page] = time.monotonic()
                self.entries.append({"name": "route", "entryType": "navigation", "path": path,
                                     "startTime": time.time() * 1000, "duration": 0})
                del self.entries[:-100]
                self.emit("page_view", path)
            elif op in ("hide", "close"):
                started = self.shown.pop(page, None)
                if started is not None:
                    self.emit("page_stay", self.pages.get(page, ""), {"ms": round((time.monotonic() - started) * 1000)})
                if op == "close":
                    self.pages.pop(page, None)
        elif kind == "error":
            loc, frames = error_location(str(msg.get("stack") or ""))
            self.errors += 1
            event = "rejection" if msg.get("kind") == "rejection" else "error"
            self.emit(event, _clip(msg.get("message", "")), {"loc": loc, "stack": frames,
                                                                "first": self.errors == 1})
        elif kind == "crash":
            self.crashed = True
            self.emit("crash", _clip(msg.get("kind", "WorkerCrashed"), 64), {"message": _clip(msg.get("message", ""))})
        elif kind == "restart":
            self.end()
            self.telemetry._restart(self)
        elif kind == "analytics":
            self.emit("custom", _clip(msg.get("name", ""), 64), {"src": "reportAnalytics",
                                                                 "data": sanitize_custom(msg.get("data"))})

    def on_api(self, api: str, outcome: str, err_msg: str) -> None:
        if api in ANALYTICS_APIS:
            return
        self.telemetry.count_api(self, api, outcome)
        if api == "requestPayment":
            result = "ok" if outcome == "granted" else ("cancel" if "cancel" in err_msg else
                                                        "refused" if outcome == "denied" or "risk" in err_msg
                                                        else "fail")
            self.emit("payment", result)

    def timed_command(self, started: float) -> None:
        if self._render_pending:
            self.setdata_ms += (time.monotonic() - started) * 1000.0
            self._render_pending = False

    def end(self) -> None:
        if self.ended:
            return
        for page in list(self.shown):
            started = self.shown.pop(page)
            self.emit("page_stay", self.pages.get(page, ""), {"ms": round((time.monotonic() - started) * 1000)})
        if not self.launched:
            self.launched = True
            self.emit("launch", "", {"ms": None})
        self.ended = True
        self.emit("session_end", "", {
            "ms": self._since(), "errors": self.errors, "crashed": self.crashed,
            "setdata_count": self.setdata_count, "setdata_bytes": self.setdata_bytes,
            "setdata_ms": round(self.setdata_ms, 1)})


def sanitize_custom(data: Any) -> dict[str, Any]:
    """What `wx.reportEvent` / `wx.reportAnalytics` may carry: up to 20 flat keys (32 characters) of
    strings (100 characters), numbers and booleans (WeChat's custom analytics fields); anything else is dropped."""
    out: dict[str, Any] = {}
    if not isinstance(data, dict):
        return out
    for key, value in list(data.items())[:MAX_CUSTOM_KEYS]:
        if isinstance(value, int | float) and math.isfinite(value):  # bool too; never NaN
            out[_clip(key, 32)] = value
        elif isinstance(value, str):
            out[_clip(key, 32)] = _clip(value, 100)
    return out


# ---- the recorder -------------------------------------------------------------------------------------------

class Telemetry:
    """One host's telemetry: sessions, the buffer, the spool, the uploader thread."""

    def __init__(self, data_dir: Path, host_id: str, master_key: bytes, config: TelemetryConfig | None = None) -> None:
        self.config = config or TelemetryConfig()
        self.host_id = host_id
        self.dir = Path(data_dir) / "telemetry"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._secret = self.config.secret or hmac.new(master_key, b"minibox telemetry pseudonym v1",
                                                      hashlib.sha256).digest()
        self.spool = Spool(self.dir, self.config.max_spool_bytes)
        self.consent = ConsentStore(self.dir / "consent.json", self.config.default_consent)
        #: version of each app this host runs (set by `Host.start_released`)
        self.versions: dict[str, str] = {}
        self._lock = threading.RLock()
        self._buffer: list[dict[str, Any]] = []
        self._api_counts: dict[tuple[str, str, str, str, str], int] = {}
        self._sessions: dict[int, _Session] = {}
        self.dropped = 0
        self.dropped_total = 0
        self._client: TelemetryClient | None = None
        self._stop = threading.Event()
        self._upload_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_flush = time.monotonic()

    # -- identity --
    def pseudonym(self, app_id: str, user_id: str) -> str:
        """The per-app pseudonym the platform sees (it re-keys it with its own per-app salt)."""
        msg = b"user\x00" + app_id.encode() + b"\x00" + user_id.encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:32]

    def set_consent(self, user_id: str, allowed: bool) -> None:
        """The host's per-user switch (its settings screen); off drops that user's buffered events."""
        self.consent.set(user_id, allowed)
        if not allowed:
            with self._lock:
                for s in self._sessions.values():
                    if s.user_id == user_id:
                        s.ended = True  # nothing more from this session
                self._buffer = [e for e in self._buffer if e["u"] != self.pseudonym(e["a"], user_id)]
                self._api_counts = {k: n for k, n in self._api_counts.items()
                                    if k[2] != self.pseudonym(k[0], user_id)}

    def forget_user(self, app_id: str, user_id: str) -> tuple[str, int]:
        """The user's data held for `app_id` is deleted: drop their buffered and spooled events.
        Returns the pseudonym (the platform deletes what it stored under it) and how many went."""
        u = self.pseudonym(app_id, user_id)
        with self._lock:
            before = len(self._buffer)
            self._buffer = [e for e in self._buffer if not (e["a"] == app_id and e["u"] == u)]
            removed = before - len(self._buffer)
            self._api_counts = {k: n for k, n in self._api_counts.items() if not (k[0] == app_id and k[2] == u)}
        removed += self.spool.drop_events(lambda e: not (e.get("a") == app_id and e.get("u") == u))
        return u, removed

    # -- instances --
    def attach(self, instance: Any, *, app_id: str, user_id: str, version: str | None = None) -> _Session | None:
        """Observe one instance (before it starts, so the launch time includes the worker's start)."""
        if not self.config.enabled:
            return None
        session = _Session(self, app_id, version or self.versions.get(app_id, "dev"),
                           self.pseudonym(app_id, user_id), user_id)
        with self._lock:
            self._sessions[id(instance)] = session
        instance.listeners.append(lambda m: self._current(instance, m))

        def on_api(api: str, outcome: str, msg: str) -> None:
            s = self._session(instance)
            if s is not None:
                s.on_api(api, outcome, msg)

        instance.api_observers.append(on_api)
        instance.on_close.append(lambda: self._close(instance))
        command = instance.command

        def timed(fn: str, args: dict[str, Any] | None = None) -> Any:
            started = time.monotonic()
            try:
                return command(fn, args)
            finally:
                s = self._session(instance)
                if s is not None:
                    s.timed_command(started)

        instance.command = timed
        return session

    def _session(self, instance: Any) -> _Session | None:
        return self._sessions.get(id(instance))

    def session_of(self, instance: Any) -> _Session | None:
        return self._session(instance)

    def _current(self, instance: Any, message: dict[str, Any]) -> None:
        s = self._session(instance)
        if s is None:
            return
        kind = message.get("t")
        # crashes and restarts are host facts: a message from the sandbox that merely says so is ignored
        if kind == "crash" and getattr(instance, "crashed", None) is None:
            return
        if kind == "restart":
            times = getattr(getattr(instance, "restarts", None), "times", None) or [None]
            if times[-1] is None or times[-1] == s.restart_seen:
                return
            s.restart_seen = times[-1]
        s.on_message(message)

    def _restart(self, old: _Session) -> None:
        with self._lock:
            for key, s in list(self._sessions.items()):
                if s is old:
                    self._sessions[key] = _Session(self, old.app_id, old.version, old.user, old.user_id,
                                                   restart_seen=old.restart_seen)

    def _close(self, instance: Any) -> None:
        s = self._session(instance)
        if s is not None:
            s.end()
        with self._lock:
            self._sessions.pop(id(instance), None)
        self.flush()

    # -- recording --
    def record(self, session: _Session, kind: str, name: str, data: dict[str, Any]) -> None:
        if kind not in KINDS or (session.ended and kind != "session_end"):
            return
        if not self.consent.get(session.user_id):
            return
        if len(json.dumps(data, default=str)) > MAX_DATA_BYTES:  # the platform refuses a larger `d`
            data = {"truncated": True}
        self._enqueue({"k": kind, "t": int(time.time() * 1000), "a": session.app_id, "v": session.version,
                       "u": session.user, "s": session.sid, "n": name, "d": data})

    def _enqueue(self, event: dict[str, Any]) -> None:
        """Buffer one event (dropped and counted beyond `max_buffer`); flush a full batch, and urgent
        kinds at once, but at most every URGENT_FLUSH_S (an error loop must not turn into an fsync
        loop on the instance's thread)."""
        with self._lock:
            if len(self._buffer) >= self.config.max_buffer:
                self.dropped += 1
                return
            self._buffer.append(event)
            due = len(self._buffer) >= self.config.batch_size or (
                event["k"] in URGENT and time.monotonic() - self._last_flush >= URGENT_FLUSH_S)
        if due:
            self.flush()

    def payment_record(self, prepay_id: str, app_id: str, user_id: str, kind: str, data: dict[str, Any]) -> None:
        """One step of a payment (risk decision, step-up, confirmation, settlement) for the platform's
        dispute lookup by order id. A transaction record, not analytics: it is kept whatever the
        user's analytics consent, and carries no more than the pseudonym, the amount and the step."""
        keep = {k: data[k] for k in ("outcome", "score", "method", "passed", "confirmed", "paid", "why",
                                     "amount_fen") if k in data}
        if "reasons" in data:
            keep["rules"] = [str(r.get("rule", ""))[:64] for r in data["reasons"] if isinstance(r, dict)][:20]
        self._enqueue({"k": "payment_record", "t": int(time.time() * 1000), "a": app_id,
                       "v": self.versions.get(app_id, "dev"), "u": self.pseudonym(app_id, user_id), "s": "0",
                       "n": str(prepay_id)[:64], "d": {"step": str(kind)[:32], **keep}})

    def count_api(self, session: _Session, api: str, outcome: str) -> None:
        if not self.consent.get(session.user_id) or session.ended:
            return
        key = (session.app_id, session.version, session.user, session.sid, f"{api}\x00{outcome}")
        with self._lock:
            self._api_counts[key] = self._api_counts.get(key, 0) + 1

    def report(self, instance: Any, kind: str, name: str, data: dict[str, Any]) -> bool:
        """A report from the mini-program itself (the analytics APIs): only `custom` or `log`."""
        if kind not in ("custom", "log"):
            return False
        s = self._session(instance)
        if s is None:
            return False
        s.emit(kind, name, data)
        return True

    def perf_entries(self, instance: Any) -> list[dict[str, Any]]:
        s = self._session(instance)
        return [dict(e) for e in s.entries] if s is not None else []

    # -- batches --
    def flush(self) -> int:
        """Write what is buffered to the spool as batches (fsync'd); returns the events written. When it
        returns, every event recorded before the call is on disk (flushes run one at a time, and
        recording waits only for the swap of the buffer, never for the disk)."""
        with self._flush_lock:
            with self._lock:
                events, self._buffer = self._buffer, []
                now = int(time.time() * 1000)
                for (app, version, user, sid, key), count in self._api_counts.items():
                    api, outcome = key.split("\x00")
                    events.append({"k": "api", "t": now, "a": app, "v": version, "u": user, "s": sid, "n": api,
                                   "d": {"o": outcome, "c": count}})
                self._api_counts.clear()
                self._last_flush = time.monotonic()
                # each batch says how many events were dropped since the one before
                dropped, self.dropped = self.dropped, 0
                self.dropped_total += dropped
            written = 0
            while events:
                chunk = events[: self.config.batch_size]
                body = self._body(chunk, dropped)
                while len(body) > self.config.max_batch_bytes and len(chunk) > 1:
                    chunk = chunk[: len(chunk) // 2]
                    body = self._body(chunk, dropped)
                events = events[len(chunk):]
                batch_id = json.loads(body)["batch_id"]
                if self.spool.append(batch_id, body):
                    written += len(chunk)
                    dropped = 0
                else:
                    with self._lock:
                        self.dropped += len(chunk)
            return written

    def _body(self, events: list[dict[str, Any]], dropped: int = 0) -> bytes:
        doc = {"format": FORMAT, "batch_id": secrets.token_hex(16), "host_id": self.host_id,
               "created_at": int(time.time() * 1000), "dropped": dropped, "events": events}
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    def client(self) -> TelemetryClient | None:
        cfg = self.config
        if self._client is None and cfg.base_url and cfg.api_key and cfg.host_private_key is not None:
            self._client = TelemetryClient(cfg.base_url, self.host_id, cfg.api_key, cfg.host_private_key,
                                           platform_key=cfg.platform_key, trust=cfg.trust, transport=cfg.transport)
        return self._client

    def upload(self, client: TelemetryClient | None = None) -> dict[str, int]:
        """Send every unacknowledged batch; stops at the first one the platform cannot take now."""
        client = client or self.client()
        out = {"sent": 0, "duplicate": 0, "rejected": 0, "pending": 0}
        if client is None:
            out["pending"] = len(self.spool.pending)
            return out
        with self._upload_lock:  # one uploader at a time (the background thread, or a caller)
            self._upload(client, out)
        out["pending"] = len(self.spool.pending)
        return out

    def _upload(self, client: TelemetryClient, out: dict[str, int]) -> None:
        for batch_id, body in self.spool.unsent():
            try:
                status, doc = client.send(body)
            except (httpx.TransportError, UploadError) as exc:
                log.info("telemetry upload deferred: %s", exc)
                break
            if status == 200:
                self.spool.ack(batch_id)
                out["duplicate" if doc.get("duplicate") else "sent"] += 1
            elif status in (400, 403, 413, 422):
                # the platform will never take this batch: keep it aside, do not block the rest
                log.warning("telemetry batch %s refused: %s %s", batch_id, status, doc.get("message"))
                self.spool.ack(batch_id, rejected=True)
                out["rejected"] += 1
            else:  # 401 (key rotating), 429, 5xx: later
                log.info("telemetry upload deferred: HTTP %s", status)
                break

    # -- background --
    def start(self) -> None:
        """Flush and upload in the background every `flush_interval_s`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="minibox-telemetry", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.config.flush_interval_s):
            try:
                self.flush()
                self.upload()
            except Exception:  # the uploader must never take the host down
                log.exception("telemetry loop failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            sessions = list(self._sessions.values())
        for s in sessions:
            s.end()
        self.flush()
        if self._client is not None:
            with contextlib.suppress(Exception):
                self.upload()
            self._client.close()
            self._client = None

