"""A small real platform on 127.0.0.1 for the updater tests: the update-check and package endpoints
of docs (contract in the package brief), served by uvicorn in a thread, with knobs for failures."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from minibox.package.answer import sign_answer

HOST_API_KEY = "host-secret-key"


@dataclass
class Release:
    app_id: str
    version: str
    build: int
    data: bytes
    allowlist: dict[str, Any] = field(default_factory=lambda: {"request": ["https://api.bank.example"]})

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class PlatformState:
    releases: dict[str, Release] = field(default_factory=dict)
    taken_down: set[str] = field(default_factory=set)
    packages: dict[str, bytes] = field(default_factory=dict)
    drop_after: int | None = None   # close the connection after sending this many body bytes (once)
    ignore_range: bool = False
    endless: bool = False           # send more bytes than announced
    redirect_to: str | None = None  # answer update checks with a redirect
    package_url: str | None = None  # override the package URL in update answers
    requests: list[dict[str, Any]] = field(default_factory=list)
    signer: Any = None              # a SigningKey: answers are signed as the real platform does
    now: Any = None                 # the signing clock (datetime)
    tamper: Any = None              # a function applied to the signed answer (to test refusals)

    def publish(self, release: Release) -> None:
        self.releases[release.app_id] = release
        self.packages[release.sha256] = release.data


def make_app(state: PlatformState) -> Starlette:
    async def update(request: Request) -> Response:
        state.requests.append({"path": request.url.path, "query": dict(request.query_params),
                               "key": request.headers.get("x-minibox-host-key")})
        if request.headers.get("x-minibox-host-key") != HOST_API_KEY:
            return JSONResponse({"code": "unauthorized"}, status_code=401)
        if state.redirect_to:
            return Response(status_code=302, headers={"location": state.redirect_to})
        app_id = request.path_params["app_id"]
        if app_id in state.taken_down:
            return JSONResponse({"code": "taken_down"}, status_code=410)
        release = state.releases.get(app_id)
        if release is None:
            return JSONResponse({"code": "no_release"}, status_code=404)
        url = state.package_url or f"/api/v1/packages/{release.sha256}.mbx"
        answer = {"app_id": app_id, "version": release.version, "build": release.build,
                  "package": {"url": url, "sha256": release.sha256, "size": len(release.data)},
                  "allowlist": release.allowlist, "host_id": request.path_params["host_id"],
                  "user_id": request.query_params.get("user_id", "")}
        if state.signer is not None:
            answer = sign_answer(state.signer, answer, now=state.now)
        if state.tamper is not None:
            answer = state.tamper(answer)
        return JSONResponse(answer)

    async def package(request: Request) -> Response:
        sha = request.path_params["name"].removesuffix(".mbx")
        data = state.packages.get(sha)
        range_header = request.headers.get("range")
        state.requests.append({"path": request.url.path, "range": range_header})
        if data is None:
            return JSONResponse({"code": "not_found"}, status_code=404)
        start, status, headers = 0, 200, {}
        if range_header and not state.ignore_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            status = 206
            headers["content-range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:] + (b"x" * 100_000 if state.endless else b"")
        headers["content-length"] = str(len(body))
        drop = state.drop_after
        state.drop_after = None

        async def stream() -> AsyncIterator[bytes]:
            sent = 0
            for i in range(0, len(body), 16_384):
                chunk = body[i : i + 16_384]
                if drop is not None and sent + len(chunk) > drop:
                    yield chunk[: drop - sent]
                    raise ConnectionAbortedError("test server drops the connection")
                sent += len(chunk)
                yield chunk

        return StreamingResponse(stream(), status_code=status, headers=headers,
                                 media_type="application/octet-stream")

    return Starlette(routes=[
        Route("/api/v1/hosts/{host_id}/apps/{app_id}/update", update),
        Route("/api/v1/packages/{name}", package),
    ])


@contextmanager
def serve(state: PlatformState) -> Iterator[str]:
    """Run the platform on a free port of 127.0.0.1; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(state), log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test platform did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def dead_url() -> str:
    """A base URL where nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"
