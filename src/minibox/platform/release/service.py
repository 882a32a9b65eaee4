"""Releases (full, grayscale, rollback), takedown, the update check and per-host packages."""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from minibox.platform.apps import service as apps
from minibox.platform.apps.models import App, Version
from minibox.platform.context import Ctx, Platform
from minibox.platform.db import utcnow
from minibox.platform.errors import Conflict, Forbidden, Gone, NotFound, SeparationOfDuties, Unauthenticated
from minibox.platform.hosts import service as hosts
from minibox.platform.hosts.models import Host, HostApp
from minibox.platform.release.grayscale import matches, validate_rules
from minibox.platform.release.models import HostPackage, Release
from minibox.platform.review import service as review

log = logging.getLogger("minibox.platform.release")

FULL, GRAY, ROLLBACK = "full", "gray", "rollback"
MAX_TAGS = 20


def _releasable(ctx: Ctx, app_id: str, version: str) -> tuple[App, Version]:
    """An approved version whose exact bundle was approved, released by someone else (MGT-05)."""
    assert ctx.actor is not None
    app, v = apps.get_version(ctx, app_id, version)
    if v.status != apps.APPROVED:
        raise Conflict(f"version is {v.status}: only approved versions can be released", code="not_approved")
    approval = review.approver_of(ctx, v)
    if approval is None:
        raise Conflict("the approved bundle differs from the version's bundle", code="not_approved")
    if ctx.actor.user_id == v.uploaded_by:
        raise SeparationOfDuties("SoD: releaser must differ from uploader")
    if ctx.actor.user_id == approval.actor_id:
        raise SeparationOfDuties("SoD: releaser must differ from reviewer")
    return app, v


def _next(ctx: Ctx, app: App) -> tuple[int, int]:
    """(next sequence, highest build ever used by the app's versions and releases)."""
    seq = ctx.s.execute(select(func.max(Release.sequence)).where(Release.app_pk == app.id)).scalar() or 0
    top = max(ctx.s.execute(select(func.max(Release.build)).where(Release.app_pk == app.id)).scalar() or 0,
              ctx.s.execute(select(func.max(Version.build)).where(Version.app_pk == app.id)).scalar() or 0)
    return seq + 1, top


def _end_active(ctx: Ctx, app: App, kinds: tuple[str, ...] = (FULL, GRAY, ROLLBACK)) -> None:
    for r in ctx.s.execute(select(Release).where(Release.app_pk == app.id, Release.active.is_(True),
                                                 Release.kind.in_(kinds))).scalars():
        r.active, r.ended_at = False, utcnow()


def _released_build(ctx: Ctx, app: App, v: Version) -> int:
    top = ctx.s.execute(select(func.max(Release.build)).where(Release.app_pk == app.id)).scalar() or 0
    return v.build if v.build >= top else _next(ctx, app)[1] + 1


def release(ctx: Ctx, app_id: str, version: str, *, rules: dict[str, Any] | None, note: str,
            guard: dict[str, Any] | None = None) -> Release:
    """A full release (replaces everything) or, with `rules`, a grayscale release on top of it; a gray
    release may carry a rollout `guard` (`release.guard`), compared with the full release's version."""
    from minibox.platform.release.guard import InvalidGuard, baseline_version, validate_guard

    assert ctx.actor is not None
    app, v = _releasable(ctx, app_id, version)
    kind = GRAY if rules is not None else FULL
    checked = validate_rules(rules) if rules is not None else None
    if kind == GRAY and app.taken_down_at is not None:
        raise Conflict("the app is taken down: make a full release or a rollback first", code="taken_down")
    checked_guard = None
    if guard is not None:
        if kind != GRAY:
            raise InvalidGuard("a guard applies to grayscale releases only (give rules)", details={"field": "guard"})
        base = baseline_version(ctx.s, app.id)
        if base is None:
            raise Conflict("a guard compares with the full release: make a full release first", code="no_baseline")
        if base == v.version:
            raise InvalidGuard("a guard needs a version other than the full release's", details={"field": "guard"})
        checked_guard = {**validate_guard(guard), "baseline": base}
    seq, _top = _next(ctx, app)
    build = _released_build(ctx, app, v)
    if kind == FULL:
        _end_active(ctx, app)
        app.taken_down_at, app.takedown_reason = None, ""
    rel = Release(app_pk=app.id, version_id=v.id, build=build, kind=kind, rules=checked, allowlist=app.allowlist,
                  active=True, sequence=seq, note=note, created_by=ctx.actor.user_id, guard=checked_guard)
    ctx.s.add(rel)
    ctx.s.flush()
    ctx.audit(f"release.{kind}", f"app:{app_id}@{version}",
              {"release_id": rel.id, "sequence": seq, "build": build, "rules": checked,
               "bundle_sha256": v.bundle_sha256, "note": note,
               **({"protected_bundle_sha256": v.protected_bundle_sha256} if v.protected_bundle_sha256 else {}),
               **({"guard": checked_guard} if checked_guard else {})})
    return rel


