"""HTTP routes of the audit domain: auditors read; nothing writes through HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from minibox.platform.audit import service
from minibox.platform.audit.models import AuditEntry
from minibox.platform.context import Principal
from minibox.platform.deps import PlatformDep, requires

router = APIRouter(prefix="/api/v1", tags=["audit"])

MAX_PAGE = 500


@router.get("/audit", summary="Audit entries of my organisation, oldest first, paged by seq")
def list_entries(p: Annotated[Principal, requires("audit.read")], platform: PlatformDep,
                 after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> list[dict[str, Any]]:
    with platform.db.read() as s:
        rows = s.execute(select(AuditEntry).where(AuditEntry.org_id == p.org_id, AuditEntry.seq > after)
                         .order_by(AuditEntry.seq).limit(limit)).scalars()
        return [service.entry_dict(e) for e in rows]


@router.get("/audit/export", summary="Audit entries of my organisation as JSON lines",
            responses={200: {"content": {"application/x-ndjson": {}}}})
def export(p: Annotated[Principal, requires("audit.read")], platform: PlatformDep) -> StreamingResponse:
    with platform.db.read() as s:
        lines = list(service.export_lines(s, org_id=p.org_id))
    return StreamingResponse(iter(lines), media_type="application/x-ndjson",
                             headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'})


@router.get("/audit/verify", summary="Verify the whole hash chain and its signed checkpoints")
def verify(p: Annotated[Principal, requires("audit.read")], platform: PlatformDep) -> dict[str, Any]:
    with platform.db.read() as s:
        r = service.verify(s, platform.audit_key.public_key())
    return {"ok": r.ok, "entries": r.entries, "checkpoints": r.checkpoints, "first_bad_seq": r.first_bad_seq,
            "problems": r.problems}
