"""Database engines, sessions and migrations (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

#: Seconds a SQLite writer waits for the write lock before failing.
SQLITE_BUSY_TIMEOUT_S = 30
#: Connections per replica for PostgreSQL.
PG_POOL_SIZE = 10

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    """Declarative base of every platform table."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they were stored as UTC."""
    if dt is None or dt.tzinfo is not None:
        return dt
    return dt.replace(tzinfo=UTC)


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front, so two writers never deadlock on a lock upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """A write engine and a read engine on one database; `write()` commits, `read()` never does."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.write_engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
        else:
            self.write_engine = create_engine(url, pool_size=PG_POOL_SIZE, max_overflow=PG_POOL_SIZE,
                                              pool_pre_ping=True)
            self.read_engine = self.write_engine
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)
        #: Called after a write transaction that bumped the release generation has committed, with a
        #: `release.generation.Committed` (the replica's release cache refreshes itself there).
        self.commit_hooks: list[Callable[[Any], None]] = []
        #: Called by `dispose()` (background watchers stop there).
        self.dispose_hooks: list[Callable[[], None]] = []
        from minibox.platform.release.generation import track

        track(self._write)

    @contextmanager
    def write(self) -> Iterator[Session]:
        from minibox.platform.release.generation import COMMITTED

        with self._write() as s:
            with s.begin():
                yield s
            committed = s.info.pop(COMMITTED, None)
        if committed is not None:
            for hook in list(self.commit_hooks):
                hook(committed)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as s:  # close() ends the transaction; loaded objects stay readable
            yield s

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.write_engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()

    def dispose(self) -> None:
        for hook in list(self.dispose_hooks):
            hook()
        self.write_engine.dispose()
        self.read_engine.dispose()


def import_models() -> None:
    """Import every domain's models so `Base.metadata` knows all tables."""
    from minibox.platform.accounts import models as _a  # noqa: F401
    from minibox.platform.apps import models as _p  # noqa: F401
    from minibox.platform.audit import models as _u  # noqa: F401
    from minibox.platform.hosts import models as _h  # noqa: F401
    from minibox.platform.privacy import models as _d  # noqa: F401
    from minibox.platform.release import models as _r  # noqa: F401
    from minibox.platform.release import seen as _n  # noqa: F401
    from minibox.platform.review import models as _v  # noqa: F401
    from minibox.platform.supplychain import models as _s  # noqa: F401
    from minibox.platform.telemetry import models as _t  # noqa: F401
