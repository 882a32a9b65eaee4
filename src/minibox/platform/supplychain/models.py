"""Tables of the supply-chain domain: the advisories an organisation imported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from minibox.platform.db import Base, utcnow


class Advisory(Base):
    __tablename__ = "advisories"
    __table_args__ = (UniqueConstraint("org_id", "osv_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    osv_id: Mapped[str] = mapped_column(String(128))
    modified: Mapped[str] = mapped_column(String(40), default="")
    #: critical | high | moderate | low | unknown
    severity: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AdvisoryPackage(Base):
    """One npm package name an advisory affects (the index the matcher queries)."""

    __tablename__ = "advisory_packages"
    advisory_pk: Mapped[int] = mapped_column(ForeignKey("advisories.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(214), primary_key=True, index=True)
