"""Request -> platform and caller. Authentication and the authorisation check live here only."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request

from minibox.platform.accounts import service as accounts
from minibox.platform.context import Ctx, Platform, Principal
from minibox.platform.errors import Forbidden, Unauthenticated
from minibox.platform.permissions import allowed

SESSION_COOKIE = "mb_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


PlatformDep = Annotated[Platform, Depends(get_platform)]


def client_label(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def authenticate(request: Request, platform: Platform) -> Principal:
    """Bearer API token or session token, or the session cookie with a CSRF token (MGT-04)."""
    auth = request.headers.get("authorization", "")
    with platform.db.read() as s:
        if auth:
            scheme, _, value = auth.partition(" ")
            value = value.strip()
            if scheme.lower() != "bearer" or not value:
                raise Unauthenticated("use 'Authorization: Bearer <token>'")
            if value.startswith(accounts.TOKEN_PREFIX):
                p = accounts.resolve_token(s, value)
                if p is None:
                    raise Unauthenticated("token unknown, revoked or expired")
                return p
            resolved = accounts.resolve_session(s, value)
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            if not cookie:
                raise Unauthenticated("log in first")
            resolved = accounts.resolve_session(s, cookie)
            if resolved is not None and request.method not in SAFE_METHODS:
                token = request.headers.get(CSRF_HEADER, "")
                if not _same_origin(request) or not hmac.compare_digest(token, resolved.csrf_token):
                    raise Forbidden("missing or wrong CSRF token, or cross-origin request", code="csrf_failed")
    if resolved is None:
        raise Unauthenticated("session unknown, expired or ended")
    if resolved.needs_touch:
        with platform.db.write() as s:
            accounts.touch_session(s, resolved.principal.credential_id)
    return resolved.principal


class Authorize:
    """Dependency that authenticates the caller and checks one named action."""

    def __init__(self, action: str):
        self.action = action

    def __call__(self, request: Request) -> Principal:
        platform = get_platform(request)
        p = authenticate(request, platform)
        if not allowed(p, self.action):
            with platform.db.write() as s:
                Ctx(s, platform, p).audit("authz.denied", f"{request.method} {request.url.path}"[:200],
                                          {"action": self.action, "role": p.role}, outcome="denied")
            raise Forbidden(f"role {p.role!r} may not {self.action}"
                            + (" (or the token lacks the scope)" if p.kind == "token" else ""))
        return p


def requires(action: str) -> Any:
    """`p: Annotated[Principal, requires("apps.read")]`"""
    return Depends(Authorize(action))
