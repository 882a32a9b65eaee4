"""Tables of the hosts domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from minibox.platform.db import Base, utcnow


class Host(Base):
    __tablename__ = "hosts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    host_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    #: X25519 public key (base64) packages are encrypted to.
    public_key: Mapped[str] = mapped_column(String(64))
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the API key; the key itself is shown once (MGT-10).
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HostApp(Base):
    """Host `host_pk` may run app `app_pk`."""

    __tablename__ = "host_apps"
    host_pk: Mapped[int] = mapped_column(ForeignKey("hosts.id"), primary_key=True)
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"), primary_key=True)
