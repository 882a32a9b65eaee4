"""Apps, members and versions: create, list, upload (compile + check), allowlists."""

from __future__ import annotations

import io
import re
import secrets
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from minibox.platform.accounts.models import Org, User
from minibox.platform.apps.archive import deterministic_zip, safe_extract
from minibox.platform.apps.checks import run_checks
from minibox.platform.apps.models import App, AppMember, Version
from minibox.platform.blobs import BlobStore
from minibox.platform.context import Ctx
from minibox.platform.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge
from minibox.platform.hosts.allowlist import empty_allowlist, validate_allowlist
from minibox.platform.permissions import DEVELOPER
from minibox.platform.supplychain import service as supplychain

APP_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]{1,20})?$")
MAX_BUILD = 2**31 - 1
#: Largest upload (source zip or package), checked before anything is unpacked.
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
UPLOAD_KINDS = ("source", "package")
#: Version states. Only `approved` versions may be released.
CHECKED, CHECK_FAILED, SUBMITTED, APPROVED, REJECTED = "checked", "check_failed", "submitted", "approved", "rejected"


def _org_app(ctx: Ctx, app_id: str) -> App | None:
    assert ctx.actor is not None
    return ctx.s.execute(select(App).where(App.org_id == ctx.actor.org_id, App.app_id == app_id)).scalar_one_or_none()


def is_member(ctx: Ctx, app: App) -> bool:
    assert ctx.actor is not None
    return ctx.s.get(AppMember, (app.id, ctx.actor.user_id)) is not None


def get_app(ctx: Ctx, app_id: str) -> App:
    """The caller's org's app; developers see only apps they are members of. Otherwise 404 (MGT-03)."""
    assert ctx.actor is not None
    app = _org_app(ctx, app_id)
    if app is None or (ctx.actor.role == DEVELOPER and not is_member(ctx, app)):
        raise NotFound(f"no app {app_id!r}")
    return app


def list_apps(ctx: Ctx) -> list[App]:
    assert ctx.actor is not None
    q = select(App).where(App.org_id == ctx.actor.org_id)
    if ctx.actor.role == DEVELOPER:
        q = q.join(AppMember, AppMember.app_pk == App.id).where(AppMember.user_id == ctx.actor.user_id)
    return list(ctx.s.execute(q.order_by(App.id)).scalars())


def create_app(ctx: Ctx, app_id: str, name: str, description: str = "") -> App:
    assert ctx.actor is not None
    if not APP_ID_RE.match(app_id):
        raise InvalidInput("app_id: 1-64 of A-Z a-z 0-9 _ . - starting with a letter or digit", code="invalid_app_id")
    if _org_app(ctx, app_id) is not None:
        raise Conflict(f"app {app_id!r} exists", code="app_exists")
    app = App(org_id=ctx.actor.org_id, app_id=app_id, name=name, description=description,
              gray_salt=secrets.token_hex(16), allowlist=empty_allowlist(), takedown_reason="")
    ctx.s.add(app)
    ctx.s.flush()
    ctx.audit("app.create", f"app:{app_id}", {"name": name})
    return app


def set_allowlist(ctx: Ctx, app_id: str, raw: dict[str, Any]) -> App:
    """Replace the app's allowlist; delivered with the next release (and enforced by the container)."""
    app = get_app(ctx, app_id)
    new = validate_allowlist(raw)
    ctx.audit("app.allowlist", f"app:{app_id}", {"before": app.allowlist, "after": new})
    app.allowlist = new
    return app


def members(ctx: Ctx, app_id: str) -> list[User]:
    app = get_app(ctx, app_id)
    return list(ctx.s.execute(select(User).join(AppMember, AppMember.user_id == User.id)
                              .where(AppMember.app_pk == app.id).order_by(User.id)).scalars())


def add_member(ctx: Ctx, app_id: str, user_id: int) -> User:
    assert ctx.actor is not None
    app = get_app(ctx, app_id)
    user = ctx.s.get(User, user_id)
    if user is None or user.org_id != ctx.actor.org_id:
        raise NotFound("no such user")
    if user.role != DEVELOPER:
        raise InvalidInput("only developers are app members", code="not_a_developer")
    if ctx.s.get(AppMember, (app.id, user.id)) is None:
        ctx.s.add(AppMember(app_pk=app.id, user_id=user.id))
        ctx.audit("app.member.add", f"app:{app_id}", {"user_id": user.id, "username": user.username})
    return user


def remove_member(ctx: Ctx, app_id: str, user_id: int) -> None:
    app = get_app(ctx, app_id)
    member = ctx.s.get(AppMember, (app.id, user_id))
    if member is None:
        raise NotFound("not a member")
    ctx.s.delete(member)
    ctx.audit("app.member.remove", f"app:{app_id}", {"user_id": user_id})