def rollback(ctx: Ctx, app_id: str, version: str, note: str) -> Release:
    """Release an earlier approved version again, as a new release with a higher build (PKG-05)."""
    assert ctx.actor is not None
    app, v = _releasable(ctx, app_id, version)
    if ctx.s.execute(select(Release.id).where(Release.version_id == v.id)).first() is None:
        raise Conflict("only a version that was released before can be rolled back to", code="never_released")
    seq, top = _next(ctx, app)
    _end_active(ctx, app)
    app.taken_down_at, app.takedown_reason = None, ""
    rel = Release(app_pk=app.id, version_id=v.id, build=top + 1, kind=ROLLBACK, rules=None, allowlist=app.allowlist,
                  active=True, sequence=seq, note=note, created_by=ctx.actor.user_id)
    ctx.s.add(rel)
    ctx.s.flush()
    ctx.audit("release.rollback", f"app:{app_id}@{version}", {"release_id": rel.id, "sequence": seq,
                                                              "build": rel.build, "note": note})
    return rel


def stop(ctx: Ctx, app_id: str, release_id: int, *, why: dict[str, Any] | None = None) -> Release:
    """End one active release (typically a grayscale one). `why`: recorded in the audit entry (the
    rollout guard's figures and reasons when it stops a release by itself)."""
    app = apps.get_app(ctx, app_id)
    rel = ctx.s.get(Release, release_id)
    if rel is None or rel.app_pk != app.id:
        raise NotFound("no such release")
    if not rel.active:
        raise Conflict("release already ended", code="bad_state")
    rel.active, rel.ended_at = False, utcnow()
    ctx.audit("release.stop", f"app:{app_id}", {"release_id": release_id, **({"why": why} if why else {})})
    _reissue_base(ctx, app, rel)
    return rel


def _reissue_base(ctx: Ctx, app: App, stopped: Release) -> None:
    """Users of a stopped grayscale release return to the full release; containers refuse lower builds,
    so the full release is re-issued under a new, higher build (same reviewed version)."""
    assert ctx.actor is not None
    base = ctx.s.execute(select(Release).where(Release.app_pk == app.id, Release.active.is_(True),
                                               Release.kind.in_((FULL, ROLLBACK)))
                         .order_by(Release.sequence.desc())).scalars().first()
    if base is None or base.build >= stopped.build:
        return
    seq, top = _next(ctx, app)
    base.active, base.ended_at = False, utcnow()
    again = Release(app_pk=app.id, version_id=base.version_id, build=top + 1, kind=base.kind, rules=None,
                    allowlist=base.allowlist, active=True, sequence=seq,
                    note=f"re-issued after release {stopped.id} stopped", created_by=ctx.actor.user_id)
    ctx.s.add(again)
    ctx.s.flush()
    ctx.audit("release.reissue", f"app:{app.app_id}", {"release_id": again.id, "replaces": base.id,
                                                       "build": again.build})


def takedown(ctx: Ctx, app_id: str, reason: str) -> App:
    """Stop the app everywhere: the next update check answers 410."""
    app = apps.get_app(ctx, app_id)
    _end_active(ctx, app)
    app.taken_down_at, app.takedown_reason = utcnow(), reason
    ctx.audit("release.takedown", f"app:{app_id}", {"reason": reason})
    return app


def list_releases(ctx: Ctx, app_id: str) -> list[tuple[Release, Version]]:
    app = apps.get_app(ctx, app_id)
    return [(r, v) for r, v in ctx.s.execute(select(Release, Version).join(Version, Version.id == Release.version_id)
                                             .where(Release.app_pk == app.id).order_by(Release.sequence)).all()]


# ---- the update check (host-authenticated) -----------------------------------------------------------


@dataclass
class Decision:
    app: App
    release: Release
    version: Version
    host: Host


def authenticate_host(s: Session, api_key: str | None, host_id: str | None = None) -> Host:
    host = hosts.authenticate(s, api_key or "")
    if host is None or (host_id is not None and host.host_id != host_id):
        raise Unauthenticated("unknown, revoked or mismatched host key", code="bad_host_key")
    return host


