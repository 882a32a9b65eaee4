"""Soak: two replicas on one PostgreSQL under update-check load, while an operator releases, rolls back
and takes the app down over and over through alternating replicas.

Run: .venv/bin/python bench/soak_platform.py [--duration 600] [--database postgres|sqlite]

Loopback only and bounded in time. `wrk` (4 connections per replica) hammers the update check of both
replicas with random users, counting answers by HTTP status; a driver makes a change through one replica
every cycle and checks, right after the change returns, what both replicas answer (no polling: the
release cache's fence makes a returned change visible everywhere). Printed at the end: requests by status
(any 5xx is a failure), changes made, and any answer that did not reflect an acknowledged change.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
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

from minibox.platform.accounts import service as accounts
from minibox.platform.accounts.models import ConsoleSession
from minibox.platform.context import Ctx, Principal
from minibox.platform.demo import zip_dir
from minibox.platform.serve import free_port
from minibox.platform.server import open_platform
from minibox.platform.settings import Settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "Soak-Password-123-abc"

#: wrk script: random users of one app; counts answers by status and prints them as JSON at the end.
LUA = """
local host, key, app
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  host, key, app = args[1], args[2], args[3]
  counts = {}
  math.randomseed(tonumber(args[4]))
end
function request()
  return wrk.format("GET", string.format("/api/v1/hosts/%s/apps/%s/update?user_id=user-%d", host, app,
    math.random(0, 100000)), {["X-Minibox-Host-Key"] = key})
