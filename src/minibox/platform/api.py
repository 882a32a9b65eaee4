"""The FastAPI application: a thin HTTP layer over the domain services."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minibox.platform.context import Platform
from minibox.platform.deps import PlatformDep

log = logging.getLogger("minibox.platform")

#: Largest request body accepted, checked before the body is read (MGT-12).
MAX_REQUEST_BYTES = 30 * 1024 * 1024

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden",
               413: "too_large", 415: "unsupported_media_type", 400: "bad_request"}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


class _BodyTooLarge(Exception):
    pass


class LimitsMiddleware:
    """Refuses oversized bodies (by header, then by counting) and adds security headers."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        try:
            too_big = length is not None and int(length) > MAX_REQUEST_BYTES
        except ValueError:
            too_big = True
        if too_big:
            await JSONResponse(error_body("too_large", f"request body over {MAX_REQUEST_BYTES} bytes"),
                               status_code=413)(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_REQUEST_BYTES:
                raise _BodyTooLarge
            return message

        async def secure_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY")]
                if not any(k.lower() == b"cache-control" for k, _ in message.get("headers", [])):
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, counting_receive, secure_send)
        except _BodyTooLarge:
            await JSONResponse(error_body("too_large", f"request body over {MAX_REQUEST_BYTES} bytes"),
                               status_code=413)(scope, receive, send)


system_router = APIRouter(prefix="/api/v1", tags=["public"])


@system_router.get("/health", summary="Liveness and database check")
def health(platform: PlatformDep) -> dict[str, str]:
    with platform.db.read() as s:
        s.execute(text("SELECT 1"))
    return {"status": "ok"}


@system_router.get("/ping", summary="Trivial endpoint (benchmark baseline)")
def ping() -> dict[str, str]:
    return {"pong": "ok"}


def routers() -> list[Any]:
    """Every domain's router: the authorisation matrix test walks these."""
    from minibox.platform.accounts.routes import router as accounts_router
    from minibox.platform.apps.routes import router as apps_router
    from minibox.platform.audit.routes import router as audit_router
    from minibox.platform.console import router as console_router
    from minibox.platform.hosts.routes import router as hosts_router
    from minibox.platform.privacy.routes import router as privacy_router
    from minibox.platform.release.routes import router as release_router
    from minibox.platform.release.update_routes import router as update_router
    from minibox.platform.review.routes import router as review_router
    from minibox.platform.supplychain.routes import router as supplychain_router
    from minibox.platform.telemetry.routes import router as telemetry_router

    # the host update check first: it is the hot path, and routes are matched in order
    return [update_router, system_router, accounts_router, apps_router, review_router, release_router,
            hosts_router, audit_router, supplychain_router, privacy_router, telemetry_router, console_router]


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(title="minibox platform", version="1", description=(
        "Management API of minibox: accounts, apps and versions, review, release and grayscale, "
        "hosts and allowlists, audit. Every error is JSON `{code, message, details?}`."))
    app.state.platform = platform
    for router in routers():
        app.include_router(router)

    from minibox.platform.errors import PlatformError

    @app.exception_handler(PlatformError)
    async def _platform_error(_: Request, exc: PlatformError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
        return JSONResponse(error_body("invalid_request", "request does not match the schema", details),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse(error_body("conflict", "conflicts with existing data"), status_code=409)

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        return JSONResponse(error_body("invalid_request", "a value is out of range"), status_code=400)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _db_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse(error_body("unavailable", "the database is unavailable; retry shortly"),
                            status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(StatementError)
    async def _statement(_: Request, exc: StatementError) -> JSONResponse:
        log.exception("database statement failed")
        return JSONResponse(error_body("invalid_request", "a value cannot be stored"), status_code=400)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("internal_error", "internal error"), status_code=500)

    app.add_middleware(LimitsMiddleware)
    from minibox.platform import metrics

    metrics.install(app, platform)  # /metrics and per-route request metrics (outermost)
    return app
