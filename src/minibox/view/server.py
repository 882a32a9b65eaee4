"""The browser view: an ASGI app serving the host page, the renderer and a WebSocket per tab.

    app = create_app(ServedApp(host, bundle_dir))
    uvicorn.run(app, host="127.0.0.1", port=8080)

Each WebSocket connection runs one sandboxed instance (`ViewSession`). The host page holds no
mini-program code: it loads only minibox's own scripts under a strict CSP, and the renderer builds
the DOM from patches with createElement/textContent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from minibox.host import Host
from minibox.runtime.bundle import LoadedBundle
from minibox.view.session import MAX_CLIENT_MESSAGE, ClientMessageError, ViewSession, device_system
from minibox.view.styles import bundle_sheet

log = logging.getLogger(__name__)

#: minibox's own files the host page may load (nothing else is served from web/).
STATIC_FILES = {
    "host.html": "text/html; charset=utf-8",
    "renderer.js": "text/javascript; charset=utf-8",
    "host.js": "text/javascript; charset=utf-8",
    "builtins.css": "text/css; charset=utf-8",
    "host.css": "text/css; charset=utf-8",
}
#: Package files the view may load (images, fonts, media); everything else is refused.
ASSET_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".svg": "image/svg+xml", ".bmp": "image/bmp", ".ico": "image/x-icon",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".mp3": "audio/mpeg",
    ".mp4": "video/mp4", ".json": "application/json",
}
#: Device sizes the simulator offers (CSS pixels).
DEVICES = {
    "iphone-se": (375, 667), "iphone-14": (390, 844), "pixel-7": (412, 915), "ipad-mini": (768, 1024),
}


def page_order(bundle: LoadedBundle) -> list[str]:
    """The app's pages as app.json lists them (the home page first), then subpackage pages."""
    compiled = bundle.page_paths()
    listed = [str(p).lstrip("/") for p in bundle.config.get("app", {}).get("pages", [])]
    first = [p for p in dict.fromkeys([bundle.config.get("entryPage"), *listed]) if p in compiled]
    return first + [p for p in compiled if p not in first]


def content_security_policy(image_hosts: Iterable[str] = (), frame_hosts: Iterable[str] = ()) -> str:
    """The host page's CSP: only our scripts, no inline script or eval, loads only from allowlists."""
    imgs = " ".join(["'self'", "data:", *(f"https://{h}" for h in image_hosts)])
    frames = " ".join(f"https://{h}" for h in frame_hosts) or "'none'"
    return "; ".join([
        "default-src 'none'", "script-src 'self'", "style-src 'self'", f"img-src {imgs}",
        f"media-src {imgs}", "font-src 'self' data:", "connect-src 'self'", f"frame-src {frames}",
        "frame-ancestors 'self'", "base-uri 'none'", "form-action 'none'", "object-src 'none'",
    ])


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin", "Cache-Control": "no-store",
}


@dataclass
class ServedApp:
    """What the view server shows: one compiled bundle (or its compile errors) and its host."""

    host: Host
    bundle_dir: Path | None
    app_id: str = "wxdev000000000000"
    user_id: str = "dev-user"
    errors: list[str] = field(default_factory=list)
    #: errors of files that fail alone (their pages open as error pages) and the compiler's
    #: warnings, as `file:line:col: ...` lines: shown in the simulator's console
    page_errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: https hosts a <web-view> may open and images may load from
    webview_hosts: tuple[str, ...] = ()
    image_hosts: tuple[str, ...] = ()
    version: int = 1
    #: the host's watermark over every page, e.g. "{user} {app} {date} {time}" (minibox.policy.watermark;
    #: drawn with the app's own from its grants); None: HostConfig.watermark
    watermark: str | None = None
    sessions: set[ViewSession] = field(default_factory=set)
    sockets: set[WebSocket] = field(default_factory=set)
    #: the server's event loop, once it runs (a file watcher posts reloads to it)
    loop: asyncio.AbstractEventLoop | None = None
    _sheet: str | None = None

    def bundle(self) -> LoadedBundle:
        if self.bundle_dir is None:
            raise RuntimeError("no bundle: the project did not compile")
        return LoadedBundle.from_dir(self.bundle_dir)

    def sheet(self) -> str:
        if self._sheet is None:
            self._sheet = bundle_sheet(self.bundle_dir) if self.bundle_dir else ""
        return self._sheet

    def apply(self, report: Any) -> None:
        """Take a build (`minibox.view.devserver.CompileReport`); a failed one keeps the last bundle."""
        if report.bundle_dir is not None:
            self.bundle_dir = report.bundle_dir
        self.errors, self.page_errors, self.warnings = list(report.errors), list(report.page_errors), list(report.warnings)
        self._sheet = None

    async def replace(self, report: Any) -> None:
        """A recompile finished: new bundle (or errors); every open tab reloads or shows errors."""
        self.apply(report)
        self.version += 1
        msg = {"t": "compileErrors", "errors": self.errors} if self.errors else {"t": "reload"}
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await ws.send_text(json.dumps(msg))


