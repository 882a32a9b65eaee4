"""The host-facing endpoints: update check, package download (HTTP Range), the platform key set."""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool

from minibox.package.answer import sign_answer
from minibox.platform import toolchain
from minibox.platform.blobs import BlobNotFound
from minibox.platform.context import Platform
from minibox.platform.deps import PlatformDep
from minibox.platform.errors import NotFound, PlatformError
from minibox.platform.release import service
from minibox.platform.release.cache import Unavailable

router = APIRouter(prefix="/api/v1", tags=["host"])

HOST_KEY_HEADER = "X-Minibox-Host-Key"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
Ident = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
HostKey = Annotated[str | None, Header(alias=HOST_KEY_HEADER, max_length=200)]


class RangeNotSatisfiable(PlatformError):
    status = 416
    code = "range_not_satisfiable"


@router.get("/hosts/{host_id}/apps/{app_id}/update",
            summary="Which version (host, user) runs, and where its package is (host key required)",
            response_class=Response,
            responses={200: {"description": "The signed answer", "content": {"application/json": {}}}})
async def update_check(request: Request, host_id: Annotated[str, Path(pattern=Ident)],
                       app_id: Annotated[str, Path(pattern=Ident)], x_minibox_host_key: HostKey = None,
                       user_id: Annotated[str, Query(max_length=128, pattern=r"^[A-Za-z0-9_.:@-]*$")] = "",
                       region: Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9_.:@-]*$")] = None,
                       tags: Annotated[str, Query(max_length=2000, pattern=r"^[A-Za-z0-9_.:@,-]*$")] = "",
                       ) -> Response:
    """The hot path: answered from the replica's release snapshot on the event loop, without a database
    query or a thread hop; the slow path (lease lapsed, package not built yet) runs on the thread pool."""
    tag_set = frozenset(t for t in tags.split(",") if t)
    if len(tag_set) > service.MAX_TAGS:
        raise PlatformError(f"at most {service.MAX_TAGS} tags", code="invalid_request", status=422)
    platform: Platform = request.app.state.platform
    args = (x_minibox_host_key, host_id, app_id)
    kw: dict[str, Any] = {"user_id": user_id, "region": region or None, "tags": tag_set}
    answer = platform.releases.answer(*args, **kw) if platform.releases is not None else None
    if answer is None:
        answer = await run_in_threadpool(_slow_answer, platform, *args, **kw)
    return Response(orjson.dumps(answer), media_type="application/json")


def _slow_answer(platform: Platform, api_key: str | None, host_id: str, app_id: str, *, user_id: str,
                 region: str | None, tags: frozenset[str]) -> dict[str, Any]:
    cache = platform.releases
    if cache is not None:
        cache.ensure_fresh()  # 503 if the database cannot be read
        got = cache.answer(api_key, host_id, app_id, user_id=user_id, region=region, tags=tags)
        if got is not None:
            return got
    # the package is not built yet (or no snapshot): the database decides, as it is the truth
    try:
        with platform.db.read() as s:
            host = service.authenticate_host(s, api_key, host_id)
            decision = service.decide(s, host, app_id, user_id=user_id, region=region, tags=set(tags))
            pkg = service.host_package(platform, decision, s)
    except (OperationalError, InterfaceError) as e:
        raise Unavailable("the release database is unavailable; retry shortly") from e
    if cache is not None:
        cache.remember_package(decision.version.id, decision.release.build, host.id, host.key_fingerprint,
                               pkg.sha256, pkg.size)
    answer = {**service.update_answer(decision, pkg), "host_id": host_id, "user_id": user_id}
    return sign_answer(platform.package_signer, answer)


@router.get("/packages/{name}", summary="Download a package (host key required; supports HTTP Range)",
            responses={200: {"content": {"application/octet-stream": {}}},
                       206: {"content": {"application/octet-stream": {}}}})
def download(name: Annotated[str, Path(pattern=r"^[0-9a-f]{64}\.mbx$")], request: Request, platform: PlatformDep,
             x_minibox_host_key: HostKey = None) -> Response:
    sha = name.removesuffix(".mbx")
    with platform.db.read() as s:
        host = service.authenticate_host(s, x_minibox_host_key)
        pkg = service.package_for_host(s, host, sha)
    try:
        size = platform.blobs.size(pkg.sha256)
    except BlobNotFound as e:
        raise NotFound("package blob missing", code="no_package") from e
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{pkg.sha256}"', "Cache-Control": "private, max-age=0"}
    spec = request.headers.get("range")
    if spec is None:
        return Response(platform.blobs.get(pkg.sha256), media_type="application/octet-stream", headers=headers)
    m = _RANGE.match(spec.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        raise RangeNotSatisfiable("only one 'bytes=start-end' range is supported", details={"size": size})
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:
        suffix = int(m.group(2))
        start, end = max(size - suffix, 0), size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(f"range outside 0-{size - 1}", details={"size": size})
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(platform.blobs.read_range(pkg.sha256, start, end), status_code=206,
                    media_type="application/octet-stream", headers=headers)


@router.get("/trust/keyset", summary="The signed key set hosts trust for packages (public)")
def keyset(platform: PlatformDep) -> Response:
    return Response(toolchain.trust_keyset(platform.package_signer), media_type="application/json")
