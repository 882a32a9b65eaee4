"""Review: submit -> approve or reject with comments. Nobody approves what they uploaded (MGT-05)."""

from __future__ import annotations

from sqlalchemy import select

from minibox.platform.accounts.models import User
from minibox.platform.apps import service as apps
from minibox.platform.apps.models import App, Version
from minibox.platform.context import Ctx
from minibox.platform.errors import Conflict, Forbidden, InvalidInput, SeparationOfDuties
from minibox.platform.review.models import ReviewEvent


def _event(ctx: Ctx, v: Version, action: str, comment: str) -> ReviewEvent:
    assert ctx.actor is not None
    ev = ReviewEvent(version_id=v.id, action=action, actor_id=ctx.actor.user_id, comment=comment,
                     bundle_sha256=v.bundle_sha256)
    ctx.s.add(ev)
    ctx.s.flush()
    return ev


def submit(ctx: Ctx, app_id: str, version: str, comment: str) -> Version:
    app, v = apps.get_version(ctx, app_id, version)
    if not apps.is_member(ctx, app):
        raise Forbidden("only members of the app may submit its versions", code="not_a_member")
    if v.status == apps.CHECK_FAILED:
        raise Conflict("the automated checks failed: fix them and upload a new version", code="checks_failed",
                       details={"findings": [f for f in v.report.get("findings", []) if f["severity"] == "error"]})
    if v.status != apps.CHECKED:
        raise Conflict(f"version is {v.status}, only checked versions can be submitted", code="bad_state")
    v.status = apps.SUBMITTED
    _event(ctx, v, "submit", comment)
    ctx.audit("review.submit", f"app:{app_id}@{version}", {"comment": comment})
    return v


def decide(ctx: Ctx, app_id: str, version: str, *, approve: bool, comment: str) -> Version:
    assert ctx.actor is not None
    _app, v = apps.get_version(ctx, app_id, version)
    if v.status != apps.SUBMITTED:
        raise Conflict(f"version is {v.status}, only submitted versions can be reviewed", code="bad_state")
    if v.uploaded_by == ctx.actor.user_id:
        raise SeparationOfDuties("SoD: reviewer must differ from uploader")
    submitters = {e.actor_id for e in history(ctx, app_id, version) if e.action == "submit"}
    if ctx.actor.user_id in submitters:
        raise SeparationOfDuties("SoD: reviewer must differ from submitter")
    if not approve and not comment.strip():
        raise InvalidInput("a rejection needs a comment", code="comment_required")
    v.status = apps.APPROVED if approve else apps.REJECTED
    action = "approve" if approve else "reject"
    _event(ctx, v, action, comment)
    ctx.audit(f"review.{action}", f"app:{app_id}@{version}", {"comment": comment, "bundle_sha256": v.bundle_sha256})
    return v


def history(ctx: Ctx, app_id: str, version: str) -> list[ReviewEvent]:
    _app, v = apps.get_version(ctx, app_id, version)
    return list(ctx.s.execute(select(ReviewEvent).where(ReviewEvent.version_id == v.id)
                              .order_by(ReviewEvent.id)).scalars())


def queue(ctx: Ctx) -> list[tuple[App, Version]]:
    """Submitted versions of the caller's organisation, oldest first."""
    assert ctx.actor is not None
    visible = {a.id for a in apps.list_apps(ctx)}  # developers: only apps they are members of
    rows = ctx.s.execute(select(App, Version).join(Version, Version.app_pk == App.id)
                         .where(App.org_id == ctx.actor.org_id, Version.status == apps.SUBMITTED)
                         .order_by(Version.id)).all()
    return [(a, v) for a, v in rows if a.id in visible]


def approver_of(ctx: Ctx, v: Version) -> ReviewEvent | None:
    """The approval of exactly this bundle, if any."""
    return ctx.s.execute(select(ReviewEvent).where(ReviewEvent.version_id == v.id, ReviewEvent.action == "approve",
                                                   ReviewEvent.bundle_sha256 == v.bundle_sha256)
                         .order_by(ReviewEvent.id.desc())).scalars().first()


def usernames(ctx: Ctx, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {uid: name for uid, name in ctx.s.execute(select(User.id, User.username).where(User.id.in_(ids))).all()}
