"""Guarded rollout: a grayscale release that stops itself when its version does worse than the one it
rolls out over.

A guard (`{"max_error_ratio": 1.5, "min_crash_free": 0.995, "min_sessions": 500}`) is stored with the gray
release, together with its baseline: the version of the full release active when the gray release was
made (a gray release ends with any later full release or rollback, so the baseline cannot change under
it). `evaluate_guards()` compares the two versions' sessions since the gray release started
(`telemetry.service.guard_metrics`): "fail" stops the release through `release.service.stop` (as an
operator would, actor `system`), with the guard's figures and reasons in the audit entry, and queues a
signed webhook; "pass" and "wait" (too few sessions yet) only record the verdict.

Every replica runs a `GuardWatcher` thread. One evaluation of one release is one write transaction that
first claims the release: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` (a release another replica is
evaluating is skipped), on SQLite a conditional `UPDATE` (the transaction holds the database's write
lock). Both also require the release to be active and not evaluated within the last half interval, so
two replicas never both stop a release and rarely evaluate one twice. The verdict is written with a Core
`UPDATE`, so an evaluation that stops nothing does not bump the release generation.
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from minibox.platform.apps.models import App, Version
from minibox.platform.context import Ctx, Platform, Principal
from minibox.platform.db import aware
from minibox.platform.errors import InvalidInput
from minibox.platform.release.models import Release

log = logging.getLogger("minibox.platform.release.guard")

GRAY, FULL, ROLLBACK = "gray", "full", "rollback"
DEFAULTS: dict[str, Any] = {"max_error_ratio": 1.5, "min_crash_free": 0.995, "min_sessions": 500}
GUARD_KEYS = ("max_error_ratio", "min_crash_free", "min_sessions")
MAX_SESSIONS = 100_000_000
WEBHOOK_EVENT = "release.guard_stopped"


class InvalidGuard(InvalidInput):
    code = "invalid_guard"


def _number(raw: Any, key: str, lo: float, hi: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or not lo <= raw <= hi:
        raise InvalidGuard(f"{key}: a number from {lo:g} to {hi:g}", details={"field": key})
    return float(raw)


def validate_guard(raw: Any) -> dict[str, Any]:
    """The guard's thresholds, checked (missing ones take the defaults)."""
    if not isinstance(raw, dict):
        raise InvalidGuard("a guard is an object of thresholds")
    unknown = sorted(set(raw) - set(GUARD_KEYS))
    if unknown:
        raise InvalidGuard(f"unknown guard fields {unknown}", details={"fields": unknown})
    g = {**DEFAULTS, **{k: v for k, v in raw.items() if v is not None}}
    sessions = g["min_sessions"]
    if isinstance(sessions, bool) or not isinstance(sessions, int) or not 1 <= sessions <= MAX_SESSIONS:
        raise InvalidGuard(f"min_sessions: a whole number from 1 to {MAX_SESSIONS}", details={"field": "min_sessions"})
    return {"max_error_ratio": round(_number(g["max_error_ratio"], "max_error_ratio", 1.0, 100.0), 4),
            "min_crash_free": round(_number(g["min_crash_free"], "min_crash_free", 0.0, 1.0), 6),
            "min_sessions": sessions}


def baseline_version(s: Session, app_pk: int) -> str | None:
    """The version of the app's active full (or rollback) release: what a gray release rolls out over."""
    return s.execute(select(Version.version).join(Release, Release.version_id == Version.id)
                     .where(Release.app_pk == app_pk, Release.active.is_(True), Release.kind.in_((FULL, ROLLBACK)))
                     .order_by(Release.sequence.desc()).limit(1)).scalar()


# ---- evaluation ---------------------------------------------------------------------------------------------

def _candidates(platform: Platform) -> list[int]:
    with platform.db.read() as s:
        return list(s.execute(select(Release.id).where(Release.active.is_(True), Release.kind == GRAY,
                                                       Release.guard.isnot(None)).order_by(Release.id)).scalars())


def _claim(s: Session, release_id: int, now: datetime, due: datetime) -> bool:
    """Take this release for one evaluation, or learn that another replica has it (or did it lately)."""
    fresh = or_(Release.guard_checked_at.is_(None), Release.guard_checked_at <= due)
    if s.get_bind().dialect.name == "postgresql":
        got = s.execute(select(Release.id).where(Release.id == release_id, Release.active.is_(True), fresh)
                        .with_for_update(skip_locked=True)).scalar()
        if got is None:
            return False
        s.execute(update(Release.__table__).where(Release.__table__.c.id == release_id)
                  .values(guard_checked_at=now))
        return True
    t = Release.__table__
    done = s.execute(update(t).where(t.c.id == release_id, t.c.active.is_(True), t.c.guard.isnot(None),
                                     or_(t.c.guard_checked_at.is_(None), t.c.guard_checked_at <= due))
                     .values(guard_checked_at=now))
    return bool(done.rowcount)