def decide(s: Session, host: Host, app_id: str, *, user_id: str, region: str | None, tags: set[str],
           now: datetime | None = None) -> Decision:
    """Which release this (host, user) runs. Raises 404 no_release or 410 taken_down."""
    now = now or datetime.now(UTC)
    row = s.execute(select(App, HostApp.host_pk).outerjoin(
        HostApp, (HostApp.app_pk == App.id) & (HostApp.host_pk == host.id))
        .where(App.org_id == host.org_id, App.app_id == app_id)).first()
    if row is None:
        raise NotFound(f"no release of {app_id!r}", code="no_release")
    app, granted = row
    if granted is None:
        raise Forbidden(f"host {host.host_id} may not run {app_id!r}", code="app_not_allowed")
    if app.taken_down_at is not None:
        raise Gone(f"{app_id!r} was taken down", code="taken_down")
    chosen = None
    for rel, version in s.execute(select(Release, Version).join(Version, Version.id == Release.version_id)
                                  .where(Release.app_pk == app.id, Release.active.is_(True))
                                  .order_by(Release.sequence.desc())).all():
        if rel.kind != GRAY or (rel.rules and matches(rel.rules, salt=app.gray_salt, app_id=app.app_id,
                                                       host_id=host.host_id, user_id=user_id, region=region,
                                                       tags=tags, now=now)):
            chosen = (rel, version)
            break
    if chosen is None:
        raise NotFound(f"no release of {app_id!r}", code="no_release")
    return Decision(app, chosen[0], chosen[1], host)


def host_package(platform: Platform, d: Decision, s: Session | None = None) -> HostPackage:
    """The release's package signed and encrypted for the host's current key (built on first use)."""
    key = (d.version.id, d.release.build, d.host.id, d.host.key_fingerprint)
    if s is not None:
        found = _find_package(s, *key)
        if found is not None:
            return found
    data = _pack_for_host(platform, d)
    sha = platform.blobs.put(data)
    try:
        with platform.db.write() as s:
            s.add(HostPackage(version_id=key[0], build=key[1], host_pk=key[2], key_fingerprint=key[3], sha256=sha,
                              size=len(data)))
    except IntegrityError:
        pass  # another replica built it first
    with platform.db.read() as s:
        found = _find_package(s, *key)
    assert found is not None
    return found


def prebuild_packages(platform: Platform, release_id: int) -> int:
    """Build a new release's packages for every host that may run the app, so first checks are fast.
    Best effort: a failure here leaves the package to be built on the first update check."""
    with platform.db.read() as s:
        rel = s.get(Release, release_id)
        if rel is None:
            return 0
        app, version = s.get(App, rel.app_pk), s.get(Version, rel.version_id)
        targets = list(s.execute(select(Host).join(HostApp, HostApp.host_pk == Host.id)
                                 .where(HostApp.app_pk == rel.app_pk, Host.revoked_at.is_(None))).scalars())
    assert app is not None and version is not None
    built = 0
    for host in targets:
        try:
            host_package(platform, Decision(app, rel, version, host))
            built += 1
        except Exception:
            log.exception("prebuilding %s build %s for host %s failed", app.app_id, rel.build, host.host_id)
    return built


def _find_package(s: Session, version_id: int, build: int, host_pk: int, fpr: str) -> HostPackage | None:
    return s.execute(select(HostPackage).where(HostPackage.version_id == version_id, HostPackage.build == build,
                                               HostPackage.host_pk == host_pk, HostPackage.key_fingerprint == fpr)
                     ).scalar_one_or_none()


def _pack_for_host(platform: Platform, d: Decision) -> bytes:
    from minibox.platform import toolchain

    work = Path(tempfile.mkdtemp(prefix="mb-pack-"))
    try:
        # our own deterministic zip of the checked bundle, or of the protected bundle derived from it
        with zipfile.ZipFile(io.BytesIO(platform.blobs.get(apps.delivered_sha256(d.version)))) as zf:
            zf.extractall(work / "bundle")
        return toolchain.build_host_package(work / "bundle", app_id=d.app.app_id, version=d.version.version,
                                            build=d.release.build, signer=platform.package_signer,
                                            host_id=d.host.host_id, host_public_key=bytes.fromhex(d.host.public_key))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def update_answer(d: Decision, pkg: HostPackage) -> dict[str, Any]:
    return {"app_id": d.app.app_id, "version": d.version.version, "build": d.release.build,
            "release": {"id": d.release.id, "sequence": d.release.sequence, "kind": d.release.kind},
            "package": {"url": f"/api/v1/packages/{pkg.sha256}.mbx", "sha256": pkg.sha256, "size": pkg.size},
            "allowlist": d.release.allowlist}


def package_for_host(s: Session, host: Host, sha256: str) -> HostPackage:
    """A package the host may fetch: its own, of an active release of an app it may run."""
    rows = s.execute(select(HostPackage, App).join(Version, Version.id == HostPackage.version_id)
                     .join(App, App.id == Version.app_pk)
                     .join(HostApp, (HostApp.app_pk == App.id) & (HostApp.host_pk == host.id))
                     .join(Release, (Release.version_id == Version.id) & (Release.build == HostPackage.build))
                     .where(HostPackage.sha256 == sha256, HostPackage.host_pk == host.id,
                            Release.active.is_(True), App.taken_down_at.is_(None))).first()
    if rows is None:
        raise NotFound("no such package", code="no_package")
    return rows[0]
