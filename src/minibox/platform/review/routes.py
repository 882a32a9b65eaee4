"""HTTP routes of the review domain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from minibox.platform.apps.routes import AppId, PlainText, VersionStr, version_json
from minibox.platform.context import Ctx, Principal
from minibox.platform.deps import PlatformDep, requires
from minibox.platform.review import service

router = APIRouter(prefix="/api/v1", tags=["review"])


class CommentIn(BaseModel):
    comment: Annotated[str, Field(max_length=4000, pattern=PlainText)] = ""


@router.post("/apps/{app_id}/versions/{version}/submit", summary="Submit a checked version for review")
def submit(app_id: AppId, version: VersionStr, body: CommentIn, p: Annotated[Principal, requires("versions.submit")],
           platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        return version_json(service.submit(Ctx(s, platform, p), app_id, version, body.comment))


@router.post("/apps/{app_id}/versions/{version}/approve", summary="Approve a submitted version")
def approve(app_id: AppId, version: VersionStr, body: CommentIn, p: Annotated[Principal, requires("review.decide")],
            platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        return version_json(service.decide(Ctx(s, platform, p), app_id, version, approve=True, comment=body.comment))


@router.post("/apps/{app_id}/versions/{version}/reject", summary="Reject a submitted version (comment required)")
def reject(app_id: AppId, version: VersionStr, body: CommentIn, p: Annotated[Principal, requires("review.decide")],
           platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        return version_json(service.decide(Ctx(s, platform, p), app_id, version, approve=False, comment=body.comment))


@router.get("/apps/{app_id}/versions/{version}/reviews", summary="Review history of a version")
def history(app_id: AppId, version: VersionStr, p: Annotated[Principal, requires("versions.read")],
            platform: PlatformDep) -> list[dict[str, Any]]:
    with platform.db.read() as s:
        ctx = Ctx(s, platform, p)
        events = service.history(ctx, app_id, version)
        names = service.usernames(ctx, {e.actor_id for e in events})
        return [{"action": e.action, "actor": names.get(e.actor_id), "comment": e.comment,
                 "bundle_sha256": e.bundle_sha256, "at": e.created_at.isoformat()} for e in events]


@router.get("/reviews", summary="Versions waiting for review in my organisation")
def review_queue(p: Annotated[Principal, requires("versions.read")], platform: PlatformDep) -> list[dict[str, Any]]:
    with platform.db.read() as s:
        return [{"app_id": a.app_id, **version_json(v, report=False)} for a, v in service.queue(Ctx(s, platform, p))]
