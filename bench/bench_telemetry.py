"""Telemetry at scale (issue 11): ingest throughput, and dashboard queries over a large event set
answered from the rollups, beside a plain scan of the raw events table in the same run.

Run: .venv/bin/python bench/bench_telemetry.py [--events 10000000] [--ingest-events 50000]
                                               [--backends postgres,sqlite] [--sqlite-events 1000000]

1. Ingest: `--ingest-events` events in batches of 1,000 through `telemetry.service.ingest`, the
   code the HTTP route runs (host key, HMAC signature, schema, grants, batch id, raw insert,
   rollup upserts, HyperLogLog merge) -> events/s.
2. Bulk: the rest of the events (30 days, 4 versions, 10 hosts, 100,000 users, one app) are
   synthesised and loaded straight into the raw table (PostgreSQL COPY), with the rollups computed
   in the same pass by the same rules as ingest (this is a load generator, not a second ingest).
3. Dashboard: `app_metrics` (every figure of the dashboard, 30 days) and `guard_metrics` are
   timed (median of 5 after a warm-up), and then the plain scan: the same headline figures
   (launches, sessions, errors, distinct users, API calls, top errors) computed from the raw
   table. The ratio is scan time / rollup time.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
from sqlalchemy import text

from minibox.package import HostKeyPair
from minibox.platform.accounts import service as accounts
from minibox.platform.apps import service as apps
from minibox.platform.context import Ctx, Principal
from minibox.platform.hosts import service as hosts
from minibox.platform.server import open_platform
from minibox.platform.settings import Settings
from minibox.platform.telemetry import service as tsvc
from minibox.platform.telemetry.models import TelemetryAppSalt
from minibox.telemetry_sig import mac_key, sign_body

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
APP = "wxbench000000001"
VERSIONS = ("1.0.0", "1.1.0", "1.2.0", "1.3.0")
HOSTS = 10
USERS = 100_000
DAYS = 30
APIS = ("getStorageSync", "setStorageSync", "request", "getLocation", "requestPayment", "navigateTo")
ERRORS = [(f"TypeError: cannot read property 'x{i}' of undefined", f"pages/p{i % 7}/p{i % 7}.js:{10 + i}")
          for i in range(40)]
KIND_WEIGHTS = (("page_view", 40), ("launch", 14), ("session_end", 14), ("api", 20), ("custom", 8), ("error", 2),
                ("page_stay", 2))


def median_ms(fn: Any, runs: int = 5) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


class Setup:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.platform = open_platform(Settings.for_data_dir(data_dir, url, secure_cookies=False))
        with self.platform.db.write() as s:
            boot = accounts.bootstrap_admin(Ctx(s, self.platform), "Bench", "bench-admin", "Correct-Horse-42-battery")
            self.admin = Principal(boot.user.id, boot.user.org_id, "bench-admin", "admin", "session")
            ctx = Ctx(s, self.platform, self.admin)
            app = apps.create_app(ctx, APP, "bench")
            self.hosts = []
            for i in range(HOSTS):
                creds = hosts.register(ctx, f"host{i}", None)
                hosts.grant(ctx, creds.host.host_id, APP)
                self.hosts.append((creds.host.id, creds.host.host_id, creds.api_key,
                                   HostKeyPair.from_private_pem(creds.private_key_pem.encode())))
            s.flush()
            self.app_pk = app.id
        pub = bytes.fromhex(tsvc.key_document(self.platform)["public_key"])
        self.macs = [mac_key(h[3].private, pub, h[1]) for h in self.hosts]
        self.users = [secrets.token_hex(16) for _ in range(USERS)]


def synth_event(rng: random.Random, users: list[str], t: int) -> dict[str, Any]:
    kind = rng.choices([k for k, _ in KIND_WEIGHTS], [w for _, w in KIND_WEIGHTS])[0]
    d: dict[str, Any] = {}
    name = ""
    if kind == "launch":
        d = {"ms": round(rng.lognormvariate(6.2, 0.5), 1)}
        name = "pages/index/index"
    elif kind == "session_end":
        d = {"ms": rng.randint(1000, 600_000), "errors": 1 if rng.random() < 0.05 else 0,
             "crashed": rng.random() < 0.002, "setdata_count": rng.randint(1, 50), "setdata_bytes": rng.randint(100, 90_000),
             "setdata_ms": rng.randint(1, 400)}
    elif kind == "api":
        name = rng.choice(APIS)
        d = {"o": rng.choices(("granted", "denied", "failed"), (90, 5, 5))[0], "c": rng.randint(1, 5)}
    elif kind == "error":
        name, loc = ERRORS[min(int(rng.expovariate(0.2)), len(ERRORS) - 1)]
        d = {"loc": loc, "stack": [loc], "first": True}
    elif kind == "page_view":
        name = f"pages/p{rng.randint(0, 6)}/p{rng.randint(0, 6)}"
    elif kind == "page_stay":
        name, d = "pages/p1/p1", {"ms": rng.randint(100, 60_000)}
    else:
        name, d = "tap_buy", {"src": "reportEvent", "data": {"sku": rng.randint(1, 99)}}
    return {"k": kind, "t": t, "a": APP, "v": rng.choice(VERSIONS), "u": rng.choice(users),
            "s": f"{rng.getrandbits(64):016x}", "n": name, "d": d}


def bench_ingest(setup: Setup, n: int) -> float:
    rng = random.Random(1)
    now = int(time.time() * 1000)
    bodies = []
    for b in range(0, n, tsvc.MAX_EVENTS):
        events = [synth_event(rng, setup.users, now - rng.randint(0, 3600_000)) for _ in range(min(tsvc.MAX_EVENTS, n - b))]
        h = rng.randrange(HOSTS)
        body = orjson.dumps({"format": 1, "batch_id": secrets.token_hex(16), "host_id": setup.hosts[h][1],
                             "created_at": now, "dropped": 0, "events": events})
        bodies.append((setup.hosts[h][2], sign_body(setup.macs[h], body), body))
    t0 = time.perf_counter()
    for key, sig, body in bodies:
        tsvc.ingest(setup.platform, key, sig, body)
    return n / (time.perf_counter() - t0)


def bulk_load(setup: Setup, n: int, pg: bool) -> float:
    """Synthesise `n` events over DAYS days into the raw table and the rollups; returns seconds."""
    rng = random.Random(2)
    t_end = int(time.time() * 1000) - 2 * 3600_000
    t_start = t_end - DAYS * tsvc.DAY_MS
    with setup.platform.db.read() as s:
        salt = s.get(TelemetryAppSalt, setup.app_pk).salt
    rekeyed = [hmac.new(salt, u.encode(), hashlib.sha256).hexdigest()[:32] for u in setup.users]
    # each user's HyperLogLog register and value, once
    hll_pos = []
    for u in rekeyed:
        x = int.from_bytes(hashlib.blake2b(u.encode(), digest_size=8).digest(), "big")
        w = (x << tsvc.HLL_P) & ((1 << 64) - 1)
        hll_pos.append((x >> (64 - tsvc.HLL_P), min(64 - tsvc.HLL_P, 64 - w.bit_length()) + 1))
    hourly: dict[tuple[str, int, int], list[int]] = defaultdict(lambda: [0] * len(tsvc.HOURLY_COLUMNS))
    col = {c: i for i, c in enumerate(tsvc.HOURLY_COLUMNS)}
    hist: dict[tuple[str, int, int, int], int] = defaultdict(int)
    api: dict[tuple[str, int, str, str], int] = defaultdict(int)
    users: dict[tuple[str, int], bytearray] = defaultdict(tsvc.hll_new)
    errs: dict[tuple[str, int, str], int] = defaultdict(int)
    groups: dict[str, tuple[str, str, str, int]] = {}
    kinds, weights = [k for k, _ in KIND_WEIGHTS], [w for _, w in KIND_WEIGHTS]
    received = datetime.now(UTC).isoformat()
    t0 = time.perf_counter()
    conn = psycopg.connect(setup.platform.db.url.replace("postgresql+psycopg", "postgresql")) if pg else None
    sqlite_rows: list[tuple[Any, ...]] = []
    copy_cm = None
    copy = None
    if conn is not None:
        cur = conn.cursor()
        copy_cm = cur.copy('COPY telemetry_events (app_pk, host_pk, version, ts, kind, name, "user", session, data, '
                           "received_at) FROM STDIN")
        copy = copy_cm.__enter__()
    chunk_kinds = rng.choices(kinds, weights, k=n)
    for i in range(n):
        kind = chunk_kinds[i]
        t = rng.randint(t_start, t_end)
        ui = rng.randrange(USERS)
        v = VERSIONS[ui % 4 if rng.random() < 0.8 else rng.randrange(4)]
        hi = rng.randrange(HOSTS)
        hour, day = t // tsvc.HOUR_MS, t // tsvc.DAY_MS
        row = hourly[(v, hi, hour)]
        row[0] += 1
        idx, rho = hll_pos[ui]
        regs = users[(v, day)]
        if rho > regs[idx]:
            regs[idx] = rho
        name, data = "", "{}"
        if kind == "launch":
            ms = rng.lognormvariate(6.2, 0.5)
            row[col["launches"]] += 1
            hist[(v, hi, hour, tsvc.launch_bucket(ms))] += 1
            name, data = "pages/index/index", '{"ms": %.1f}' % ms
        elif kind == "session_end":
            e, c = rng.random() < 0.05, rng.random() < 0.002
            row[col["sessions"]] += 1
            row[col["error_sessions"]] += e
            row[col["crashed_sessions"]] += c
            data = '{"errors": %d, "crashed": %s}' % (e, "true" if c else "false")
        elif kind == "api":
            name = APIS[rng.randrange(len(APIS))]
            o = "granted" if rng.random() < 0.9 else ("denied" if rng.random() < 0.5 else "failed")
            row[col["api_calls"]] += 1
            api[(v, day, name, o)] += 1
            data = '{"o": "%s", "c": 1}' % o
        elif kind == "error":
            msg, loc = ERRORS[min(int(rng.expovariate(0.2)), len(ERRORS) - 1)]
            fp = tsvc.error_fingerprint("error", msg, loc)
            row[col["errors"]] += 1
            errs[(v, day, fp)] += 1
            g = groups.get(fp)
            if g is None or t < g[3]:
                groups[fp] = (msg, loc, v, t)
            name, data = msg, '{"loc": "%s"}' % loc
        elif kind == "page_view":
            row[col["page_views"]] += 1
            name = "pages/p1/p1"
        elif kind == "page_stay":
            row[col["stay_ms"]] += 5000
            name, data = "pages/p1/p1", '{"ms": 5000}'
        else:
            row[col["custom_events"]] += 1
            name = "tap_buy"
        ts = datetime.fromtimestamp(t / 1000, UTC).isoformat()
        rec = (setup.app_pk, setup.hosts[hi][0], v, ts, kind, name, rekeyed[ui], f"{i:016x}", data, received)
        if copy is not None:
            copy.write_row(rec)
        else:
            sqlite_rows.append(rec)
            if len(sqlite_rows) >= 50_000:
                _sqlite_flush(setup, sqlite_rows)
        if i and i % 1_000_000 == 0:
            print(f"    {i:,} events synthesised ({time.perf_counter() - t0:.0f} s)", flush=True)
    if copy_cm is not None and conn is not None:
        copy_cm.__exit__(None, None, None)
        conn.commit()
        conn.close()
    if sqlite_rows:
        _sqlite_flush(setup, sqlite_rows)
    # the rollups, by the same upsert ingest uses (adds to what phase 1 stored)
    hid = [h[0] for h in setup.hosts]
    with setup.platform.db.write() as s:
        by_host: dict[int, dict[tuple[int, str, int], dict[str, int]]] = defaultdict(dict)
        for (v, h, hour), c in hourly.items():
            by_host[hid[h]][(setup.app_pk, v, hour)] = dict(zip(tsvc.HOURLY_COLUMNS, c, strict=True))
        for host_pk, counters in by_host.items():
            rows = tsvc.counter_rows(counters, host_pk)
            for i in range(0, len(rows), 2000):
                tsvc.upsert(s, tsvc.TelemetryCounters, rows[i:i + 2000], tsvc.COUNTER_KEYS,
                            dict.fromkeys(tsvc.HOURLY_COLUMNS, True))
        merged_hist: dict[tuple[int, str, int, int], int] = defaultdict(int)
        for (v, _h, hour, b), k in hist.items():
            merged_hist[(setup.app_pk, v, hour, b)] += k
        rows = tsvc.hist_rows(merged_hist)
        for i in range(0, len(rows), 2000):
            tsvc.upsert(s, tsvc.TelemetryLaunchHist, rows[i:i + 2000], tsvc.HIST_KEYS, {"count": True})
        rows = [{"app_pk": setup.app_pk, "version": v, "day": d, "api": a, "outcome": o, "count": k}
                for (v, d, a, o), k in api.items()]
        tsvc.upsert(s, tsvc.TelemetryApiDaily, rows, ["app_pk", "version", "day", "api", "outcome"],
                               {"count": True})
        rows = [{"app_pk": setup.app_pk, "version": v, "day": d, "fingerprint": fp, "count": k}
                for (v, d, fp), k in errs.items()]
        tsvc.upsert(s, tsvc.TelemetryErrorDaily, rows, ["app_pk", "version", "day", "fingerprint"],
                               {"count": True})
        rows = [{"app_pk": setup.app_pk, "fingerprint": fp, "kind": "error", "message": m, "location": loc,
                 "stack": [loc], "first_version": v, "first_seen": datetime.fromtimestamp(t / 1000, UTC),
                 "last_seen": datetime.fromtimestamp(t / 1000, UTC)} for fp, (m, loc, v, t) in groups.items()]
        tsvc.upsert(s, tsvc.TelemetryErrorGroup, rows, ["app_pk", "fingerprint"], {})
        for (v, d), regs in users.items():
            tsvc.upsert(s, tsvc.TelemetryUsersDaily, [{"app_pk": setup.app_pk, "version": v, "day": d,
                                                                   "hll": bytes(regs)}], ["app_pk", "version", "day"],
                                   {"hll": lambda c, x: x.hll})
    if pg:
        with setup.platform.db.write() as s:
            s.execute(text("ANALYZE"))
    return time.perf_counter() - t0


def _sqlite_flush(setup: Setup, rows: list[tuple[Any, ...]]) -> None:
    with setup.platform.db.write_engine.begin() as conn:
        conn.exec_driver_sql(
            'INSERT INTO telemetry_events (app_pk, host_pk, version, ts, kind, name, "user", session, data, '
            "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(a, h, v, ts.replace("T", " ").replace("+00:00", ""), k, n, u, se, d,
              r.replace("T", " ").replace("+00:00", "")) for a, h, v, ts, k, n, u, se, d, r in rows])
    rows.clear()


def scan_queries(setup: Setup, since: datetime) -> None:
    """The headline figures from the raw table: what a dashboard without rollups would run."""
    p = {"app": setup.app_pk, "since": since}
    with setup.platform.db.read() as s:
        s.execute(text('SELECT kind, version, count(*), count(DISTINCT "user") FROM telemetry_events '
                       "WHERE app_pk = :app AND ts >= :since GROUP BY kind, version"), p).all()
        s.execute(text("SELECT name, count(*) FROM telemetry_events WHERE app_pk = :app AND ts >= :since "
                       "AND kind = 'error' GROUP BY name ORDER BY count(*) DESC LIMIT 10"), p).all()
        s.execute(text("SELECT name, count(*) FROM telemetry_events WHERE app_pk = :app AND ts >= :since "
                       "AND kind = 'api' GROUP BY name"), p).all()


def run_backend(name: str, url: str, data_dir: Path, events: int, ingest_events: int) -> dict[str, Any]:
    print(f"== {name}: {events:,} events ({ingest_events:,} through ingest)", flush=True)
    setup = Setup(url, data_dir)
    rate = bench_ingest(setup, ingest_events)
    print(f"  ingest: {rate:,.0f} events/s (batches of {tsvc.MAX_EVENTS}, signature + schema + raw + rollups)",
          flush=True)
    load_s = bulk_load(setup, max(0, events - ingest_events), url.startswith("postgresql"))
    print(f"  bulk load of the rest: {load_s:.0f} s", flush=True)
    since = datetime.now(UTC) - timedelta(days=DAYS + 1)
    with setup.platform.db.read() as s:
        ctx = Ctx(s, setup.platform, setup.admin)
        dash = median_ms(lambda: tsvc.app_metrics(ctx, APP, since=since))
        dash_v = median_ms(lambda: tsvc.app_metrics(ctx, APP, since=since, version="1.1.0"))
        guard = median_ms(lambda: tsvc.guard_metrics(s, setup.app_pk, "1.1.0", "1.0.0"))
        figures = tsvc.app_metrics(ctx, APP, since=since)
        raw_rows = s.execute(text("SELECT count(*) FROM telemetry_events")).scalar_one()
        hourly_rows = s.execute(text("SELECT count(*) FROM telemetry_counters")).scalar_one()
    scan = median_ms(lambda: scan_queries(setup, since), runs=3)
    out = {"backend": name, "events": raw_rows, "hourly_rows": hourly_rows, "ingest_eps": rate,
           "dashboard_ms": dash, "dashboard_version_ms": dash_v, "guard_ms": guard, "scan_ms": scan,
           "launches": figures["launches"], "active_users": figures["active_users"],
           "p50": figures["launch_ms"]["p50"], "p95": figures["launch_ms"]["p95"]}
    print(f"  raw events {raw_rows:,}; counter rollup rows (hourly and daily) {hourly_rows:,}; launches {figures['launches']:,}, "
          f"active users ~{figures['active_users']:,} (of {USERS:,}), launch p50/p95 "
          f"{figures['launch_ms']['p50']}/{figures['launch_ms']['p95']} ms")
    print(f"  dashboard (all figures, {DAYS} days): {dash:.1f} ms; one version: {dash_v:.1f} ms; "
          f"guard: {guard:.2f} ms")
    print(f"  plain scan of the raw table (headline figures only): {scan:.0f} ms -> rollups are "
          f"{scan / dash:.0f}x faster", flush=True)
    setup.platform.db.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000, help="events on PostgreSQL")
    ap.add_argument("--sqlite-events", type=int, default=1_000_000, help="events on SQLite")
    ap.add_argument("--ingest-events", type=int, default=50_000)
    ap.add_argument("--backends", default="postgres,sqlite")
    args = ap.parse_args()
    os.environ.setdefault("MINIBOX_TELEMETRY_RETENTION_DAYS", str(DAYS + 5))
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-telemetry-") as tmp:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                d = Path(tmp) / "sqlite"
                results.append(run_backend("SQLite", f"sqlite:///{d / 'platform.db'}", d, args.sqlite_events,
                                           args.ingest_events))
            elif backend == "postgres":
                name = f"mbbench_{uuid.uuid4().hex[:10]}"
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                try:
                    results.append(run_backend("PostgreSQL", f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
                                               Path(tmp) / "pg", args.events, args.ingest_events))
                finally:
                    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                sys.exit(f"unknown backend {backend!r}")
    print("\n| backend | raw events | ingest events/s | dashboard ms | one version ms | guard ms | raw scan ms | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['backend']} | {r['events']:,} | {r['ingest_eps']:,.0f} | {r['dashboard_ms']:.1f} | "
              f"{r['dashboard_version_ms']:.1f} | {r['guard_ms']:.2f} | {r['scan_ms']:.0f} | "
              f"{r['scan_ms'] / r['dashboard_ms']:.0f}x |")


if __name__ == "__main__":
    main()