end
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do total[status] = (total[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, string.format('"%d": %d', status, n)) end
  io.write("STATUS_COUNTS {" .. table.concat(parts, ", ") .. "}\\n")
  io.write(string.format("LATENCY_MS p50=%.2f p99=%.2f\\n", latency:percentile(50) / 1000,
    latency:percentile(99) / 1000))
end
"""


def project(root: Path, title: str) -> bytes:
    files = {"project.config.json": json.dumps({"appid": "soak", "miniprogramRoot": ""}),
             "app.json": json.dumps({"pages": ["pages/index/index"]}), "app.js": "App({})\n",
             "pages/index/index.json": "{}", "pages/index/index.wxml": f"<view>{title}</view>\n",
             "pages/index/index.js": "Page({ data: {} })\n"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return zip_dir(root)


def seed_users(settings: Settings) -> dict[str, str]:
    """An org with one user per role and a console session token for each."""
    plat = open_platform(settings)
    tokens = {}
    with plat.db.write() as s:
        admin = accounts.bootstrap_admin(Ctx(s, plat), "Soak Bank", "soak-admin", PASSWORD)
        p = Principal(admin.user.id, admin.user.org_id, "soak-admin", "admin", "session")
        users = {"admin": admin.user}
        for role in ("developer", "reviewer", "operator"):
            users[role] = accounts.create_user(Ctx(s, plat, p), f"soak-{role}", role, PASSWORD).user
        for role, user in users.items():
            token = accounts.SESSION_PREFIX + secrets.token_urlsafe(32)
            s.add(ConsoleSession(user_id=user.id, token_hash=accounts.sha256_hex(token),
                                 csrf_token=secrets.token_urlsafe(16)))
            tokens[role] = token
    tokens["developer_id"] = str(users["developer"].id)
    plat.db.dispose()
    return tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=120, help="seconds of load (the issue's soak is 600)")
    ap.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="mb-soak-"))
    db_name = f"mbplat_soak_{uuid.uuid4().hex[:8]}"
    url = None
    if args.database == "postgres":
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{db_name}"
    settings = Settings.for_data_dir(data / "data", url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        tokens = seed_users(settings)
        exe = Path(sys.executable).with_name("minibox")
        urls = []
        for _ in range(2):
            port = free_port()
            procs.append(subprocess.Popen([str(exe), "server", "--data-dir", str(settings.data_dir), "--database-url",
                                           settings.database_url, "--port", str(port), "--insecure-cookies"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        for u in urls:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(u + "/api/v1/ping", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"replica {u} did not start")
                time.sleep(0.1)
        a, b = (httpx.Client(base_url=u, timeout=60) for u in urls)

        def op(c: httpx.Client, role: str, method: str, path: str, **kw: Any) -> httpx.Response:
            r = c.request(method, path, headers={"Authorization": f"Bearer {tokens[role]}"}, **kw)
            if r.status_code >= 300:
                raise SystemExit(f"{method} {path}: {r.status_code} {r.text}")
            return r

        op(a, "admin", "POST", "/api/v1/apps", json={"app_id": "wallet", "name": "Wallet"})
        op(b, "admin", "POST", "/api/v1/apps/wallet/members", json={"user_id": int(tokens["developer_id"])})
        host = op(a, "admin", "POST", "/api/v1/hosts", json={"name": "Mobile banking"}).json()
        op(b, "admin", "POST", f"/api/v1/hosts/{host['host_id']}/apps", json={"app_id": "wallet"})
        for v in ("1.0.0", "1.1.0"):
            op(a, "developer", "POST", "/api/v1/apps/wallet/versions", data={"version": v, "kind": "source"},
               files={"file": ("src.zip", project(data / f"src-{v}", v), "application/zip")})
            op(a, "developer", "POST", f"/api/v1/apps/wallet/versions/{v}/submit", json={})
            op(b, "reviewer", "POST", f"/api/v1/apps/wallet/versions/{v}/approve", json={})
        op(a, "operator", "POST", "/api/v1/apps/wallet/releases", json={"version": "1.0.0"})

        lua = data / "soak.lua"
        lua.write_text(LUA)
        wrks = [subprocess.Popen(["wrk", "-t1", "-c4", f"-d{args.duration}s", "--timeout", "5s", "-s", str(lua), u,
                                  "--", host["host_id"], host["api_key"], "wallet", str(i + 1)],
                                 stdout=subprocess.PIPE, text=True) for i, u in enumerate(urls)]
        hk = {"X-Minibox-Host-Key": host["api_key"]}

        def seen() -> list[str]:
            out = []
            for c in (a, b):
                r = c.get(f"/api/v1/hosts/{host['host_id']}/apps/wallet/update", params={"user_id": "probe"},
                          headers=hk)
                out.append(r.json()["version"] if r.status_code == 200 else str(r.status_code))
            return out

        changes = {"release": 0, "rollback": 0, "takedown": 0}
        stale: list[str] = []
        current = "1.0.0"
        end = time.monotonic() + args.duration - 2
        cycle = 0
        while time.monotonic() < end:
            via = (a, b)[cycle % 2]
            cycle += 1
            if current == "1.0.0":
                op(via, "operator", "POST", "/api/v1/apps/wallet/releases", json={"version": "1.1.0"})
                changes["release"] += 1
                current = "1.1.0"
            elif current == "1.1.0":
                op(via, "operator", "POST", "/api/v1/apps/wallet/rollback", json={"version": "1.0.0"})
                changes["rollback"] += 1
                current = "rolled-back"
            else:
                op(via, "operator", "POST", "/api/v1/apps/wallet/takedown", json={"reason": "soak"})
                changes["takedown"] += 1
                got = seen()
                if got != ["410", "410"]:
                    stale.append(f"after takedown {cycle}: {got}")
                time.sleep(1)
                op(via, "operator", "POST", "/api/v1/apps/wallet/releases", json={"version": "1.0.0"})
                changes["release"] += 1
                current = "1.0.0"
            want = "1.0.0" if current != "1.1.0" else "1.1.0"
            got = seen()
            if got != [want, want]:
                stale.append(f"cycle {cycle}: wanted {want}, got {got}")
            time.sleep(1)
        statuses: dict[str, int] = {}
        latencies = []
        for w in wrks:
            out, _ = w.communicate(timeout=args.duration + 60)
            m = re.search(r"STATUS_COUNTS (\{.*\})", out)
            for k, n in json.loads(m.group(1) if m else "{}").items():
                statuses[k] = statuses.get(k, 0) + n
            lat = re.search(r"LATENCY_MS (.*)", out)
            latencies.append(lat.group(1) if lat else "?")
            rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
            latencies[-1] += f" req/s={rps.group(1) if rps else '?'}"
        a.close()
        b.close()
        total = sum(statuses.values())
        errors = sum(n for k, n in statuses.items() if k.startswith("5"))
        print(f"soak: {args.duration} s, 2 replicas on {args.database}, wrk -c4 on each")
        print(f"update checks: {total}, by status {dict(sorted(statuses.items()))}, 5xx: {errors}")
        print(f"per replica: {latencies}")
        print(f"changes acknowledged: {changes}; stale answers right after a change: {len(stale)}")
        for line in stale[:10]:
            print("  " + line)
        if errors or stale:
            raise SystemExit(1)
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        if args.database == "postgres":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
