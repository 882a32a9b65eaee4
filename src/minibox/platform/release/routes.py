"""HTTP routes of the release domain (operators)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

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


class ReleaseIn(BaseModel):
    version: VersionField
    rules: Rules | None = None
    note: Note = ""


class RollbackIn(BaseModel):
    version: VersionField
    note: Note = ""


class TakedownIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=PlainText)]


def release_json(r: Release, v: Version) -> dict[str, Any]:
    return {"id": r.id, "version": v.version, "build": r.build, "kind": r.kind, "rules": r.rules,
            "active": r.active, "sequence": r.sequence, "note": r.note, "allowlist": r.allowlist,
            "created_at": r.created_at.isoformat(), "ended_at": r.ended_at.isoformat() if r.ended_at else None}


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
        r = service.release(ctx, app_id, body.version, rules=_rules(body.rules), note=body.note)
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
