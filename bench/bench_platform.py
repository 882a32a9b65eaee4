"""Update-check throughput and latency with 10,000 apps and 5,000 grayscale rules, on SQLite and
PostgreSQL, beside a trivial endpoint (/api/v1/ping) of the same server as the baseline.

Run: .venv/bin/python bench/bench_platform.py [--apps 10000] [--duration 10] [--workers 1] [--backends sqlite,postgres]

The server runs as `minibox server` in its own process(es); the load generator is `wrk` (Debian package
`wrk`, installed by scripts/setup.sh) with one thread and 8 connections on loopback, for a bounded time per
endpoint. Every update check is a different (app, user, region), so grayscale rules are evaluated and each
answer is signed. Besides wall-clock req/s and p50/p99, the server's own CPU time during the run is read
from /proc, so "req/s per core" (requests per CPU-second of the server) stays meaningful when other work
shares the machine's cores.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
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
BATCH = 2000
CONNECTIONS = 8

#: wrk script: a random app, user and region per request, the host key in a header.
UPDATE_LUA = """
local host, key, apps
local regions = {"cn-east", "cn-north", "cn-south"}
function init(args)
  host, key, apps = args[1], args[2], tonumber(args[3])
  math.randomseed(tonumber(args[4]))
end
function request()
  local path = string.format("/api/v1/hosts/%s/apps/app%05d/update?user_id=user-%d&region=%s",
    host, math.random(1, apps), math.random(0, 100000), regions[math.random(1, 3)])
  return wrk.format("GET", path, {["X-Minibox-Host-Key"] = key})
end
"""


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


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[m.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M))
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, re.M)
    assert total is not None and pct, out
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50": _ms(pct["50"]), "p99": _ms(pct["99"]), "requests": int(total.group(1)),
            "non2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else ""}


def tree_cpu_seconds(root: int) -> float:
    """user + system CPU seconds of `root` and its descendants (the uvicorn workers)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    family, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in family:
                family.add(child)
                frontier.append(child)
    return sum(times.get(pid, 0.0) for pid in family)


def wrk(url: str, duration: float, server_pid: int, script: Path | None = None, args: list[str] | None = None,
        ) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}s", "--timeout", "5s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(url)
    if args:
        cmd += ["--", *args]
    cpu0 = tree_cpu_seconds(server_pid)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    cpu = tree_cpu_seconds(server_pid) - cpu0
    r = parse_wrk(out)
    r["server_cpu_s"] = cpu
    r["per_core"] = r["requests"] / cpu if cpu > 0 else float("nan")
    return r


def run_backend(name: str, url: str | None, args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    data = Path(tempfile.mkdtemp(prefix=f"mb-bench-{name}-"))
    settings = Settings.for_data_dir(data, url)
    t0 = time.perf_counter()
    host_id, key = seed(settings, args.apps)
    print(f"[{name}] seeded {args.apps} apps ({args.apps // 2} with grayscale rules) in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    port = free_port()
    exe = Path(sys.executable).with_name("minibox")
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(exe), "server", "--data-dir", str(data), "--database-url", settings.database_url,
                             "--port", str(port), "--workers", str(args.workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    lua = data / "update.lua"
    lua.write_text(UPDATE_LUA)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/api/v1/ping", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.1)
        print(f"[{name}] server up (release snapshot loaded) in {time.perf_counter() - t0:.1f} s", flush=True)
        probe = httpx.get(f"{base}/api/v1/hosts/{host_id}/apps/app00002/update",
                          params={"user_id": "user-1", "region": "cn-east"}, headers={"X-Minibox-Host-Key": key})
        assert probe.status_code == 200 and probe.json()["version"] == "1.1.0", probe.text  # user-1 is listed
        update_args = [host_id, key, str(args.apps)]
        wrk(base + "/api/v1/ping", 2, proc.pid)  # warm up
        wrk(base, 2, proc.pid, lua, [*update_args, "7"])
        results = [("ping (baseline)", wrk(base + "/api/v1/ping", args.duration, proc.pid)),
                   ("update check", wrk(base, args.duration, proc.pid, lua, [*update_args, "1"]))]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data, ignore_errors=True)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--apps", type=int, default=10_000)
    ap.add_argument("--duration", type=int, default=10, help="seconds of load per endpoint")
    ap.add_argument("--workers", type=int, default=1, help="minibox server --workers")
    ap.add_argument("--backends", default="sqlite,postgres")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk (scripts/setup.sh installs it)")
    load_before = os.getloadavg()[0]
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
    print(f"\n{args.apps} apps ({args.apps // 2} grayscale rules), wrk -t1 -c{CONNECTIONS} -d{args.duration:g}s on "
          f"loopback, {args.workers} server worker(s), {os.cpu_count()} cores shared with wrk; "
          f"load average before {load_before:.1f}, after {os.getloadavg()[0]:.1f}")
    print("req/s per core = requests / CPU-seconds the server processes used during the run")
    print(f"{'backend':<10}{'endpoint':<17}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'srv cores':>10}"
          f"{'req/s/core':>11}{'rps/ping':>9}{'p99/ping':>9}{'/core/ping':>11}  non-2xx")
    for backend, results in rows:
        base = results[0][1]
        for label, r in results:
            print(f"{backend:<10}{label:<17}{r['rps']:>8.0f}{r['p50']:>8.2f}{r['p99']:>8.2f}"
                  f"{r['server_cpu_s'] / args.duration:>10.2f}{r['per_core']:>11.0f}{r['rps'] / base['rps']:>9.2f}"
                  f"{r['p99'] / base['p99']:>9.2f}{r['per_core'] / base['per_core']:>11.2f}  "
                  f"{r['non2xx']}{' ' + r['socket_errors'] if r['socket_errors'] else ''}")


if __name__ == "__main__":
    main()
