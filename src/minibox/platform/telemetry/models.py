"""Tables of the telemetry domain: raw events (pruned by age) and the rollups dashboards read.

Time buckets are integers: hours or days since the Unix epoch (UTC), so range filters are integer
comparisons on both databases. Rollups are additive (sums per key), so a dashboard range is a
`SUM ... GROUP BY` over at most (days x versions x hosts) daily rows plus the hourly rows of its
two ragged ends, whatever the number of events behind them. Active users are HyperLogLog sketches per (app, version, day),
merged by register-wise max (about 1.6% error; exact for small counts by linear counting).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from minibox.platform.db import Base, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class TelemetryAppSalt(Base):
    """The platform's per-app salt that re-keys the hosts' pseudonyms (never leaves the platform)."""

    __tablename__ = "telemetry_app_salts"
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"), primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TelemetryBatch(Base):
    """Batch ids already stored: a replayed batch is answered `duplicate` and stored no second time."""

    __tablename__ = "telemetry_batches"
    batch_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host_pk: Mapped[int] = mapped_column(ForeignKey("hosts.id"), index=True)
    events: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class TelemetryEvent(Base):
    """One raw event as received (pseudonym re-keyed), kept `retention_days`."""

    __tablename__ = "telemetry_events"
    __table_args__ = (Index("ix_telemetry_events_app_ts", "app_pk", "ts"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    host_pk: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    version: Mapped[str] = mapped_column(String(32))
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    user: Mapped[str] = mapped_column(String(32))
    session: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class TelemetryCounters(Base):
    """Additive counters per app, version, host and period: `grain` 1 (period = hour since the
    epoch) or 24 (period = day). Ingest adds to both rows; a range reads whole days from the daily
    rows and only its ragged ends from the hourly ones."""

    __tablename__ = "telemetry_counters"
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"), primary_key=True)
    grain: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    host_pk: Mapped[int] = mapped_column(ForeignKey("hosts.id"), primary_key=True)
    events: Mapped[int] = mapped_column(Integer, default=0)
    launches: Mapped[int] = mapped_column(Integer, default=0)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    error_sessions: Mapped[int] = mapped_column(Integer, default=0)
    crashed_sessions: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    page_views: Mapped[int] = mapped_column(Integer, default=0)
    stay_ms: Mapped[int] = mapped_column(BigId, default=0)
    setdata_count: Mapped[int] = mapped_column(Integer, default=0)
    setdata_bytes: Mapped[int] = mapped_column(BigId, default=0)
    setdata_ms: Mapped[int] = mapped_column(BigId, default=0)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    payments_ok: Mapped[int] = mapped_column(Integer, default=0)
    payments_failed: Mapped[int] = mapped_column(Integer, default=0)
    custom_events: Mapped[int] = mapped_column(Integer, default=0)


class TelemetryLaunchHist(Base):
    """Launch-to-first-render times as counts per fixed bucket (`service.LAUNCH_BUCKETS_MS`), per
    app, version and period (hour or day, as in `TelemetryCounters`)."""

    __tablename__ = "telemetry_launch_hist"
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"), primary_key=True)
    grain: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class TelemetryApiDaily(Base):
    __tablename__ = "telemetry_api_daily"
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    api: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(8), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class TelemetryUsersDaily(Base):
    __tablename__ = "telemetry_users_daily"
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    hll: Mapped[bytes] = mapped_column(LargeBinary)


class TelemetryErrorGroup(Base):
    """One error (message and first frame of the mini-program's own code) of an app."""

    __tablename__ = "telemetry_error_groups"
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(300))
    stack: Mapped[list[str]] = mapped_column(JSON)
    first_version: Mapped[str] = mapped_column(String(32))
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TelemetryErrorDaily(Base):
    __tablename__ = "telemetry_error_daily"
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
