"""Tables of the release domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from minibox.platform.db import Base, utcnow


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (Index("ix_releases_app_active", "app_pk", "active"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_pk: Mapped[int] = mapped_column(ForeignKey("apps.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    #: Build number of this release's packages: the version's build, or for a rollback a new, higher one
    #: (containers refuse lower builds, so a rollback ships old content under a new build, PKG-05).
    build: Mapped[int] = mapped_column(Integer)
    #: full | gray | rollback
    kind: Mapped[str] = mapped_column(String(16))
    rules: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: The app's allowlist when released: what the container enforces for this release.
    allowlist: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sequence: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: A grayscale release's rollout guard (`release.guard`): thresholds and the baseline version.
    guard: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    #: The guard's last verdict and figures; written by the evaluator with Core updates (no generation bump).
    guard_state: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    guard_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class HostPackage(Base):
    """A version's package signed by the platform and encrypted for one host key."""

    __tablename__ = "host_packages"
    __table_args__ = (UniqueConstraint("version_id", "build", "host_pk", "key_fingerprint"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    build: Mapped[int] = mapped_column(Integer)
    host_pk: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReleaseGeneration(Base):
    """One row (id 1): a counter bumped in the same transaction as every change to what an update check
    answers (apps, releases, hosts, grants). Its row lock orders those transactions, so generation order
    is commit order; replicas compare it with the generation of their in-memory snapshot."""

    __tablename__ = "release_generation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ReleaseChange(Base):
    """What one generation changed: an app (its releases, grants, takedown) or a host (keys, revocation).
    Replicas reload only these; a gap in the generations they read makes them reload everything."""

    __tablename__ = "release_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, index=True)
    app_pk: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host_pk: Mapped[int | None] = mapped_column(Integer, nullable=True)
