"""Faults the platform survives (issue 12), on loopback, bounded in time, never skipped:

- kill -9 of one of two replicas (`minibox server` processes on one PostgreSQL) while update checks
  and uploads run: every acknowledged upload is there afterwards, whole (its blob matches its hash),
  the audit chain verifies, and the other replica answered every update check throughout;
- the blob disk full (a 2 MiB tmpfs mounted over the blob directory, so the kernel itself answers
  ENOSPC; where mounting is not permitted, `os.fsync` of the store raises ENOSPC instead, the only
  simulated case): an upload gets a clear `507 storage_full` JSON error, nothing half-written is left
  or recorded, update checks and downloads of what is stored go on, and the same upload succeeds once
  there is room.

The database outage (PostgreSQL refusing connections: clear 503s, then recovery) is in
test_update_cache.py::test_database_outage_answers_503_then_recovers.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from minibox.platform.api import create_app
from minibox.platform.serve import BackgroundServer
from minibox.platform.server import open_platform
from minibox.platform.settings import Settings

from .conftest import (
    Tenant,
    auth,
    create_pg_database,
    drop_pg_database,
    make_platform,
    project_zip,
    seed_tenant,
    sessions_for,
)
from .test_server_options import serve
from .test_server_options import stop as stop_server


def start_replica(data_dir: Path, url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    return serve(["--data-dir", str(data_dir), "--database-url", url], log)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        stop_server(proc)


def setup_app(c: httpx.Client, tenant: Tenant, tmp: Path, app_id: str = "wallet") -> dict[str, Any]:
    """An app granted to a new host, 1.0.0 released: the host's registration."""
    def op(method: str, path: str, role: str, **kw: Any) -> httpx.Response:
        r = c.request(method, path, headers=auth(tenant, role), **kw)
        assert r.status_code < 300, r.text
        return r

    host = op("POST", "/api/v1/hosts", "admin", json={"name": "Mobile banking"}).json()
    op("POST", "/api/v1/apps", "admin", json={"app_id": app_id, "name": app_id})
    op("POST", f"/api/v1/apps/{app_id}/members", "admin", json={"user_id": tenant.users["developer"].user_id})
    op("POST", f"/api/v1/hosts/{host['host_id']}/apps", "admin", json={"app_id": app_id})
    op("POST", f"/api/v1/apps/{app_id}/versions", "developer", data={"version": "1.0.0", "kind": "source"},
       files={"file": ("src.zip", project_zip(tmp, title="1.0.0"), "application/zip")})
    op("POST", f"/api/v1/apps/{app_id}/versions/1.0.0/submit", "developer", json={})
    op("POST", f"/api/v1/apps/{app_id}/versions/1.0.0/approve", "reviewer", json={})
    op("POST", f"/api/v1/apps/{app_id}/releases", "operator", json={"version": "1.0.0"})
    return host


def upload(c: httpx.Client, tenant: Tenant, tmp: Path, version: str, base: str = "") -> httpx.Response:
    return c.post(f"{base}/api/v1/apps/wallet/versions", headers=auth(tenant, "developer"),
                  data={"version": version, "kind": "source"},
                  files={"file": ("src.zip", project_zip(tmp, title=version), "application/zip")})


def blob_ok(blob_dir: Path, sha: str) -> bool:
    path = blob_dir / sha[:2] / sha
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha


