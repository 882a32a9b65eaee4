"""Tables of the privacy domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from minibox.platform.db import Base, utcnow


class DeletionOrder(Base):
    """Delete what `app_id` (or every app, when None) holds about `user_id` on every host."""

    __tablename__ = "deletion_orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    app_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DeletionAck(Base):
    """A host carried out an order (with counts of what it deleted, never the data)."""

    __tablename__ = "deletion_acks"
    order_id: Mapped[int] = mapped_column(ForeignKey("deletion_orders.id"), primary_key=True)
    host_pk: Mapped[int] = mapped_column(ForeignKey("hosts.id"), primary_key=True)
    acked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