def evaluate_release(platform: Platform, release_id: int, *, now: datetime | None = None,
                     min_age_s: float = 0.0) -> dict[str, Any] | None:
    """Evaluate one guarded gray release (stopping it on "fail"); its new guard state, or None when it was
    not this replica's to evaluate (inactive, claimed by another replica, or evaluated within `min_age_s`)."""
    from minibox.platform.release import service
    from minibox.platform.telemetry.service import guard_metrics

    now = now or datetime.now(UTC)
    notify: dict[str, Any] | None = None
    with platform.db.write() as s:
        if not _claim(s, release_id, now, now - timedelta(seconds=min_age_s)):
            return None
        rel = s.get(Release, release_id)
        if rel is None or not rel.active or not rel.guard:
            return None
        app, version = s.get(App, rel.app_pk), s.get(Version, rel.version_id)
        assert app is not None and version is not None
        thresholds = {k: rel.guard[k] for k in GUARD_KEYS if k in rel.guard}
        baseline = rel.guard.get("baseline") or baseline_version(s, app.id) or version.version
        started = aware(rel.created_at) or now
        figures = guard_metrics(s, app.id, version.version, baseline, since=started)
        verdict = figures.evaluate(**thresholds)
        state = {"decision": verdict.decision, "reasons": verdict.reasons, "checked_at": _iso(now),
                 "version": version.version, "baseline": baseline,
                 "new": _stats(figures.new), "old": _stats(figures.baseline)}
        t = Release.__table__
        s.execute(update(t).where(t.c.id == release_id).values(guard_state=state))
        if verdict.decision == "fail":
            system = Principal(user_id=rel.created_by, org_id=app.org_id, username="system", role="system",
                               kind="system")
            why = {"by": "guard", "guard": thresholds, "baseline": baseline, "version": version.version,
                   "reasons": verdict.reasons, "new": state["new"], "old": state["old"], "since": _iso(started)}
            service.stop(Ctx(s, platform, system), app.app_id, release_id, why=why)
            notify = {"org_id": app.org_id, "app_id": app.app_id, "release_id": release_id,
                      "stopped_at": _iso(now), **why}
            log.warning("guard stopped gray release %d of %s@%s: %s", release_id, app.app_id, version.version,
                        "; ".join(verdict.reasons))
    if notify is not None:
        _prebuild_after_stop(platform, notify["app_id"], app.id)
        if platform.notifier is not None:
            platform.notifier.notify(WEBHOOK_EVENT, notify)
    return state


def _prebuild_after_stop(platform: Platform, app_id: str, app_pk: int) -> None:
    """As the operator's stop route does: build the packages of the releases now active (best effort)."""
    from minibox.platform.release import service

    try:
        with platform.db.read() as s:
            ids = list(s.execute(select(Release.id).where(Release.app_pk == app_pk, Release.active.is_(True)))
                       .scalars())
        for rid in ids:
            service.prebuild_packages(platform, rid)
    except Exception:
        log.exception("prebuilding packages of %s after a guard stop failed", app_id)


def evaluate_guards(platform: Platform, *, now: datetime | None = None, min_age_s: float = 0.0
                    ) -> dict[int, dict[str, Any]]:
    """Evaluate every active guarded gray release this replica can claim; release id -> guard state."""
    out: dict[int, dict[str, Any]] = {}
    for rid in _candidates(platform):
        try:
            state = evaluate_release(platform, rid, now=now, min_age_s=min_age_s)
        except Exception:
            log.exception("evaluating the guard of release %d failed", rid)
            continue
        if state is not None:
            out[rid] = state
    return out


def _stats(v: Any) -> dict[str, Any]:
    return {"version": v.version, "sessions": v.sessions, "error_sessions": v.error_sessions,
            "crashed_sessions": v.crashed_sessions, "errors": v.errors,
            "error_rate": None if v.error_rate is None else round(v.error_rate, 6),
            "crash_free": None if v.crash_free is None else round(v.crash_free, 6)}


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the evaluator thread -----------------------------------------------------------------------------------

class GuardWatcher:
    """One replica's evaluator: every `interval_s` seconds, `evaluate_guards` (claims keep replicas apart)."""

    def __init__(self, platform: Platform, interval_s: float):
        self.platform, self.interval_s = platform, interval_s
        self.rounds = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> GuardWatcher:
        with self._lock:
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="rollout-guard", daemon=True)
                self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None:
            thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                evaluate_guards(self.platform, min_age_s=self.interval_s / 2)
            except Exception:
                log.exception("rollout guard round failed")
            self.rounds += 1