@pytest.mark.postgres
@pytest.mark.slow
def test_kill_9_one_replica_during_uploads_and_update_checks(tmp_path: Path) -> None:
    pg = create_pg_database()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        data = tmp_path / "data"
        plat = make_platform(data, pg.url)
        tenant = sessions_for(plat, seed_tenant(plat, "Bank"))
        plat.db.dispose()
        a, url_a = start_replica(data, pg.url, tmp_path / "a.log")
        procs.append(a)
        b, url_b = start_replica(data, pg.url, tmp_path / "b.log")
        procs.append(b)
        with httpx.Client(base_url=url_b, timeout=60) as cb:
            host = setup_app(cb, tenant, tmp_path)
        check = f"/api/v1/hosts/{host['host_id']}/apps/wallet/update"
        hk = {"X-Minibox-Host-Key": host["api_key"]}

        stop_checks = threading.Event()
        killed = threading.Event()
        on_b: list[int | str] = []  # statuses of every update check on B (or the transport error)
        on_a: list[int | str] = []

        def hammer(base: str, out: list[int | str]) -> None:
            with httpx.Client(base_url=base, timeout=10) as c:
                while not stop_checks.is_set():
                    try:
                        out.append(c.get(check, params={"user_id": f"u{len(out) % 50}"}, headers=hk).status_code)
                    except httpx.TransportError as e:
                        out.append(type(e).__name__)
                        if base == url_a:
                            time.sleep(0.05)

        acked: dict[str, str] = {}  # version -> bundle sha256 of every 201
        attempted: list[str] = []

        def uploader() -> None:
            """Uploads to A until it dies, then (as a client would) retries on B."""
            base = url_a
            i = 0
            with httpx.Client(timeout=60) as c:
                while i < 12 and not (killed.is_set() and base == url_b and len(attempted) > 8):
                    version = f"2.0.{i}"
                    attempted.append(version)
                    try:
                        r = upload(c, tenant, tmp_path, version, base)
                    except httpx.TransportError:
                        base = url_b  # A is gone: the same upload again, on B
                        continue
                    if r.status_code == 201:
                        acked[version] = r.json()["bundle_sha256"]
                    elif r.status_code == 409 and r.json()["code"] == "version_exists":
                        pass  # the upload A was killed during had been recorded after all
                    else:
                        raise AssertionError(f"upload {version} on {base}: {r.status_code} {r.text}")
                    i += 1

        threads = [threading.Thread(target=hammer, args=(url_b, on_b)) for _ in range(2)]
        threads.append(threading.Thread(target=hammer, args=(url_a, on_a)))
        up = threading.Thread(target=uploader)
        for t in threads:
            t.start()
        up.start()
        try:
            deadline = time.monotonic() + 120
            while len(acked) < 2 and up.is_alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(acked) >= 2, f"no uploads acknowledged on A: {attempted}"
            n = len(attempted)
            while len(attempted) == n and time.monotonic() < deadline:  # the next upload has been sent
                time.sleep(0.005)
            time.sleep(0.1)  # ... and is being compiled on A
            os.kill(a.pid, signal.SIGKILL)
            a.wait(timeout=10)
            killed.set()
            before_kill_b = len(on_b)
            up.join(timeout=180)
            assert not up.is_alive(), "uploads did not finish on B"
            time.sleep(0.5)  # B keeps answering after the kill
        finally:
            stop_checks.set()
            for t in threads:
                t.join(timeout=30)
        # B answered every update check, before and after A died
        assert on_b and set(on_b) == {200}, {s: on_b.count(s) for s in set(on_b)}
        assert len(on_b) > before_kill_b, "no update check ran on B after the kill"
        assert 200 in on_a and not [s for s in on_a if isinstance(s, int) and s >= 500]
        print(f"kill -9: {len(on_b)} update checks on B, all 200 ({len(on_b) - before_kill_b} after the kill); "
              f"{len(acked)} of {len(attempted)} uploads acknowledged")

        # nothing acknowledged is lost, and every recorded version is whole
        with httpx.Client(base_url=url_b, timeout=60) as cb:
            listed = cb.get("/api/v1/apps/wallet/versions", headers=auth(tenant, "developer"))
            assert listed.status_code == 200, listed.text
            versions = {v["version"]: v for v in listed.json()}
            assert set(acked) <= set(versions), f"lost: {set(acked) - set(versions)}"
            for v, sha in acked.items():
                assert versions[v]["bundle_sha256"] == sha
            for v in versions.values():
                assert blob_ok(data / "blobs", v["bundle_sha256"]), v
            # and B still changes releases: the killed replica held no lock that blocks it
            r = cb.post("/api/v1/apps/wallet/versions/2.0.0/submit", headers=auth(tenant, "developer"), json={})
            assert r.status_code == 200, r.text
        plat = make_platform(data, pg.url)
        try:
            from minibox.platform.audit.service import verify
            from minibox.platform.keys import AUDIT_PUBLIC_KEY_FILE, load_audit_public_key

            with plat.db.read() as s:
                result = verify(s, load_audit_public_key(data / "keys" / AUDIT_PUBLIC_KEY_FILE), None)
            assert result.ok, result.problems
        finally:
            plat.db.dispose()
    finally:
        for p in procs:
            stop(p)
        drop_pg_database(pg)


