"""The release generation: every committed change to what an update check answers bumps it.

Installed on each `Database`'s write sessions, so no service has to remember it: after a flush the
changed apps, releases, grants and hosts are noted; just before the commit one row lock on
`release_generation` is taken, the counter is bumped, the changed app and host keys are appended to
`release_changes` and, on PostgreSQL, `NOTIFY minibox_release` is queued (delivered at commit). The row
lock orders these transactions, so the generations a replica reads are complete up to the one it sees.
After the commit `Database.write()` hands the new generation to its commit hooks (the replica's
`ReleaseCache`, which refreshes itself and waits out the lease of the other replicas).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session, sessionmaker

#: PostgreSQL channel that carries new generations to the other replicas.
CHANNEL = "minibox_release"
#: Session.info keys.
PENDING = "mb_release_pending"
COMMITTED = "mb_release_committed"
#: Change rows older than this many generations are pruned (a replica further behind reloads everything).
KEEP_GENERATIONS = 10_000


@dataclass
class Changes:
    apps: set[int] = field(default_factory=set)
    hosts: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.apps or self.hosts)


@dataclass(frozen=True)
class Committed:
    generation: int
    apps: frozenset[int]
    hosts: frozenset[int]


def _note(changes: Changes, obj: Any) -> None:
    from minibox.platform.apps.models import App
    from minibox.platform.hosts.models import Host, HostApp
    from minibox.platform.release.models import Release

    if isinstance(obj, App):
        changes.apps.add(obj.id)
    elif isinstance(obj, Release | HostApp):
        changes.apps.add(obj.app_pk)
    elif isinstance(obj, Host):
        changes.hosts.add(obj.id)


def _after_flush(session: Session, _ctx: Any) -> None:
    changes = session.info.setdefault(PENDING, Changes())
    for obj in session.new:
        _note(changes, obj)
    for obj in session.deleted:
        _note(changes, obj)
    for obj in session.dirty:
        if session.is_modified(obj, include_collections=False):
            _note(changes, obj)


def bump(session: Session, changes: Changes) -> int:
    """Bump the generation and log `changes` under it, in the session's transaction."""
    from minibox.platform.release.models import ReleaseChange

    session.execute(text("UPDATE release_generation SET value = value + 1 WHERE id = 1"))
    gen = int(session.execute(text("SELECT value FROM release_generation WHERE id = 1")).scalar_one())
    rows = [{"generation": gen, "app_pk": a, "host_pk": None} for a in sorted(changes.apps) if a is not None]
    rows += [{"generation": gen, "app_pk": None, "host_pk": h} for h in sorted(changes.hosts) if h is not None]
    if not rows:
        rows = [{"generation": gen, "app_pk": None, "host_pk": None}]
    session.execute(insert(ReleaseChange), rows)
    if gen % 1000 == 0:
        session.execute(text("DELETE FROM release_changes WHERE generation <= :g"), {"g": gen - KEEP_GENERATIONS})
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:c, :g)"), {"c": CHANNEL, "g": str(gen)})
    return gen


def _before_commit(session: Session) -> None:
    session.flush()  # the commit's own flush comes after this event: note its changes now
    changes = session.info.pop(PENDING, None)
    if changes:
        gen = bump(session, changes)
        session.info[COMMITTED] = Committed(gen, frozenset(changes.apps), frozenset(changes.hosts))


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(COMMITTED, None)


def track(factory: sessionmaker[Session]) -> None:
    """Bump the generation in every transaction of `factory`'s sessions that changes an answer."""
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_soft_rollback", lambda s, _prev: _after_rollback(s))