def _headers(served: ServedApp, content_type: str) -> dict[str, str]:
    headers = dict(SECURITY_HEADERS)
    headers["Content-Security-Policy"] = content_security_policy(served.image_hosts, served.webview_hosts)
    headers["Content-Type"] = content_type
    return headers


def _web_file(name: str) -> bytes:
    return (resources.files("minibox.view") / "web" / name).read_bytes()


def create_app(served: ServedApp) -> Starlette:
    """The ASGI app of the browser view."""

    async def index(request: Request) -> Response:
        return Response(_web_file("host.html"), headers=_headers(served, STATIC_FILES["host.html"]))

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES or name == "host.html":
            return Response("not found", status_code=404)
        return Response(_web_file(name), headers=_headers(served, STATIC_FILES[name]))

    async def state(request: Request) -> Response:
        pages = page_order(served.bundle()) if served.bundle_dir else []
        return JSONResponse({"version": served.version, "errors": served.errors, "pageErrors": served.page_errors,
                             "warnings": served.warnings,
                             "devices": DEVICES, "pages": pages, "webviewHosts": list(served.webview_hosts),
                             "imageHosts": list(served.image_hosts)},
                            headers=SECURITY_HEADERS)

    async def style(request: Request) -> Response:
        if served.bundle_dir is None:
            return Response("", headers=_headers(served, "text/css; charset=utf-8"))
        return Response(served.sheet(), headers=_headers(served, "text/css; charset=utf-8"))

    async def asset(request: Request) -> Response:
        rel = PurePosixPath(request.path_params["path"])
        kind = ASSET_TYPES.get(rel.suffix.lower())
        if served.bundle_dir is None or kind is None or rel.is_absolute() or ".." in rel.parts:
            return Response("not found", status_code=404)
        root = (served.bundle_dir / "assets").resolve()
        target = (root / rel).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return Response("not found", status_code=404)
        headers = _headers(served, kind)
        headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return Response(target.read_bytes(), headers=headers)

    async def socket(ws: WebSocket) -> None:
        if not same_origin(ws.headers.get("origin"), ws.headers.get("host")):
            await ws.close(code=1008)  # another site's page must not drive a mini-program (CSWSH)
            return
        await ws.accept()
        served.sockets.add(ws)
        session: ViewSession | None = None
        try:
            if served.errors:
                await ws.send_text(json.dumps({"t": "compileErrors", "errors": served.errors}))
                while True:
                    await ws.receive_text()
            # the watermark (the host's template here, the app's from its grants) is sent by Host.start
            session = ViewSession(served.host, served.bundle(), app_id=served.app_id, user_id=served.user_id,
                                  loop=asyncio.get_running_loop(), watermark=served.watermark)
            served.sessions.add(session)
            path = ws.query_params.get("path") or None
            query = ws.query_params.get("query") or ""
            device = DEVICES.get(ws.query_params.get("device") or "")
            system = device_system(*device, served.host.config.system) if device else None
            sender = asyncio.create_task(_relay(ws, session))
            try:
                await session.start(path, query, system)
                while True:
                    text = await ws.receive_text()
                    reply = await _client_message(session, text)
                    if reply is not None:  # after the patches the command produced, in order
                        session.channel.on_message(reply)
            finally:
                sender.cancel()
        except WebSocketDisconnect:
            pass
        finally:
            served.sockets.discard(ws)
            if session is not None:
                served.sessions.discard(session)
                await session.close()

    routes = [
        Route("/", index), Route("/static/{name}", static), Route("/state", state),
        Route("/bundle/{version}/app.css", style), Route("/bundle/{version}/assets/{path:path}", asset),
        WebSocketRoute("/ws", socket),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        served.loop = asyncio.get_running_loop()
        yield
        for session in list(served.sessions):
            await session.close()

    return Starlette(routes=routes, lifespan=lifespan)


def same_origin(origin: str | None, host: str | None) -> bool:
    """A browser WebSocket is accepted only from our own pages; clients without Origin are not browsers."""
    if origin is None:
        return True
    parsed = urlsplit(origin)
    return parsed.scheme in ("http", "https") and bool(host) and parsed.netloc.lower() == (host or "").lower()


async def _client_message(session: ViewSession, text: str) -> dict[str, Any] | None:
    if len(text) > MAX_CLIENT_MESSAGE:
        return {"t": "refused", "reason": f"message larger than {MAX_CLIENT_MESSAGE} characters"}
    try:
        return await session.handle(json.loads(text))
    except (ClientMessageError, ValueError, TypeError) as exc:
        return {"t": "refused", "reason": str(exc)}
    except Exception as exc:  # a fault inside the mini-program: shown in the page's console
        log.debug("view command failed", exc_info=True)
        return {"t": "error", "message": f"{type(exc).__name__}: {exc}", "stack": ""}


async def _relay(ws: WebSocket, session: ViewSession) -> None:
    """Instance messages -> browser, in order; several queued messages go as one frame."""
    queue = session.channel.queue
    while True:
        batch = [await queue.get()]
        while not queue.empty() and len(batch) < 256:
            batch.append(queue.get_nowait())
        await ws.send_text(json.dumps({"t": "batch", "messages": batch}, default=str))