@contextlib.contextmanager
def small_disk(path: Path) -> Iterator[str]:
    """A 2 MiB tmpfs mounted at `path` ("tmpfs"), else a store whose fsync fails with ENOSPC ("simulated")."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode == 0:
        try:
            yield "tmpfs"
        finally:
            subprocess.run(["umount", "-l", str(path)], check=False)
        return
    yield "simulated"


def fill(path: Path) -> Path | None:
    """Fill the file system at `path` to the last byte; the filler file."""
    filler = path / "filler"
    try:
        with filler.open("wb") as f:
            chunk = b"\0" * 65536
            while True:
                f.write(chunk)
                f.flush()
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
    with contextlib.suppress(OSError), filler.open("ab") as f:  # the last partial chunk
        for _ in range(65536):
            f.write(b"\0")
            f.flush()
    return filler


@pytest.mark.slow
def test_blob_disk_full_gives_507_and_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      record_property: Any) -> None:
    blob_dir = tmp_path / "blobs"
    with small_disk(blob_dir) as how:
        record_property("disk_full", how)
        print(f"blob disk full: {how}")
        settings = Settings.for_data_dir(tmp_path / "data", None, secure_cookies=False, blobs_url=str(blob_dir),
                                         redis_url="")
        plat = open_platform(settings)
        try:
            tenant = sessions_for(plat, seed_tenant(plat, "Bank"))
            with BackgroundServer(create_app(plat)) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
                host = setup_app(c, tenant, tmp_path)
                hk = {"X-Minibox-Host-Key": host["api_key"]}
                check = f"/api/v1/hosts/{host['host_id']}/apps/wallet/update"
                u = c.get(check, params={"user_id": "u1"}, headers=hk)
                assert u.status_code == 200, u.text  # the host's package is built and stored
                pkg_url = u.json()["package"]["url"]
                before = {p.name for p in blob_dir.rglob("*") if p.is_file()}

                if how == "tmpfs":
                    filler = fill(blob_dir)
                else:  # no mount permitted: the OS call that makes data durable reports a full disk
                    filler = None

                    def no_space(fd: int) -> None:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

                    monkeypatch.setattr("minibox.platform.blobs.os.fsync", no_space)
                version = f"1.1.{uuid.uuid4().int % 1000}"
                r = upload(c, tenant, tmp_path, version)
                assert r.status_code == 507, r.text
                assert r.json()["code"] == "storage_full" and "nothing was stored" in r.json()["message"]
                # nothing recorded, nothing half-written
                listed = c.get("/api/v1/apps/wallet/versions", headers=auth(tenant, "developer")).json()
                assert version not in {v["version"] for v in listed}
                assert not [p for p in blob_dir.rglob(".tmp-*")], "a temp file was left behind"
                for p in blob_dir.rglob("*"):
                    if p.is_file() and p.name != "filler":
                        assert hashlib.sha256(p.read_bytes()).hexdigest() == p.name, f"partial blob {p}"
                # what is stored is still served while the disk is full
                assert c.get(check, params={"user_id": "u2"}, headers=hk).status_code == 200
                full = c.get(pkg_url, headers=hk)
                assert full.status_code == 200 and hashlib.sha256(full.content).hexdigest() == \
                    pkg_url.rsplit("/", 1)[1].removesuffix(".mbx")
                # room again: the same upload succeeds (no half-recorded version blocks it)
                if filler is not None:
                    filler.unlink()
                else:
                    monkeypatch.undo()
                r = upload(c, tenant, tmp_path, version)
                assert r.status_code == 201, r.text
                assert blob_ok(blob_dir, r.json()["bundle_sha256"])
                assert before <= {p.name for p in blob_dir.rglob("*") if p.is_file()}
        finally:
            plat.db.dispose()
