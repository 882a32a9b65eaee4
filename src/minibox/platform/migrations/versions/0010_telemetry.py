"""Telemetry from hosts: batches seen, raw events, hourly and daily rollups, per-app salts (issue 11)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _app() -> sa.Column:
    return sa.Column("app_pk", sa.Integer(), sa.ForeignKey("apps.id"), nullable=False)


def _host() -> sa.Column:
    return sa.Column("host_pk", sa.Integer(), sa.ForeignKey("hosts.id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "telemetry_app_salts", _app(),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("app_pk"))
    op.create_table(
        "telemetry_batches",
        sa.Column("batch_id", sa.String(length=32), nullable=False), _host(),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("batch_id"))
    op.create_index("ix_telemetry_batches_host_pk", "telemetry_batches", ["host_pk"])
    op.create_index("ix_telemetry_batches_received_at", "telemetry_batches", ["received_at"])
    op.create_table(
        "telemetry_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False), _app(), _host(),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("user", sa.String(length=32), nullable=False),
        sa.Column("session", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_telemetry_events_app_ts", "telemetry_events", ["app_pk", "ts"])
    op.create_index("ix_telemetry_events_received_at", "telemetry_events", ["received_at"])
    counters = ["events", "launches", "sessions", "error_sessions", "crashed_sessions", "errors", "page_views",
                "stay_ms", "setdata_count", "setdata_bytes", "setdata_ms", "api_calls", "payments_ok",
                "payments_failed", "custom_events"]
    big = {"stay_ms", "setdata_bytes", "setdata_ms"}
    op.create_table(
        "telemetry_counters", _app(), sa.Column("grain", sa.Integer(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False), sa.Column("version", sa.String(length=32), nullable=False),
        _host(), *[sa.Column(c, BigId if c in big else sa.Integer(), nullable=False) for c in counters],
        sa.PrimaryKeyConstraint("app_pk", "grain", "period", "version", "host_pk"))
    op.create_table(
        "telemetry_launch_hist", _app(), sa.Column("grain", sa.Integer(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False), sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False), sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("app_pk", "grain", "period", "version", "bucket"))
    op.create_table(
        "telemetry_api_daily", _app(), sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False), sa.Column("api", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False), sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("app_pk", "version", "day", "api", "outcome"))
    op.create_table(
        "telemetry_users_daily", _app(), sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False), sa.Column("hll", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("app_pk", "version", "day"))
    op.create_table(
        "telemetry_error_groups", _app(), sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False), sa.Column("message", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=False), sa.Column("stack", sa.JSON(), nullable=False),
        sa.Column("first_version", sa.String(length=32), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("app_pk", "fingerprint"))
    op.create_table(
        "telemetry_error_daily", _app(), sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False), sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("app_pk", "version", "day", "fingerprint"))


def downgrade() -> None:
    for name in ("telemetry_error_daily", "telemetry_error_groups", "telemetry_users_daily", "telemetry_api_daily",
                 "telemetry_launch_hist", "telemetry_counters"):
        op.drop_table(name)
    op.drop_index("ix_telemetry_events_received_at", table_name="telemetry_events")
    op.drop_index("ix_telemetry_events_app_ts", table_name="telemetry_events")
    op.drop_table("telemetry_events")
    op.drop_index("ix_telemetry_batches_received_at", table_name="telemetry_batches")
    op.drop_index("ix_telemetry_batches_host_pk", table_name="telemetry_batches")
    op.drop_table("telemetry_batches")
    op.drop_table("telemetry_app_salts")
