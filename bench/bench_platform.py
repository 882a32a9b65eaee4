"""Update-check throughput and p99 latency with 10,000 apps and grayscale rules, on SQLite and PostgreSQL,
beside a trivial endpoint (/api/v1/ping) of the same server as the baseline.

Run: .venv/bin/python bench/bench_platform.py [--apps 10000] [--requests 3000] [--concurrency 16]
The server runs as `minibox server` in its own process (one uvicorn worker); the load generator is an
asyncio httpx client on the same machine (loopback), so both share the CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import insert

from minibox.platform.accounts import service as accounts
from minibox.platform.apps.models import App, Version
from minibox.platform.context import Ctx
from minibox.platform.hosts import service as hosts
from minibox.platform.hosts.allowlist import empty_allowlist
from minibox.platform.hosts.models import HostApp
from minibox.platform.release.models import HostPackage, Release
from minibox.platform.serve import free_port
from minibox.platform.server import open_platform
from minibox.platform.settings import Settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REGIONS = ("cn-east", "cn-north", "cn-south")
BATCH = 2000


def seed(settings: Settings, n_apps: int) -> tuple[str, str]:
    """n apps, each with an approved version and a full release; every other app also has a grayscale
    release (10% of users, an explicit user list, a region). Returns (host_id, host api key)."""
    plat = open_platform(settings)
    with plat.db.write() as s:
        admin = accounts.bootstrap_admin(Ctx(s, plat), "Bench Bank", "bench-admin", "Bench-Password-123")
        from minibox.platform.context import Principal

        p = Principal(admin.user.id, admin.user.org_id, "bench-admin", "admin", "session")
        creds = hosts.register(Ctx(s, plat, p), "bench host", None)
        org_id, user_id, host_pk, fpr = p.org_id, p.user_id, creds.host.id, creds.host.key_fingerprint
    blob = plat.blobs.put(os.urandom(64 * 1024))  # stands in for the per-host package (metadata path only)
    allow = {**empty_allowlist(), "request": ["https://api.bank.example"]}
    with plat.db.write() as s:
        for start in range(0, n_apps, BATCH):
            ids = range(start + 1, min(start + BATCH, n_apps) + 1)
            s.execute(insert(App), [{"id": i, "org_id": org_id, "app_id": f"app{i:05d}", "name": f"App {i}",
                                     "description": "", "gray_salt": uuid.uuid4().hex, "allowlist": allow,
                                     "takedown_reason": ""} for i in ids])
            s.execute(insert(Version), [{"id": 2 * i + k, "app_pk": i, "version": f"1.{k}.0", "build": k + 1,
                                         "description": "", "status": "approved", "source_kind": "source",
                                         "bundle_sha256": blob, "bundle_size": 1, "report": {"passed": True},
                                         "uploaded_by": user_id} for i in ids for k in (0, 1)])
            rels = []
            for i in ids:
                rels.append({"app_pk": i, "version_id": 2 * i, "build": 1, "kind": "full", "rules": None,
                             "allowlist": allow, "active": True, "sequence": 1, "note": "", "created_by": user_id})
                if i % 2 == 0:
                    rels.append({"app_pk": i, "version_id": 2 * i + 1, "build": 2, "kind": "gray",
                                 "rules": {"percentage": 10.0, "users": [f"user-{j}" for j in range(20)],
                                           "regions": ["cn-east"]},
                                 "allowlist": allow, "active": True, "sequence": 2, "note": "",
                                 "created_by": user_id})
            s.execute(insert(Release), rels)
            s.execute(insert(HostApp), [{"host_pk": host_pk, "app_pk": i} for i in ids])
            s.execute(insert(HostPackage), [{"version_id": 2 * i + k, "build": k + 1, "host_pk": host_pk,
                                             "key_fingerprint": fpr, "sha256": blob, "size": 64 * 1024}
                                            for i in ids for k in (0, 1)])
        if not plat.db.is_sqlite:
            from sqlalchemy import text

            for table in ("apps", "versions", "releases"):
                s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))"))
    if not plat.db.is_sqlite:
        with plat.db.write_engine.connect() as conn:
            conn.exec_driver_sql("COMMIT")
            conn.exec_driver_sql("ANALYZE")
    plat.db.dispose()
    return creds.host.host_id, creds.api_key


async def load(url: str, paths: list[str], headers: dict[str, str], concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = list(paths)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as client:
        async def worker() -> None:
            while queue:
                path = queue.pop()
                t0 = time.perf_counter()
                r = await client.get(path)
                latencies.append(time.perf_counter() - t0)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000, "statuses": statuses}


def run_backend(name: str, url: str | None, args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    data = Path(tempfile.mkdtemp(prefix=f"mb-bench-{name}-"))
    settings = Settings.for_data_dir(data, url)
    t0 = time.perf_counter()
    host_id, key = seed(settings, args.apps)
    print(f"[{name}] seeded {args.apps} apps ({args.apps // 2} with grayscale rules) in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    port = free_port()
    exe = Path(sys.executable).with_name("minibox")
    proc = subprocess.Popen([str(exe), "server", "--data-dir", str(data), "--database-url", settings.database_url,
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/v1/ping", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        rng = random.Random(1)
        checks = [f"/api/v1/hosts/{host_id}/apps/app{rng.randint(1, args.apps):05d}/update"
                  f"?user_id=user-{rng.randint(0, 100_000)}&region={rng.choice(REGIONS)}" for _ in range(args.requests)]
        pings = ["/api/v1/ping"] * args.requests
        h = {"X-Minibox-Host-Key": key}
        asyncio.run(load(base, pings[:200] + checks[:200], h, args.concurrency))  # warm up
        results = [("ping (baseline)", asyncio.run(load(base, pings, h, args.concurrency))),
                   ("update check", asyncio.run(load(base, checks, h, args.concurrency)))]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--apps", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--backends", default="sqlite,postgres")
    args = ap.parse_args()
    rows = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            rows.append(("sqlite", run_backend("sqlite", None, args)))
            continue
        name = f"mbplat_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            rows.append(("postgres", run_backend("postgres", f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
                                                 args)))
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"\n{args.apps} apps, {args.requests} requests per endpoint, concurrency {args.concurrency}, loopback")
    print(f"{'backend':<10}{'endpoint':<18}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'rps vs ping':>13}{'p99 vs ping':>13}"
          "  statuses")
    for backend, results in rows:
        base = results[0][1]
        for label, r in results:
            print(f"{backend:<10}{label:<18}{r['rps']:>9.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
                  f"{r['rps'] / base['rps']:>13.2f}{r['p99'] / base['p99']:>13.2f}  {r['statuses']}")


if __name__ == "__main__":
    main()
