"""Users the update check has seen, per app, for the grayscale rule preview ("this rule reaches N of
the last M users seen").

Only what a rule can test is kept: a keyed hash of the user id (HMAC with the app's grayscale salt,
so ids are never stored and two apps' users cannot be joined), the user's stable bucket, the host,
region and tags, and when. The hot path only appends to a bounded in-memory queue; a background
thread writes the queue in batches (one row per app and user, the latest sighting).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from minibox.platform.db import Base, Database
from minibox.platform.release.grayscale import BUCKETS, Rule, bucket

#: Sightings waiting to be written (the oldest are dropped beyond this: the preview is a sample).
MAX_PENDING = 50_000
#: How often the queue is written.
FLUSH_S = 2.0
#: How many of an app's most recent users a preview looks at.
PREVIEW_SAMPLE = 10_000
#: Sightings older than this are forgotten.
RETENTION = timedelta(days=30)


class SeenUser(Base):
    __tablename__ = "seen_users"
    __table_args__ = (Index("ix_seen_users_app_seen", "app_pk", "seen_at"),)
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    user_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer)
    host_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(128), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def user_key(salt: str, user_id: str) -> str:
    return hmac.new(salt.encode(), user_id.encode(), hashlib.sha256).hexdigest()


class SeenUsers:
    """The recorder of one replica."""

    def __init__(self, db: Database, *, flush_s: float = FLUSH_S) -> None:
        self.db = db
        self.flush_s = flush_s
        self._pending: deque[dict[str, Any]] = deque(maxlen=MAX_PENDING)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._last_prune = 0.0
        db.dispose_hooks.append(self.stop)

    def record(self, app_pk: int, salt: str, app_id: str, user_id: str, host_id: str, region: str | None,
               tags: Any) -> None:
        """On the hot path: a queue append (and the background writer started once)."""
        if not user_id:
            return
        self._pending.append({"app_pk": app_pk, "user_key": user_key(salt, user_id),
                              "bucket": bucket(salt, app_id, user_id), "host_id": host_id[:64],
                              "region": region, "tags": sorted(tags)[:50], "seen_at": datetime.now(UTC)})
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="minibox-seen-users", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            try:
                self.flush()
            except Exception:
                continue

    def stop(self) -> None:
        self._stop.set()

    def flush(self) -> int:
        """Write the queued sightings (latest per app and user); returns how many rows were written."""
        latest: dict[tuple[int, str], dict[str, Any]] = {}
        while self._pending:
            try:
                row = self._pending.popleft()
            except IndexError:
                break
            latest[(row["app_pk"], row["user_key"])] = row
        if not latest:
            return 0
        engine = self.db.write_engine
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(SeenUser.__table__)
        stmt = stmt.on_conflict_do_update(
            index_elements=["app_pk", "user_key"],
            set_={k: getattr(stmt.excluded, k) for k in ("bucket", "host_id", "region", "tags", "seen_at")})
        with engine.begin() as conn:
            conn.execute(stmt, list(latest.values()))
            if time.monotonic() - self._last_prune > 3600:
                self._last_prune = time.monotonic()
                conn.execute(delete(SeenUser).where(SeenUser.seen_at < datetime.now(UTC) - RETENTION))
        return len(latest)


def preview(s: Any, app_pk: int, salt: str, rules: dict[str, Any], now: datetime | None = None,
            sample: int = PREVIEW_SAMPLE) -> dict[str, Any]:
    """How many of the app's last `sample` users seen a (validated) rule reaches."""
    now = now or datetime.now(UTC)
    rule = Rule(rules)
    listed = {user_key(salt, u) for u in rules.get("users", ())}
    rows = s.execute(select(SeenUser.user_key, SeenUser.bucket, SeenUser.host_id, SeenUser.region, SeenUser.tags,
                            SeenUser.seen_at).where(SeenUser.app_pk == app_pk)
                     .order_by(SeenUser.seen_at.desc()).limit(sample)).all()
    matched = 0
    for key, user_bucket, host_id, region, tags, _seen in rows:
        if rule.hosts is not None and host_id not in rule.hosts:
            continue
        if rule.regions is not None and region not in rule.regions:
            continue
        if rule.tags is not None and rule.tags.isdisjoint(tags or ()):
            continue
        if (rule.start is not None and now < rule.start) or (rule.end is not None and now >= rule.end):
            continue
        pct = rule.percentage
        if pct == -1.0 or key in listed or (pct and user_bucket < pct * BUCKETS / 100):
            matched += 1
    since = min((r[5] for r in rows), default=None)
    return {"matched": matched, "seen": len(rows), "since": since.isoformat() if since else None}
