"""The operator console: a small vanilla-JS single-page app (no build step) that calls the JSON API.

The console holds no authority of its own: every action is a call to `/api/v1/...` with the session
cookie and the CSRF token, so the same routes, `permissions.POLICY` checks and services decide.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response

from minibox.platform.errors import NotFound

router = APIRouter()

STATIC = Path(__file__).parent / "console_static"
#: Only minibox's own script and style; no inline code, nothing from elsewhere, no framing (MGT-09).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
FILES = {"app.js": "text/javascript; charset=utf-8", "i18n.js": "text/javascript; charset=utf-8",
         "app.css": "text/css; charset=utf-8", "logo.svg": "image/svg+xml"}


def totp_qr_svg(uri: str) -> str:
    """The otpauth:// URI as a QR code in SVG, made here (no third party sees the TOTP secret)."""
    import segno

    buf = io.BytesIO()
    segno.make(uri, error="m").save(buf, kind="svg", xmldecl=False, svgns=True, nl=False, scale=4, border=2,
                                   svgclass="totp-qr", lineclass=None)
    return buf.getvalue().decode()


@router.get("/", include_in_schema=False)
def index() -> RedirectResponse:
    return RedirectResponse("/console", status_code=307)


@router.get("/console", include_in_schema=False)
def console() -> Response:
    return Response((STATIC / "index.html").read_bytes(), media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": CSP})


@router.get("/console/{name}", include_in_schema=False)
def asset(name: Annotated[str, PathParam(max_length=20)]) -> Response:
    if name not in FILES:
        raise NotFound("no such file")
    return Response((STATIC / name).read_bytes(), media_type=FILES[name], headers={"Content-Security-Policy": CSP})
