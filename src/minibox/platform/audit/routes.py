"""HTTP routes of the audit domain: auditors read; nothing writes through HTTP."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import Select, select

from minibox.platform.audit import service
from minibox.platform.audit.models import AuditEntry
from minibox.platform.context import Principal
from minibox.platform.deps import PlatformDep, requires
from minibox.platform.errors import InvalidInput

router = APIRouter(prefix="/api/v1", tags=["audit"])

MAX_PAGE = 500


Filter = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


def _when(raw: str | None, name: str) -> str | None:
    """An ISO date or date-time (naive = UTC) as the stored `ts` format, so strings compare as times."""
    if not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError as e:
        raise InvalidInput(f"{name}: ISO 8601 date or date-time expected", details={"field": name}) from e
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="microseconds")


class AuditFilter:
    """actor and target contain, action starts with, since <= ts < until."""

    def __init__(self, actor: Filter = None, action: Filter = None, target: Filter = None,
                 since: Filter = None, until: Filter = None):
        self.actor, self.action, self.target = actor, action, target
        self.since, self.until = _when(since, "since"), _when(until, "until")

    def apply(self, q: Select[Any]) -> Select[Any]:
        if self.actor:
            q = q.where(AuditEntry.actor.contains(self.actor, autoescape=True))
        if self.action:
            q = q.where(AuditEntry.action.startswith(self.action, autoescape=True))
        if self.target:
            q = q.where(AuditEntry.target.contains(self.target, autoescape=True))
        if self.since:
            q = q.where(AuditEntry.ts >= self.since)
        if self.until:
            q = q.where(AuditEntry.ts < self.until)
        return q


FilterDep = Annotated[AuditFilter, Depends()]


@router.get("/audit", summary="Audit entries of my organisation, oldest first, paged by seq (filterable)")
def list_entries(p: Annotated[Principal, requires("audit.read")], platform: PlatformDep, f: FilterDep,
                 after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                 before: Annotated[int | None, Query(ge=1, le=2**31 - 1,
                                                     description="newest first, entries below this seq")] = None,
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> list[dict[str, Any]]:
    q = f.apply(select(AuditEntry).where(AuditEntry.org_id == p.org_id, AuditEntry.seq > after))
    q = q.where(AuditEntry.seq < before).order_by(AuditEntry.seq.desc()) if before else q.order_by(AuditEntry.seq)
    with platform.db.read() as s:
        return [service.entry_dict(e) for e in s.execute(q.limit(limit)).scalars()]


CSV_COLUMNS = ("seq", "ts", "actor", "action", "target", "outcome", "details", "prev_hash", "hash")


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text  # no formulas in a spreadsheet


def _csv(entries: list[dict[str, Any]]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow([_cell(e[c]) for c in CSV_COLUMNS])
    yield buf.getvalue()


@router.get("/audit/export", summary="Audit entries of my organisation as JSON lines or CSV (filterable)",
            responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}})
def export(p: Annotated[Principal, requires("audit.read")], platform: PlatformDep, f: FilterDep,
           format: Annotated[str, Query(pattern="^(jsonl|csv)$")] = "jsonl") -> StreamingResponse:
    with platform.db.read() as s:
        if format == "jsonl" and not any((f.actor, f.action, f.target, f.since, f.until)):
            lines = list(service.export_lines(s, org_id=p.org_id))
        else:
            q = f.apply(select(AuditEntry).where(AuditEntry.org_id == p.org_id)).order_by(AuditEntry.seq)
            entries = [service.entry_dict(e) for e in s.execute(q).scalars()]
            lines = list(_csv(entries)) if format == "csv" else \
                [json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in entries]
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(iter(lines), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="audit.{format}"'})


@router.get("/audit/verify", summary="Verify the whole hash chain and its signed checkpoints")
def verify(p: Annotated[Principal, requires("audit.read")], platform: PlatformDep) -> dict[str, Any]:
    with platform.db.read() as s:
        r = service.verify(s, platform.audit_key.public_key())
    return {"ok": r.ok, "entries": r.entries, "checkpoints": r.checkpoints, "first_bad_seq": r.first_bad_seq,
            "problems": r.problems}
