"""HTTP routes of the apps domain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from minibox.platform.apps import service
from minibox.platform.apps.models import App, Version
from minibox.platform.context import Ctx, Principal
from minibox.platform.deps import PlatformDep, requires

router = APIRouter(prefix="/api/v1", tags=["apps"])

AppId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
VersionStr = Annotated[str, Path(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$")]
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PlainText = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
DomainList = Annotated[list[Annotated[str, Field(max_length=300, pattern=PlainText)]], Field(max_length=100)]


class AppIn(BaseModel):
    app_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=PlainText)]
    description: Annotated[str, Field(max_length=2000, pattern=PlainText)] = ""


class MemberIn(BaseModel):
    user_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class PrivacyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scopes: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=64)] = []
    infos: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=64)] = []


class AllowlistIn(BaseModel):
    request: DomainList = []
    socket: DomainList = []
    uploadFile: DomainList = []
    downloadFile: DomainList = []
    webView: DomainList = []
    hostApis: Annotated[list[Annotated[str, Field(max_length=64, pattern=PlainText)]],
                        Field(max_length=200)] = []
    #: identity: pseudonym | host; phone: none | masked | virtual | real; location: grid | city | precise
    dataForms: dict[Annotated[str, Field(max_length=16)], Annotated[str, Field(max_length=16)]] | None = None
    #: drawn by the host over every page: plain text with {user} {app} {host} {date} {time}; "" = none
    watermark: Annotated[str, Field(max_length=200)] = ""
    #: the permission scopes and requiredPrivateInfos APIs the app may ask for; None = not restricted
    privacy: PrivacyIn | None = None
    #: days hosts keep the app's storage keys / files after their last write: {"storageDays", "fileDays"}
    retention: dict[Annotated[str, Field(max_length=16)], int] | None = None


class CodeProtectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


class UploadKeysIn(BaseModel):
    keys: Annotated[list[Annotated[str, Field(max_length=1000, pattern=PlainText)]], Field(max_length=16)]


def app_json(a: App) -> dict[str, Any]:
    return {"app_id": a.app_id, "name": a.name, "description": a.description, "allowlist": a.allowlist,
            "taken_down": a.taken_down_at is not None, "takedown_reason": a.takedown_reason,
            "code_protection": bool(a.code_protection), "created_at": a.created_at.isoformat()}


def version_json(v: Version, *, report: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"version": v.version, "build": v.build, "status": v.status, "kind": v.source_kind,
                           "description": v.description, "bundle_sha256": v.bundle_sha256,
                           "bundle_size": v.bundle_size, "uploaded_by": v.uploaded_by,
                           "protected": v.protected_bundle_sha256 is not None,
                           "delivered_sha256": service.delivered_sha256(v),
                           "created_at": v.created_at.isoformat(), "checks_passed": bool(v.report.get("passed"))}
    if report:
        out["report"] = v.report
    return out


@router.get("/apps", summary="Apps of my organisation (developers: apps I am a member of)")
def list_apps(p: Annotated[Principal, requires("apps.read")], platform: PlatformDep) -> list[dict[str, Any]]:
    with platform.db.read() as s:
        return [app_json(a) for a in service.list_apps(Ctx(s, platform, p))]


@router.post("/apps", status_code=201, summary="Create an app")
def create_app(body: AppIn, p: Annotated[Principal, requires("apps.manage")], platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        return app_json(service.create_app(Ctx(s, platform, p), body.app_id, body.name, body.description))


@router.get("/apps/{app_id}", summary="One app")
def get_app(app_id: AppId, p: Annotated[Principal, requires("apps.read")], platform: PlatformDep) -> dict[str, Any]:
    with platform.db.read() as s:
        return app_json(service.get_app(Ctx(s, platform, p), app_id))


@router.put("/apps/{app_id}/allowlist", summary="Replace the app's domain and host-API allowlist")
def set_allowlist(app_id: AppId, body: AllowlistIn, p: Annotated[Principal, requires("apps.manage")],
                  platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        return app_json(service.set_allowlist(Ctx(s, platform, p), app_id, body.model_dump()))


@router.put("/apps/{app_id}/code-protection",
            summary="Code protection of the app's new uploads: hosts get logic.js minified, names mangled")
def set_code_protection(app_id: AppId, body: CodeProtectionIn, p: Annotated[Principal, requires("apps.protection")],
                        platform: PlatformDep) -> dict[str, Any]:
    from minibox.platform.apps import protection

    with platform.db.write() as s:
        return app_json(protection.set_code_protection(Ctx(s, platform, p), app_id, body.enabled))


@router.get("/apps/{app_id}/members", summary="Developers who may upload versions of the app")
def list_members(app_id: AppId, p: Annotated[Principal, requires("apps.read")],
                 platform: PlatformDep) -> list[dict[str, Any]]:
    with platform.db.read() as s:
        return [{"user_id": u.id, "username": u.username} for u in service.members(Ctx(s, platform, p), app_id)]


@router.post("/apps/{app_id}/members", status_code=201, summary="Add a developer to the app")
def add_member(app_id: AppId, body: MemberIn, p: Annotated[Principal, requires("apps.manage")],
               platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        u = service.add_member(Ctx(s, platform, p), app_id, body.user_id)
        return {"user_id": u.id, "username": u.username}


@router.delete("/apps/{app_id}/members/{user_id}", summary="Remove a developer from the app")
def remove_member(app_id: AppId, user_id: UserId, p: Annotated[Principal, requires("apps.manage")],
                  platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        service.remove_member(Ctx(s, platform, p), app_id, user_id)
    return {"ok": True}


@router.get("/apps/{app_id}/versions", summary="Versions of the app")
def list_versions(app_id: AppId, p: Annotated[Principal, requires("versions.read")],
                  platform: PlatformDep) -> list[dict[str, Any]]:
    with platform.db.read() as s:
        return [version_json(v, report=False) for v in service.list_versions(Ctx(s, platform, p), app_id)]


@router.post("/apps/{app_id}/versions", status_code=201,
             summary="Upload a version: a zip of the project source (compiled here) or a precompiled .mbx")
def upload_version(app_id: AppId, p: Annotated[Principal, requires("versions.upload")], platform: PlatformDep,
                   file: Annotated[UploadFile, File(description="zip of the project, or .mbx")],
                   version: Annotated[str, Form(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$")],
                   kind: Annotated[str, Form(pattern="^(source|package)$")] = "source",
                   build: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
                   description: Annotated[str, Form(max_length=2000, pattern=PlainText)] = "",
                   protect: Annotated[bool | None, Form(description="code protection of this version "
                                                        "(default: the app's setting)")] = None) -> dict[str, Any]:
    data = file.file.read(service.MAX_UPLOAD_BYTES + 1)
    with platform.db.read() as s:  # validate first; compile outside any transaction; then record
        plan = service.plan_upload(Ctx(s, platform, p), app_id, version=version, build=build,
                                   description=description, kind=kind, size=len(data), protect=protect)
    done = service.process_upload(platform.blobs, plan, data)
    with platform.db.write() as s:
        return version_json(service.record_upload(Ctx(s, platform, p), plan, done))


@router.get("/apps/{app_id}/versions/{version}", summary="One version with its check report")
def get_version(app_id: AppId, version: VersionStr, p: Annotated[Principal, requires("versions.read")],
                platform: PlatformDep) -> dict[str, Any]:
    with platform.db.read() as s:
        return version_json(service.get_version(Ctx(s, platform, p), app_id, version)[1])


@router.put("/org/upload-keys", summary="Ed25519 public keys (PEM) that may sign precompiled uploads")
def set_upload_keys(body: UploadKeysIn, p: Annotated[Principal, requires("org.manage")],
                    platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        org = service.set_upload_keys(Ctx(s, platform, p), body.keys)
        return {"upload_keys": org.upload_keys}


Which = Annotated[str, Query(pattern="^(source|bundle|delivered)$",
                             description="the uploaded source, the compiled bundle (reviewed), or the bundle "
                                         "hosts get (with code protection: logic.js minified)")]
#: Submitted code is shown as inert text: never rendered or run in the reviewer's browser (MGT-09).
#: (X-Content-Type-Options: nosniff is added to every response by the middleware.)
REVIEW_FILE_HEADERS = {"Content-Security-Policy": "default-src 'none'; sandbox",
                       "Content-Disposition": "inline; filename=\"file.txt\""}


@router.get("/apps/{app_id}/versions/{version}/files", summary="Files of a version, for review")
def list_files(app_id: AppId, version: VersionStr, p: Annotated[Principal, requires("versions.read")],
               platform: PlatformDep, which: Which = "source") -> list[dict[str, Any]]:
    with platform.db.read() as s:
        return service.list_files(Ctx(s, platform, p), app_id, version, which)


@router.get("/apps/{app_id}/versions/{version}/files/{path:path}", summary="One file of a version, as plain text",
            responses={200: {"content": {"text/plain": {}}}})
def read_file(app_id: AppId, version: VersionStr, path: Annotated[str, Path(max_length=500)],
              p: Annotated[Principal, requires("versions.read")], platform: PlatformDep,
              which: Which = "source") -> Response:
    with platform.db.read() as s:
        data = service.read_file(Ctx(s, platform, p), app_id, version, which, path)
    return Response(data, media_type="text/plain; charset=utf-8", headers=REVIEW_FILE_HEADERS)
