"""HTTP routes of the privacy domain: deletion orders (admin) and their host-facing side."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from minibox.platform.apps.routes import PlainText
from minibox.platform.context import Ctx, Principal
from minibox.platform.deps import PlatformDep, requires
from minibox.platform.privacy import service
from minibox.platform.release.service import authenticate_host
from minibox.platform.release.update_routes import HostKey, Ident

router = APIRouter(prefix="/api/v1", tags=["privacy"])
UserId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]


class OrderIn(BaseModel):
    user_id: UserId
    app_id: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = None
    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=PlainText)]


class AckIn(BaseModel):
    counts: dict[Annotated[str, Field(max_length=32)], int | bool] = {}
    #: app id -> the host's telemetry pseudonym of the user (32 hex)
    telemetry_users: dict[Annotated[str, Field(max_length=64)],
                          Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]] = {}


@router.post("/deletions", status_code=201, summary="Order a user's data deleted on every host (one app or all)")
def order(body: OrderIn, p: Annotated[Principal, requires("deletions.manage")], platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        row = service.order_deletion(Ctx(s, platform, p), body.user_id, body.app_id, body.reason)
        return {"id": row.id, "user_id": row.user_id, "app_id": row.app_id, "reason": row.reason}


@router.get("/deletions", summary="Deletion orders and which hosts carried them out")
def orders(p: Annotated[Principal, requires("deletions.read")], platform: PlatformDep) -> list[dict[str, Any]]:
    with platform.db.read() as s:
        return service.list_orders(Ctx(s, platform, p))


@router.get("/hosts/{host_id}/users/{user_id}/deletions",
            summary="Signed deletion orders for one user that this host has not carried out (host key)")
def pending_for_user(host_id: Annotated[str, Path(pattern=Ident)],
                     user_id: Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")],
                     platform: PlatformDep, x_minibox_host_key: HostKey = None) -> dict[str, Any]:
    with platform.db.read() as s:
        host = authenticate_host(s, x_minibox_host_key, host_id)
        return service.pending_for(platform, s, host, user_id)


@router.post("/hosts/{host_id}/deletions/{order_id}/ack", summary="The host deleted what the order names (host key)")
def ack(host_id: Annotated[str, Path(pattern=Ident)], order_id: int, body: AckIn, platform: PlatformDep,
        x_minibox_host_key: HostKey = None) -> dict[str, Any]:
    with platform.db.write() as s:
        host = authenticate_host(s, x_minibox_host_key, host_id)
        service.acknowledge(Ctx(s, platform, None), host, order_id, dict(body.counts), dict(body.telemetry_users))
        return {"acknowledged": order_id}
