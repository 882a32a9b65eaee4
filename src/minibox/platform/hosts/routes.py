"""HTTP routes of the hosts domain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from minibox.platform.apps.routes import AppId, PlainText
from minibox.platform.context import Ctx, Principal
from minibox.platform.deps import PlatformDep, requires
from minibox.platform.hosts import service
from minibox.platform.hosts.models import Host

router = APIRouter(prefix="/api/v1", tags=["hosts"])

HostId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
KeyText = Annotated[str, Field(min_length=1, max_length=1000, pattern=PlainText)]


class HostIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=PlainText)]
    public_key: KeyText | None = None


class KeyIn(BaseModel):
    public_key: KeyText


class GrantIn(BaseModel):
    app_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


def host_json(h: Host) -> dict[str, Any]:
    return {"host_id": h.host_id, "name": h.name, "public_key": h.public_key, "key_fingerprint": h.key_fingerprint,
            "revoked": h.revoked_at is not None, "created_at": h.created_at.isoformat()}


@router.get("/hosts", summary="Host apps of my organisation")
def list_hosts(p: Annotated[Principal, requires("hosts.read")], platform: PlatformDep) -> list[dict[str, Any]]:
    with platform.db.read() as s:
        return [host_json(h) for h in service.list_hosts(Ctx(s, platform, p))]


@router.post("/hosts", status_code=201,
             summary="Register a host app; its API key (and a generated private key) are shown once")
def register(body: HostIn, p: Annotated[Principal, requires("hosts.manage")], platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        creds = service.register(Ctx(s, platform, p), body.name, body.public_key)
        out = {**host_json(creds.host), "api_key": creds.api_key}
        if creds.private_key_pem:
            out["private_key_pem"] = creds.private_key_pem
        return out


@router.get("/hosts/{host_id}", summary="One host app")
def get_host(host_id: HostId, p: Annotated[Principal, requires("hosts.read")], platform: PlatformDep) -> dict[str, Any]:
    with platform.db.read() as s:
        ctx = Ctx(s, platform, p)
        return {**host_json(service.get_host(ctx, host_id)),
                "apps": [a.app_id for a in service.granted_apps(ctx, host_id)]}


@router.post("/hosts/{host_id}/api-key", summary="Rotate the host's API key (the old one stops at once)")
def rotate_api_key(host_id: HostId, p: Annotated[Principal, requires("hosts.manage")],
                   platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        return {"host_id": host_id, "api_key": service.rotate_api_key(Ctx(s, platform, p), host_id)}


@router.put("/hosts/{host_id}/public-key", summary="Rotate the host's package encryption key")
def set_public_key(host_id: HostId, body: KeyIn, p: Annotated[Principal, requires("hosts.manage")],
                   platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        return host_json(service.set_public_key(Ctx(s, platform, p), host_id, body.public_key))


@router.post("/hosts/{host_id}/revoke", summary="Revoke the host: its key stops working")
def revoke(host_id: HostId, p: Annotated[Principal, requires("hosts.manage")], platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        return host_json(service.revoke(Ctx(s, platform, p), host_id))


@router.post("/hosts/{host_id}/apps", status_code=201, summary="Let the host run an app")
def grant(host_id: HostId, body: GrantIn, p: Annotated[Principal, requires("hosts.manage")],
          platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        app = service.grant(Ctx(s, platform, p), host_id, body.app_id)
        return {"host_id": host_id, "app_id": app.app_id}


@router.delete("/hosts/{host_id}/apps/{app_id}", summary="Stop the host from running an app")
def ungrant(host_id: HostId, app_id: AppId, p: Annotated[Principal, requires("hosts.manage")],
            platform: PlatformDep) -> dict[str, Any]:
    with platform.db.write() as s:
        service.ungrant(Ctx(s, platform, p), host_id, app_id)
    return {"ok": True}
