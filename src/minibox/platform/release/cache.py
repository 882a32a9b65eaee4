"""Release decisions held in memory per replica, so the update check runs without a database query.

What an update check needs (hosts by API key hash; per app: grants, takedown, its active releases with
their grayscale rules prepared; per host package: its hash and size) is a snapshot of a few tables,
versioned by the release generation (`release.generation`). The snapshot is refreshed:

- at once on the replica that committed a change (a `Database` commit hook);
- on the other replicas by a watcher thread that reads the generation every `poll` seconds (one indexed
  single-row read) and, on PostgreSQL, also wakes on `NOTIFY minibox_release`; a new generation reloads
  only the apps and hosts its change rows name (all of them after a gap).

Takedown safety is a lease. A replica may sign an answer only while its last successful generation read
*started* less than `lease` seconds ago (checked before deciding and again after signing; otherwise the
request refreshes synchronously, and answers 503 if the database cannot be read). A write that bumps the
generation does not return until `lease + margin` seconds after its commit. So when a takedown (or a
release, rollback, stop, revocation) is acknowledged, every replica that can still sign read the
generation after that commit: no answer naming the taken-down version is signed after the takedown
returned, on any replica, whatever the network or notification channel does. Propagation is bounded by
`poll` (milliseconds with NOTIFY), far inside the one-second requirement.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from minibox.package.answer import sign_answer
from minibox.platform.db import Database
from minibox.platform.errors import Forbidden, Gone, NotFound, PlatformError, Unauthenticated
from minibox.platform.release.generation import CHANNEL, Committed
from minibox.platform.release.grayscale import Rule

log = logging.getLogger("minibox.platform.release.cache")

#: Defaults: the watcher reads the generation every POLL_S; a replica signs only within LEASE_S of a read.
POLL_S = 0.025
LEASE_S = 0.15
#: A generation-bumping write returns this long after its lease window, for scheduling slack.
FENCE_MARGIN_S = 0.03
HOST_KEY_PREFIX = "mbh_"
GENERATION_SQL = "SELECT value FROM release_generation WHERE id = 1"
_IN_CHUNK = 500
GRAY = "gray"


class Unavailable(PlatformError):
    status = 503
    code = "unavailable"


@dataclass(frozen=True, slots=True)
class HostSnap:
    pk: int
    org_id: int
    host_id: str
    key_fingerprint: str
    api_key_hash: str
    revoked: bool


@dataclass(frozen=True, slots=True)
class ReleaseSnap:
    id: int
    sequence: int
    kind: str
    build: int
    version_id: int
    version: str
    rule: Rule | None
    allowlist: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AppSnap:
    pk: int
    org_id: int
    app_id: str
    gray_salt: str
    taken_down: bool
    hosts: frozenset[int]
    releases: tuple[ReleaseSnap, ...]  # active, newest sequence first


class _State:
    __slots__ = ("apps", "apps_by_pk", "hosts", "hosts_by_pk", "packages")

    def __init__(self) -> None:
        self.apps: dict[tuple[int, str], AppSnap] = {}
        self.apps_by_pk: dict[int, AppSnap] = {}
        self.hosts: dict[str, HostSnap] = {}  # by API key hash
        self.hosts_by_pk: dict[int, HostSnap] = {}
        self.packages: dict[tuple[int, int, int, str], tuple[str, int]] = {}


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _chunks(pks: Iterable[int]) -> Iterable[list[int]]:
    items = sorted(pks)
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i:i + _IN_CHUNK]


class _Signer:
    """The platform signing key with its key id computed once (`SigningKey.key_id` derives it per call)."""

    __slots__ = ("key_id", "sign")

    def __init__(self, signer: Any):
        self.key_id = signer.key_id
        self.sign = signer.sign


class ReleaseCache:
    """One replica's snapshot of release decisions; see the module docstring for the guarantees."""

    def __init__(self, db: Database, signer: Any, *, poll_s: float = POLL_S, lease_s: float = LEASE_S):
        self.db = db
        self.signer = _Signer(signer) if signer is not None else None
        self.poll_s, self.lease_s = poll_s, lease_s
        self.fence_s = lease_s + FENCE_MARGIN_S
        self.state = _State()
        self.generation = -1
        self.fresh_since = -math.inf
        self.refreshes = 0
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        #: Set by an outside signal (Redis pub/sub) to make the watcher read the generation now.
        self._wake = threading.Event()
        #: Called with each generation this replica commits (Redis pub/sub tells the other replicas).
        self.announce: Callable[[int], None] | None = None
        self.wakes = 0
        #: Users answered, for the grayscale rule preview (minibox.platform.release.seen)
        self.seen: Any = None
        self._thread: threading.Thread | None = None
        db.commit_hooks.append(self._on_commit)
        db.dispose_hooks.append(self.stop)

    # ---- lifecycle and freshness ---------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> ReleaseCache:
        """Load the snapshot and start the watcher (idempotent)."""
        with self._start_lock:
            if self._thread is None:
                self._stop.clear()
                self.refresh()
                self._thread = threading.Thread(target=self._watch, name="release-cache", daemon=True)
                self._thread.start()
        return self

    def stop(self) -> None:
        with self._start_lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            self._wake.set()
        if thread is not None:
            thread.join(timeout=5)
        self.fresh_since = -math.inf

    def is_fresh(self) -> bool:
        return time.monotonic() - self.fresh_since <= self.lease_s

    def refresh(self, read_generation: Callable[[], int] | None = None, *, if_stale: bool = False) -> None:
        """Bring the snapshot up to the database's generation and renew the lease. The watcher reads the
        generation on its own connection (one small query); others take a pooled one."""
        with self._lock:
            if if_stale and self.is_fresh():
                return  # another thread renewed it while this one waited
            t0 = time.monotonic()
            if read_generation is not None:
                gen = read_generation()
                if gen != self.generation:
                    with self.db.read_engine.connect() as conn:
                        self._apply(conn, gen)
            else:
                with self.db.read_engine.connect() as conn:
                    gen = int(conn.exec_driver_sql(GENERATION_SQL).scalar_one())
                    if gen != self.generation:
                        self._apply(conn, gen)
            self.generation = gen
            self.fresh_since = t0  # everything committed before t0 is in the snapshot
            self.refreshes += 1

    def ensure_fresh(self) -> None:
        """Refresh now unless the lease holds; 503 if the database cannot be read."""
        try:
            if not self.started:
                self.start()
            elif not self.is_fresh():
                self.refresh(if_stale=True)
        except Exception as e:
            log.warning("release cache refresh failed: %s", e)
            raise Unavailable("the release database is unavailable; retry shortly") from e

    def wake(self) -> None:
        """Read the generation now rather than at the next poll (an outside signal: Redis pub/sub)."""
        self.wakes += 1
        self._wake.set()

    def _on_commit(self, committed: Committed) -> None:
        """A write on this replica bumped the generation: refresh here, then fence the other replicas."""
        t_commit = time.monotonic()
        if self.started:
            try:
                self.refresh()
            except Exception:
                log.exception("refreshing the release cache after generation %d failed", committed.generation)
        if self.announce is not None:
            try:
                self.announce(committed.generation)
            except Exception:  # best effort: the others' polls and leases do not depend on it
                log.exception("announcing generation %d failed", committed.generation)
        wait = t_commit + self.fence_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def _watch(self) -> None:
        conn: Any = None
        failures = 0
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = self._watch_connection()
                if self.db.is_sqlite:
                    self._wake.wait(self.poll_s)
                    self._wake.clear()
                else:
                    for _ in conn.notifies(timeout=self.poll_s, stop_after=1):
                        pass
                if self._stop.is_set():
                    break
                self.refresh(lambda c=conn: int(c.execute(GENERATION_SQL).fetchone()[0]))
                failures = 0
            except Exception as e:
                if failures == 0:
                    log.warning("release cache watcher: %s (retrying; update checks refresh themselves or "
                                "answer 503 meanwhile)", e)
                failures += 1
                if conn is not None:
                    with contextlib.suppress(Exception):  # already broken
                        conn.close()
                    conn = None
                self._stop.wait(min(1.0, self.poll_s * 2 ** min(failures, 6)))
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _watch_connection(self) -> Any:
        """The watcher's own autocommit connection: each generation read sees every earlier commit."""
        if self.db.is_sqlite:
            import sqlite3

            path = self.db.read_engine.url.database or ""
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5)
            conn.execute("PRAGMA query_only=ON")
            return conn
        import psycopg

        url = self.db.write_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    # ---- loading -------------------------------------------------------------------------------------

    def _apply(self, conn: Connection, gen: int) -> None:
        from minibox.platform.release.models import ReleaseChange

        if self.generation < 0 or gen < self.generation:
            self._load_all(conn)
            return
        rows = conn.execute(select(ReleaseChange.generation, ReleaseChange.app_pk, ReleaseChange.host_pk)
                            .where(ReleaseChange.generation > self.generation,
                                   ReleaseChange.generation <= gen)).all()
        if len({r.generation for r in rows}) != gen - self.generation or \
                any(r.app_pk is None and r.host_pk is None for r in rows):
            self._load_all(conn)  # pruned change rows, or a change of everything
            return
        st = self.state
        hosts = {r.host_pk for r in rows if r.host_pk is not None}
        apps = {r.app_pk for r in rows if r.app_pk is not None}
        if hosts:
            self._load_hosts(conn, st, hosts)
        if apps:
            self._load_apps(conn, st, apps)

    def _load_all(self, conn: Connection) -> None:
        st = _State()
        self._load_hosts(conn, st, None)
        self._load_apps(conn, st, None)
        self.state = st

    def _load_hosts(self, conn: Connection, st: _State, pks: set[int] | None) -> None:
        from minibox.platform.hosts.models import Host

        cols = select(Host.id, Host.org_id, Host.host_id, Host.key_fingerprint, Host.api_key_hash, Host.revoked_at)
        batches = [cols] if pks is None else [cols.where(Host.id.in_(chunk)) for chunk in _chunks(pks)]
        seen: set[int] = set()
        for stmt in batches:
            for r in conn.execute(stmt):
                h = HostSnap(r.id, r.org_id, r.host_id, r.key_fingerprint, r.api_key_hash, r.revoked_at is not None)
                old = st.hosts_by_pk.get(h.pk)
                if old is not None and old.api_key_hash != h.api_key_hash:
                    st.hosts.pop(old.api_key_hash, None)
                st.hosts[h.api_key_hash] = h
                st.hosts_by_pk[h.pk] = h
                seen.add(h.pk)
        for pk in (pks or set()) - seen:  # deleted
            old = st.hosts_by_pk.pop(pk, None)
            if old is not None:
                st.hosts.pop(old.api_key_hash, None)

    def _load_apps(self, conn: Connection, st: _State, pks: set[int] | None) -> None:
        from minibox.platform.apps.models import App, Version
        from minibox.platform.hosts.models import HostApp
        from minibox.platform.release.models import HostPackage, Release

        chunks: list[list[int] | None] = [None] if pks is None else list(_chunks(pks))
        for chunk in chunks:
            def where(stmt: Any, col: Any, chunk: list[int] | None = chunk) -> Any:
                return stmt if chunk is None else stmt.where(col.in_(chunk))

            apps = conn.execute(where(select(App.id, App.org_id, App.app_id, App.gray_salt, App.taken_down_at),
                                      App.id)).all()
            grants: dict[int, set[int]] = {}
            for r in conn.execute(where(select(HostApp.host_pk, HostApp.app_pk), HostApp.app_pk)):
                grants.setdefault(r.app_pk, set()).add(r.host_pk)
            releases: dict[int, list[ReleaseSnap]] = {}
            rel_stmt = (select(Release.id, Release.app_pk, Release.sequence, Release.kind, Release.build,
                               Release.version_id, Release.rules, Release.allowlist, Version.version)
                        .join(Version, Version.id == Release.version_id).where(Release.active.is_(True)))
            for r in conn.execute(where(rel_stmt, Release.app_pk)):
                rule = Rule(r.rules) if r.kind == GRAY and r.rules else None
                releases.setdefault(r.app_pk, []).append(ReleaseSnap(
                    r.id, r.sequence, r.kind, r.build, r.version_id, r.version, rule, r.allowlist))
            pkg_stmt = (select(HostPackage.version_id, HostPackage.build, HostPackage.host_pk,
                               HostPackage.key_fingerprint, HostPackage.sha256, HostPackage.size)
                        .join(Release, (Release.version_id == HostPackage.version_id)
                              & (Release.build == HostPackage.build))
                        .where(Release.active.is_(True)))
            for r in conn.execute(where(pkg_stmt, Release.app_pk)):
                st.packages[(r.version_id, r.build, r.host_pk, r.key_fingerprint)] = (r.sha256, r.size)
            seen: set[int] = set()
            for r in apps:
                snap = AppSnap(r.id, r.org_id, r.app_id, r.gray_salt, r.taken_down_at is not None,
                               frozenset(grants.get(r.id, ())),
                               tuple(sorted(releases.get(r.id, ()), key=lambda x: -x.sequence)))
                old = st.apps_by_pk.get(snap.pk)
                if old is not None and (old.org_id, old.app_id) != (snap.org_id, snap.app_id):
                    st.apps.pop((old.org_id, old.app_id), None)
                st.apps[(snap.org_id, snap.app_id)] = snap
                st.apps_by_pk[snap.pk] = snap
                seen.add(snap.pk)
            for pk in set(chunk or ()) - seen:  # deleted
                old = st.apps_by_pk.pop(pk, None)
                if old is not None:
                    st.apps.pop((old.org_id, old.app_id), None)

    # ---- the update check ----------------------------------------------------------------------------

    def remember_package(self, version_id: int, build: int, host_pk: int, fpr: str, sha256: str, size: int) -> None:
        self.state.packages[(version_id, build, host_pk, fpr)] = (sha256, size)

    def answer(self, api_key: str | None, host_id: str, app_id: str, *, user_id: str, region: str | None,
               tags: frozenset[str] | set[str], now: datetime | None = None) -> dict[str, Any] | None:
        """The signed answer from the snapshot, an error as the database path would raise it, or None when
        the snapshot cannot answer (lease lapsed, package not built yet): then take the slow path."""
        fresh_since = self.fresh_since
        if time.monotonic() - fresh_since > self.lease_s:
            return None
        st = self.state
        host = None
        if api_key and api_key.startswith(HOST_KEY_PREFIX) and len(api_key) <= 100:
            host = st.hosts.get(key_hash(api_key))
        if host is None or host.revoked or host.host_id != host_id:
            raise Unauthenticated("unknown, revoked or mismatched host key", code="bad_host_key")
        app = st.apps.get((host.org_id, app_id))
        if app is None:
            raise NotFound(f"no release of {app_id!r}", code="no_release")
        if host.pk not in app.hosts:
            raise Forbidden(f"host {host.host_id} may not run {app_id!r}", code="app_not_allowed")
        if app.taken_down:
            raise Gone(f"{app_id!r} was taken down", code="taken_down")
        now = now or datetime.now(UTC)
        chosen = None
        for rel in app.releases:
            if rel.kind != GRAY or (rel.rule is not None and rel.rule.matches(
                    salt=app.gray_salt, app_id=app.app_id, host_id=host.host_id, user_id=user_id, region=region,
                    tags=tags, now=now)):
                chosen = rel
                break
        if chosen is None:
            raise NotFound(f"no release of {app_id!r}", code="no_release")
        pkg = st.packages.get((chosen.version_id, chosen.build, host.pk, host.key_fingerprint))
        if pkg is None:
            return None
        body = {"app_id": app.app_id, "version": chosen.version, "build": chosen.build,
                "release": {"id": chosen.id, "sequence": chosen.sequence, "kind": chosen.kind},
                "package": {"url": f"/api/v1/packages/{pkg[0]}.mbx", "sha256": pkg[0], "size": pkg[1]},
                "allowlist": chosen.allowlist, "host_id": host_id, "user_id": user_id}
        signed = sign_answer(self.signer, body, now)
        if time.monotonic() - fresh_since > self.lease_s:
            return None  # the lease lapsed while deciding: never hand out an answer it does not cover
        if self.seen is not None:  # for the grayscale rule preview (a queue append)
            self.seen.record(app.pk, app.gray_salt, app.app_id, user_id, host.host_id, region, tags)
        return signed
