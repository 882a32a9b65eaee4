"""The minimal HTML console: static files that call the JSON API (the API is the product; docs at /docs)."""

from __future__ import annotations

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
FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}


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