def list_versions(ctx: Ctx, app_id: str) -> list[Version]:
    app = get_app(ctx, app_id)
    return list(ctx.s.execute(select(Version).where(Version.app_pk == app.id).order_by(Version.id)).scalars())


def get_version(ctx: Ctx, app_id: str, version: str) -> tuple[App, Version]:
    app = get_app(ctx, app_id)
    row = ctx.s.execute(select(Version).where(Version.app_pk == app.id, Version.version == version)
                        ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no version {version!r} of {app_id!r}")
    return app, row


@dataclass
class UploadPlan:
    """A validated upload request (checked again when the version is recorded)."""

    app_id: str
    version: str
    build: int
    description: str
    kind: str
    allowlist: dict[str, Any]
    upload_keys: list[str]
    #: code protection of this version (the upload's choice, else the app's setting)
    protect: bool = False


@dataclass
class Processed:
    bundle_sha256: str
    bundle_size: int
    report: dict[str, Any]
    source_sha256: str | None = None
    protected_bundle_sha256: str | None = None
    sourcemap_sha256: str | None = None


def plan_upload(ctx: Ctx, app_id: str, *, version: str, build: int | None, description: str, kind: str,
                size: int, protect: bool | None = None) -> UploadPlan:
    """Who may upload what: membership, version format, no duplicate, builds only go up. `protect`:
    code protection of this version; None: the app's setting."""
    assert ctx.actor is not None
    app = get_app(ctx, app_id)
    if not is_member(ctx, app):
        raise Forbidden("only members of the app may upload versions", code="not_a_member")
    if not VERSION_RE.match(version):
        raise InvalidInput("version must look like 1.2.3 (optionally -suffix)", code="invalid_version")
    if kind not in UPLOAD_KINDS:
        raise InvalidInput(f"kind must be one of {UPLOAD_KINDS}", code="invalid_kind")
    if size > MAX_UPLOAD_BYTES:
        raise TooLarge(f"upload over {MAX_UPLOAD_BYTES} bytes")
    if ctx.s.execute(select(Version.id).where(Version.app_pk == app.id, Version.version == version)).first():
        raise Conflict(f"version {version} exists", code="version_exists")
    from minibox.platform.release.models import Release

    last_build = max(ctx.s.execute(select(func.max(Version.build)).where(Version.app_pk == app.id)).scalar() or 0,
                     ctx.s.execute(select(func.max(Release.build)).where(Release.app_pk == app.id)).scalar() or 0)
    if build is None:
        build = last_build + 1
    if not last_build < build <= MAX_BUILD:
        raise InvalidInput(f"build must be greater than {last_build} (builds only go up)", code="build_not_newer")
    org = ctx.s.get(Org, ctx.actor.org_id)
    assert org is not None
    return UploadPlan(app.app_id, version, build, description, kind, dict(app.allowlist),
                      list(org.upload_keys or []), app.code_protection if protect is None else protect)


def process_upload(blobs: BlobStore, plan: UploadPlan, data: bytes) -> Processed:
    """Compile (source) or verify (package), run the checks, store the bundle, and with code protection
    derive the bundle hosts get from it (`protection.protect_upload`). No transaction is held."""
    from minibox.platform import toolchain
    from minibox.platform.apps.protection import protect_upload

    work = Path(tempfile.mkdtemp(prefix="mb-upload-"))
    try:
        bundle_dir, source_dir = work / "bundle", None
        if plan.kind == "source":
            safe_extract(data, work / "src")
            source_dir = toolchain.source_root(work / "src")
            toolchain.compile_source(source_dir, bundle_dir)
        else:
            toolchain.unpack_precompiled(data, bundle_dir, plan.upload_keys, plan.app_id)
        report = run_checks(bundle_dir, plan.allowlist, source_dir)
        packages = supplychain.packages_of(bundle_dir, source_dir)
        sbom_sha256 = blobs.put(supplychain.sbom_document(plan.app_id, plan.version, packages))
        report["sbom"] = {"sha256": sbom_sha256, "format": "CycloneDX 1.5",
                          "packages": supplychain.summary(packages)}
        blob = deterministic_zip(bundle_dir)
        protected = protect_upload(blobs, bundle_dir, work) if plan.protect else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    done = Processed(blobs.put(blob), len(blob), report, blobs.put(data) if plan.kind == "source" else None)
    if protected is not None:
        report["protection"] = protected.summary
        report["findings"] = [*report.get("findings", []), *protected.findings]
        done.protected_bundle_sha256, done.sourcemap_sha256 = protected.bundle_sha256, protected.sourcemap_sha256
    return done


def record_upload(ctx: Ctx, plan: UploadPlan, done: Processed) -> Version:
    """Insert the version (re-validating, since other requests ran meanwhile) and audit it."""
    assert ctx.actor is not None
    plan_upload(ctx, plan.app_id, version=plan.version, build=plan.build, description=plan.description,
                kind=plan.kind, size=0, protect=plan.protect)
    app = get_app(ctx, plan.app_id)
    # advisories are matched here, in the transaction, against the feed as it is now
    report = done.report
    if "sbom" in report:
        report = supplychain.apply_findings(report, supplychain.findings(ctx, app.org_id, report["sbom"]["packages"]))
    done.report = report
    row = Version(app_pk=app.id, version=plan.version, build=plan.build, description=plan.description,
                  status=CHECKED if done.report["passed"] else CHECK_FAILED, source_kind=plan.kind,
                  bundle_sha256=done.bundle_sha256, bundle_size=done.bundle_size, report=done.report,
                  source_sha256=done.source_sha256, uploaded_by=ctx.actor.user_id,
                  protected_bundle_sha256=done.protected_bundle_sha256, sourcemap_sha256=done.sourcemap_sha256)
    ctx.s.add(row)
    ctx.s.flush()
    ctx.audit("version.upload", f"app:{plan.app_id}@{plan.version}",
              {"build": plan.build, "kind": plan.kind, "bundle_sha256": done.bundle_sha256,
               "checks_passed": done.report["passed"],
               **({"protected_bundle_sha256": done.protected_bundle_sha256} if done.protected_bundle_sha256 else {})})
    return row


def upload_version(ctx: Ctx, app_id: str, *, version: str, build: int | None, description: str, kind: str,
                   data: bytes, protect: bool | None = None) -> Version:
    """Plan, process and record an upload in one unit of work (CLI and seeding; HTTP splits the steps)."""
    plan = plan_upload(ctx, app_id, version=version, build=build, description=description, kind=kind,
                       size=len(data), protect=protect)
    return record_upload(ctx, plan, process_upload(ctx.platform.blobs, plan, data))


def set_upload_keys(ctx: Ctx, keys_pem: list[str]) -> Org:
    """Public keys allowed to sign precompiled uploads of the caller's organisation."""
    assert ctx.actor is not None
    from minibox.package import FormatError, load_ed25519_public

    for pem in keys_pem:
        try:
            load_ed25519_public(pem.encode())
        except (FormatError, ValueError) as e:
            raise InvalidInput(f"not an Ed25519 public key: {e}", code="invalid_key") from e
    org = ctx.s.get(Org, ctx.actor.org_id)
    assert org is not None
    org.upload_keys = list(keys_pem)
    ctx.audit("org.upload_keys", f"org:{org.id}", {"count": len(keys_pem)})
    return org


#: Largest single file shown to a reviewer.
MAX_REVIEW_FILE_BYTES = 2 * 1024 * 1024


def delivered_sha256(v: Version) -> str:
    """The bundle hosts get: the protected one when the version has code protection."""
    return v.protected_bundle_sha256 or v.bundle_sha256


def _archive(ctx: Ctx, app_id: str, version: str, which: str) -> zipfile.ZipFile:
    """`source` (as uploaded), `bundle` (as compiled and reviewed) or `delivered` (as hosts get it)."""
    _app, v = get_version(ctx, app_id, version)
    sha = {"source": v.source_sha256, "bundle": v.bundle_sha256, "delivered": delivered_sha256(v)}[which]
    if sha is None:
        raise NotFound(f"version {version} has no {which} archive (uploaded as a package)", code="no_source")
    return zipfile.ZipFile(io.BytesIO(ctx.platform.blobs.get(sha)))


def list_files(ctx: Ctx, app_id: str, version: str, which: str) -> list[dict[str, Any]]:
    """Files of the uploaded source (or the compiled bundle), for review."""
    with _archive(ctx, app_id, version, which) as zf:
        return [{"path": i.filename, "size": i.file_size} for i in zf.infolist() if not i.is_dir()]


def read_file(ctx: Ctx, app_id: str, version: str, which: str, path: str) -> bytes:
    with _archive(ctx, app_id, version, which) as zf:
        try:
            info = zf.getinfo(path)
        except KeyError as e:
            raise NotFound(f"no file {path!r} in the {which}") from e
        if info.file_size > MAX_REVIEW_FILE_BYTES:
            raise TooLarge(f"{path} is over {MAX_REVIEW_FILE_BYTES} bytes")
        return zf.read(info)
