"""HTTP routes of telemetry: the hosts' ingest endpoint, the platform's telemetry key, dashboard metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from minibox.platform import metrics
from minibox.platform.context import Ctx, Platform, Principal
from minibox.platform.deps import PlatformDep, requires
from minibox.platform.errors import TooLarge
from minibox.platform.telemetry import service
from minibox.telemetry_sig import SIG_HEADER

router = APIRouter(prefix="/api/v1", tags=["telemetry"])

AppId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
HostKey = Annotated[str | None, Header(alias="X-Minibox-Host-Key", max_length=200)]
Signature = Annotated[str | None, Header(alias=SIG_HEADER, max_length=200)]


def _too_large(size: str) -> TooLarge:
    metrics.TELEMETRY_BATCHES.labels("too_large").inc()
    return TooLarge(f"a telemetry batch is at most {service.MAX_BODY_BYTES} bytes, this one {size}",
                    details={"max_bytes": service.MAX_BODY_BYTES})


@router.post("/telemetry", summary="Ingest one signed telemetry batch (host key and signature required)",
             responses={200: {"description": "`{batch_id, stored, duplicate}`; a replayed batch is `duplicate: true`"},
                        401: {"description": "unknown host key or bad signature"},
                        403: {"description": "an event names an app the host is not granted"},
                        413: {"description": "body or event count over the limits"},
                        422: {"description": "not a valid batch, or older than the retention"}})
async def ingest(request: Request, x_minibox_host_key: HostKey = None,
                 x_minibox_telemetry_sig: Signature = None) -> JSONResponse:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > service.MAX_BODY_BYTES):
        raise _too_large(f"{length} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > service.MAX_BODY_BYTES:
            raise _too_large(f"over {service.MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    platform: Platform = request.app.state.platform
    result = await run_in_threadpool(service.ingest, platform, x_minibox_host_key, x_minibox_telemetry_sig,
                                     b"".join(chunks))
    return JSONResponse(result.to_json())


@router.get("/telemetry/key", summary="The platform's telemetry public key, signed by its package key (public)")
def telemetry_key(platform: PlatformDep) -> dict[str, str]:
    return service.key_document(platform)


@router.get("/apps/{app_id}/metrics", summary="Dashboard figures of an app over a time range (from rollups)")
def app_metrics(app_id: AppId, p: Annotated[Principal, requires("telemetry.read")], platform: PlatformDep,
                since: Annotated[datetime | None, Query(alias="from")] = None,
                until: Annotated[datetime | None, Query(alias="to")] = None,
                version: Annotated[str | None, Query(max_length=32, pattern=r"^[0-9A-Za-z.+_-]{1,32}$")] = None,
                ) -> dict[str, Any]:
    with platform.db.read() as s:
        return service.app_metrics(Ctx(s, platform, p), app_id, since, until, version)


@router.get("/payments/{order_id}", summary="A payment's steps as hosts reported them, for a dispute (by order id)")
def payment(order_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")],
            p: Annotated[Principal, requires("payments.read")], platform: PlatformDep,
            download: Annotated[bool, Query()] = False) -> Any:
    from minibox.platform.errors import NotFound

    with platform.db.read() as s:
        record = service.payment_records(s, p.org_id, order_id)
        if record is None:
            raise NotFound("no payment with this order id", code="no_payment")
        Ctx(s, platform, p)  # the lookup is audited below, in its own unit of work
    with platform.db.write() as s:
        Ctx(s, platform, p).audit("payment.lookup", f"order:{order_id}", {"download": download})
    if download:
        return JSONResponse(record, headers={"Content-Disposition": f'attachment; filename="payment-{order_id}.json"'})
    return record
