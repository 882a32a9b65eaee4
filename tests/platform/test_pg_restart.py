"""A real PostgreSQL restart under load (issue 12): a private PostgreSQL cluster of this test (so no
other test's database goes down), two replicas on it, update checks hammering both. While the
database is down the replicas answer a clear 503 and nothing else; a host keeps running its verified
cached package; when the database is back, answers resume and a takedown is honoured at once."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from minibox.host.update import Updater
from minibox.package import HostKeyPair, TrustStore
from minibox.platform.api import create_app
from minibox.platform.serve import BackgroundServer
from tests.platform.test_update_cache import Env, Replica, eventually

from .conftest import auth, make_platform, seed_tenant, sessions_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
PG_BIN = Path("/usr/lib/postgresql") / max(os.listdir("/usr/lib/postgresql")) / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A throwaway PostgreSQL cluster run by the postgres user, on 127.0.0.1:port."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="minibox-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = _free_port()
        self._pg("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / tool), *args], check=True,
                       capture_output=True, timeout=120)

    def _ctl(self, *args: str) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} -c fsync=off"
        self._pg("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-o", opts, "-w", *args)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def restart(self) -> None:
        self._ctl("-m", "fast", "restart")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Env, Cluster, HostKeyPair]]:
    cluster = Cluster()
    p1 = make_platform(tmp_path / "data", cluster.url)
    p2 = make_platform(tmp_path / "data", cluster.url)
    try:
        tenant = sessions_for(p1, seed_tenant(p1, "Bank"))
        with BackgroundServer(create_app(p1)) as s1, BackgroundServer(create_app(p2)) as s2, \
                httpx.Client(base_url=s1.url, timeout=30) as c1, httpx.Client(base_url=s2.url, timeout=30) as c2:
            r = c1.post("/api/v1/hosts", headers=auth(tenant, "admin"), json={"name": "Mobile banking"})
            assert r.status_code == 201, r.text
            keyset = c1.get("/api/v1/trust/keyset").content
            keys = TrustStore.create(tmp_path / "trust", keyset).trusted_keys()
            host_key = HostKeyPair.from_private_pem(r.json()["private_key_pem"].encode())
            yield Env(Replica(p1, s1, c1), Replica(p2, s2, c2), tenant, r.json()["host_id"],
                      r.json()["api_key"], keys, tmp_path), cluster, host_key
    finally:
        p1.db.dispose()
        p2.db.dispose()
        cluster.remove()


def test_postgres_restart_under_load(env: tuple[Env, Cluster, HostKeyPair]) -> None:
    e, cluster, host_key = env
    app_id = e.new_app(("1.0.0",))
    e.op(e.a, "POST", f"/api/v1/apps/{app_id}/releases", json={"version": "1.0.0"})
    eventually(lambda: e.version(e.b, app_id), "1.0.0")
    keyset = e.a.client.get("/api/v1/trust/keyset").content
    updater = Updater(e.a.server.url, e.host_id, e.api_key, TrustStore.create(e.tmp / "host-trust", keyset),
                      e.tmp / "host-cache", host_key)
    with updater:
        assert updater.update(app_id, "u1").manifest.version == "1.0.0"  # installed and cached

        statuses: Counter[int] = Counter()
        codes: Counter[str] = Counter()
        stop = threading.Event()

        def hammer(r: Replica) -> None:
            while not stop.is_set():
                resp = e.check(r, app_id)
                statuses[resp.status_code] += 1
                if resp.status_code != 200:
                    codes[resp.json().get("code", "?")] += 1
                time.sleep(0.005)

        threads = [threading.Thread(target=hammer, args=(r,)) for r in (e.a, e.b)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            cluster.stop()
            eventually(lambda: e.check(e.b, app_id).status_code, 503, within=5)
            # the host keeps running its verified package from its cache while the platform cannot answer
            assert updater.update(app_id, "u1").manifest.version == "1.0.0"
            cluster.start()
            eventually(lambda: e.version(e.a, app_id), "1.0.0", within=20)
            eventually(lambda: e.version(e.b, app_id), "1.0.0", within=20)
            cluster.restart()  # and a restart proper, with no pause in between
            eventually(lambda: e.version(e.a, app_id), "1.0.0", within=20)
            eventually(lambda: e.version(e.b, app_id), "1.0.0", within=20)
        finally:
            stop.set()
            for t in threads:
                t.join()
    assert set(statuses) <= {200, 503}, statuses  # nothing but clear 503s while the database was away
    assert statuses[503] > 0 and set(codes) == {"unavailable"}, (statuses, codes)
    # a takedown after the restart is honoured on both replicas as soon as it returns
    e.op(e.b, "POST", f"/api/v1/apps/{app_id}/takedown", json={"reason": "fraud report"})
    assert e.check(e.a, app_id).status_code == 410 and e.check(e.b, app_id).status_code == 410
