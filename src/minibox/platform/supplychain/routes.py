"""HTTP routes of the supply-chain domain: the advisory feed and a version's SBOM."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Response, UploadFile
from pydantic import BaseModel, Field

from minibox.platform.apps import service as apps
from minibox.platform.apps.routes import AppId, PlainText, VersionStr
from minibox.platform.context import Ctx, Principal
from minibox.platform.deps import PlatformDep, requires
from minibox.platform.errors import NotFound, TooLarge
from minibox.platform.supplychain import service
from minibox.platform.supplychain.advisories import MAX_FEED_BYTES

router = APIRouter(prefix="/api/v1", tags=["supply chain"])


@router.post("/advisories", summary="Import an OSV advisory feed (JSON, JSON lines or a zip of OSV files)")
def import_advisories(p: Annotated[Principal, requires("advisories.manage")], platform: PlatformDep,
                      file: Annotated[UploadFile, File(description="OSV records")]) -> dict[str, Any]:
    data = file.file.read(MAX_FEED_BYTES + 1)
    if len(data) > MAX_FEED_BYTES:
        raise TooLarge(f"advisory feed over {MAX_FEED_BYTES} bytes")
    with platform.db.write() as s:
        ctx = Ctx(s, platform, p)
        r = service.import_feed(ctx, data)
        return {"imported": r.imported, "updated": r.updated, "unchanged": r.unchanged, "skipped": r.skipped,
                "by_severity": service.advisory_counts(ctx)}


@router.get("/advisories", summary="How many advisories of each severity the organisation holds")
def advisory_counts(p: Annotated[Principal, requires("advisories.read")], platform: PlatformDep) -> dict[str, Any]:
    with platform.db.read() as s:
        return {"by_severity": service.advisory_counts(Ctx(s, platform, p))}


@router.get("/apps/{app_id}/versions/{version}/sbom", summary="The version's CycloneDX SBOM (npm packages)")
def get_sbom(app_id: AppId, version: VersionStr, p: Annotated[Principal, requires("versions.read")],
             platform: PlatformDep) -> Response:
    with platform.db.read() as s:
        _app, v = apps.get_version(Ctx(s, platform, p), app_id, version)
        sha = (v.report.get("sbom") or {}).get("sha256")
    if not sha:
        raise NotFound("this version was uploaded before SBOMs were kept", code="no_sbom")
    return Response(platform.blobs.get(sha), media_type="application/vnd.cyclonedx+json")


class OverrideIn(BaseModel):
    reason: Annotated[str, Field(min_length=10, max_length=2000, pattern=PlainText)]


@router.post("/apps/{app_id}/versions/{version}/override-advisories",
             summary="A reviewer accepts the version's blocking advisories, with a reason")
def override_advisories(app_id: AppId, version: VersionStr, body: OverrideIn,
                        p: Annotated[Principal, requires("review.decide")], platform: PlatformDep) -> dict[str, Any]:
    from minibox.platform.apps.routes import version_json

    with platform.db.write() as s:
        return version_json(service.override(Ctx(s, platform, p), app_id, version, body.reason))

