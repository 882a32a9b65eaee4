"""`minibox server` options of a production deployment (issue 12): `--blobs` and `--redis-url` reach
every worker of `--workers N`, and `--forwarded-allow-ips` makes the client address (login throttling,
audit) come from the named proxy's X-Forwarded-For, and only from it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from minibox.platform.accounts.models import LoginThrottle
from minibox.platform.serve import free_port

from .conftest import auth, make_platform, project_zip, seed_tenant, sessions_for


def serve(args: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = Path(sys.executable).with_name("minibox")
    proc = subprocess.Popen([str(exe), "server", "--port", str(port), "--insecure-cookies", *args],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/api/v1/ping", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def test_workers_use_the_blob_store_and_trusted_proxy_given(tmp_path: Path) -> None:
    data, blobs = tmp_path / "data", tmp_path / "shared-blobs"
    plat = make_platform(data)
    tenant = sessions_for(plat, seed_tenant(plat, "Bank"))
    plat.db.dispose()
    proc, url = serve(["--data-dir", str(data), "--workers", "2", "--blobs", str(blobs),
                       "--redis-url", f"redis://127.0.0.1:{free_port()}/0",  # down: must not matter
                       "--forwarded-allow-ips", "127.0.0.1"], tmp_path / "server.log")
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            h = auth(tenant, "admin")
            assert c.post("/api/v1/apps", headers=h, json={"app_id": "wallet", "name": "W"}).status_code == 201
            c.post("/api/v1/apps/wallet/members", headers=h, json={"user_id": tenant.users["developer"].user_id})
            shas = set()
            for i in range(4):  # fresh connections: the kernel spreads them over both workers
                with httpx.Client(base_url=url, timeout=60) as fresh:
                    r = fresh.post("/api/v1/apps/wallet/versions", headers=auth(tenant, "developer"),
                                   data={"version": f"1.0.{i}", "kind": "source"},
                                   files={"file": ("s.zip", project_zip(tmp_path, title=str(i)), "application/zip")})
                    assert r.status_code == 201, r.text
                    shas.add(r.json()["bundle_sha256"])
            for sha in shas:  # every worker wrote to the --blobs directory, none to the data dir
                path = blobs / sha[:2] / sha
                assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
            assert not (data / "blobs").exists() or not any((data / "blobs").rglob("*"))
            # a login failure through the trusted proxy is counted against the forwarded client
            r = c.post("/api/v1/auth/login", headers={"X-Forwarded-For": "203.0.113.7"},
                       json={"username": tenant.users["developer"].username, "password": "Wrong-password-1"})
            assert r.status_code == 401, r.text
    finally:
        stop(proc)
    plat = make_platform(data)
    try:
        with plat.db.read() as s:
            clients = set(s.execute(select(LoginThrottle.client)).scalars())
        assert clients == {"203.0.113.7"}
    finally:
        plat.db.dispose()
    assert "redis unavailable" in (tmp_path / "server.log").read_text()


def test_without_trusted_proxies_forwarded_headers_are_ignored(tmp_path: Path) -> None:
    data = tmp_path / "data"
    plat = make_platform(data)
    tenant = seed_tenant(plat, "Bank")
    plat.db.dispose()
    proc, url = serve(["--data-dir", str(data)], tmp_path / "server.log")
    try:
        r = httpx.post(url + "/api/v1/auth/login", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=30,
                       json={"username": tenant.users["developer"].username, "password": "Wrong-password-1"})
        assert r.status_code == 401, r.text
    finally:
        stop(proc)
    plat = make_platform(data)
    try:
        with plat.db.read() as s:
            assert set(s.execute(select(LoginThrottle.client)).scalars()) == {"127.0.0.1"}
    finally:
        plat.db.dispose()
