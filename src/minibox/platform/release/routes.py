"""HTTP routes of the release domain (operators)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from minibox.platform.apps.models import Version
from minibox.platform.apps.routes import AppId, PlainText, app_json
from minibox.platform.context import Ctx, Principal
from minibox.platform.deps import PlatformDep, requires
from minibox.platform.release import service
from minibox.platform.release.models import Release

router = APIRouter(prefix="/api/v1", tags=["release"])

ReleaseId = Annotated[int, Path(ge=1, le=2**31 - 1)]
VersionField = Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$")]
Note = Annotated[str, Field(max_length=500, pattern=PlainText)]
Value = Annotated[str, Field(max_length=128, pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]


class Rules(BaseModel):
    percentage: Annotated[float | None, Field(ge=0, le=100)] = None
    users: Annotated[list[Value], Field(max_length=10_000)] = []
    hosts: Annotated[list[Value], Field(max_length=200)] = []
    regions: Annotated[list[Value], Field(max_length=200)] = []
    tags: Annotated[list[Value], Field(max_length=200)] = []
    start: Annotated[str | None, Field(max_length=40, pattern=PlainText)] = None
    end: Annotated[str | None, Field(max_length=40, pattern=PlainText)] = None


class Guard(BaseModel):
    """A grayscale release's rollout guard: the release stops itself when, over at least `min_sessions`
    sessions since it started, its error rate exceeds `max_error_ratio` x the full release's or its
    crash-free share falls below `min_crash_free`."""

    model_config = ConfigDict(extra="forbid")
    max_error_ratio: Annotated[float, Field(ge=1, le=100)] = 1.5
    min_crash_free: Annotated[float, Field(ge=0, le=1)] = 0.995
    min_sessions: Annotated[int, Field(ge=1, le=100_000_000)] = 500


class ReleaseIn(BaseModel):
    version: VersionField
    rules: Rules | None = None
    note: Note = ""
    guard: Guard | None = None


class RollbackIn(BaseModel):
    version: VersionField
    note: Note = ""


class TakedownIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=PlainText)]


def release_json(r: Release, v: Version) -> dict[str, Any]:
    return {"id": r.id, "version": v.version, "build": r.build, "kind": r.kind, "rules": r.rules,
            "active": r.active, "sequence": r.sequence, "note": r.note, "allowlist": r.allowlist,
            "created_at": r.created_at.isoformat(), "ended_at": r.ended_at.isoformat() if r.ended_at else None,
            "guard": r.guard, "guard_state": r.guard_state}


def _rules(body: Rules | None) -> dict[str, Any] | None:
    return None if body is None else body.model_dump(exclude_none=True, exclude_defaults=True)


@router.get("/apps/{app_id}/releases", summary="Release history of the app")
def list_releases(app_id: AppId, p: Annotated[Principal, requires("releases.read")],
                  platform: PlatformDep) -> list[dict[str, Any]]:
    with platform.db.read() as s:
        return [release_json(r, v) for r, v in service.list_releases(Ctx(s, platform, p), app_id)]


@router.post("/apps/{app_id}/releases", status_code=201,
             summary="Release an approved version: in full, or to a grayscale rule")
def create_release(app_id: AppId, body: ReleaseIn, p: Annotated[Principal, requires("releases.manage")],
                   platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        ctx = Ctx(s, platform, p)
        r = service.release(ctx, app_id, body.version, rules=_rules(body.rules), note=body.note,
                            guard=body.guard.model_dump() if body.guard is not None else None)
        v = s.get(Version, r.version_id)
        assert v is not None
        out = release_json(r, v)
    service.prebuild_packages(platform, r.id)
    return out


@router.post("/apps/{app_id}/releases/{release_id}/stop", summary="End an active (grayscale) release")
def stop_release(app_id: AppId, release_id: ReleaseId, p: Annotated[Principal, requires("releases.manage")],
                 platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        r = service.stop(Ctx(s, platform, p), app_id, release_id)
        v = s.get(Version, r.version_id)
        assert v is not None
        out = release_json(r, v)
        current = [x for x, _v in service.list_releases(Ctx(s, platform, p), app_id) if x.active]
    for x in current:
        service.prebuild_packages(platform, x.id)
    return out


@router.post("/apps/{app_id}/rollback", status_code=201, summary="Roll back to an earlier approved version")
def rollback(app_id: AppId, body: RollbackIn, p: Annotated[Principal, requires("releases.manage")],
             platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        r = service.rollback(Ctx(s, platform, p), app_id, body.version, body.note)
        v = s.get(Version, r.version_id)
        assert v is not None
        out = release_json(r, v)
    service.prebuild_packages(platform, r.id)
    return out


@router.post("/apps/{app_id}/takedown", summary="Take the app down (effective at the next update check)")
def takedown(app_id: AppId, body: TakedownIn, p: Annotated[Principal, requires("releases.manage")],
             platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        return app_json(service.takedown(Ctx(s, platform, p), app_id, body.reason))


class PreviewIn(BaseModel):
    rules: Rules


@router.post("/apps/{app_id}/releases/preview",
             summary="How many of the app's last users seen a grayscale rule would reach (nothing changes)")
def preview_rule(app_id: AppId, body: PreviewIn, p: Annotated[Principal, requires("releases.read")],
                 platform: PlatformDep) -> dict[str, Any]:
    from minibox.platform.apps import service as apps
    from minibox.platform.release.grayscale import validate_rules
    from minibox.platform.release.seen import preview

    rules = validate_rules(_rules(body.rules) or {})
    with platform.db.read() as s:
        app = apps.get_app(Ctx(s, platform, p), app_id)
        return preview(s, app.id, app.gray_salt, rules)
