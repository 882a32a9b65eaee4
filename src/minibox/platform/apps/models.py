"""Tables of the apps domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from minibox.platform.db import Base, utcnow


class App(Base):
    __tablename__ = "apps"
    __table_args__ = (UniqueConstraint("org_id", "app_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    app_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Salt of the grayscale bucket hash; fixed for the app's life so widening a rule keeps users in.
    gray_salt: Mapped[str] = mapped_column(String(32))
    allowlist: Mapped[dict[str, Any]] = mapped_column(JSON)
    taken_down_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    takedown_reason: Mapped[str] = mapped_column(Text, default="")
    #: Code protection of new uploads (an upload may say otherwise): hosts get the minified logic.js.
    code_protection: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AppMember(Base):
    __tablename__ = "app_members"
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("app_pk", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"), index=True)
    version: Mapped[str] = mapped_column(String(32))
    build: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    #: checked | check_failed | submitted | approved | rejected
    status: Mapped[str] = mapped_column(String(16))
    source_kind: Mapped[str] = mapped_column(String(16))
    bundle_sha256: Mapped[str] = mapped_column(String(64))
    bundle_size: Mapped[int] = mapped_column(Integer)
    #: The uploaded source archive (source uploads), kept so reviewers read what the developer wrote.
    source_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Code protection: the bundle hosts get (logic.js minified) and its private source maps; both
    #: derived by the platform from `bundle_sha256` at upload. None: hosts get `bundle_sha256`.
    protected_bundle_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sourcemap_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
