"""`minibox dev`: compile a project, serve it in the browser view, recompile on change, screenshot.

The logic lives here; `commands.py` only parses options.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn

from minibox.compiler import compile_project
from minibox.compiler.errors import CompileError, CompileErrors
from minibox.host import Host, HostConfig
from minibox.view.discover import discover_queries
from minibox.view.server import DEVICES, ServedApp, create_app

#: Debian's Chromium, as installed by `.ci/run`.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
#: How long a screenshot waits for a page to render.
SCREENSHOT_TIMEOUT_MS = 15_000
#: Seconds the server may take to start listening.
STARTUP_TIMEOUT_S = 10.0


class DevServerError(RuntimeError):
    """The dev server could not start."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compile_errors(exc: BaseException) -> list[str]:
    """Compile failures as `file:line:col: message [rule]` lines."""
    if isinstance(exc, CompileErrors):
        return [str(e) for e in exc.errors]
    if isinstance(exc, CompileError):
        return [str(exc)]
    return [f"{type(exc).__name__}: {exc}"]


def _lines(found: Any, tag: str) -> list[str]:
    out: list[str] = []
    for e in found or []:
        if isinstance(e, dict):
            out.append(f"{e.get('file')}:{e.get('line')}:{e.get('column')}: {tag}{e.get('message')}"
                       f" [{e.get('code', 'error')}]")
        else:
            out.append(str(e))
    return out


def _unique(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))


@dataclass
class CompileReport:
    """One build: without a bundle, `errors` say why the app cannot run; with one, `page_errors` are
    the errors of files that fail alone (their pages open as error pages), `warnings` what WeChat
    accepts but a developer should know. Every line is `file:line:col: message [code]`."""

    bundle_dir: Path | None
    errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, bundle_dir: Path, built: Any) -> CompileReport:
        return cls(bundle_dir, [], _unique(_lines(getattr(built, "errors", None), "")),
                   _unique(_lines(getattr(built, "warnings", None), "warning: ")))


@dataclass
class DevServer:
    """Serves one project at http://127.0.0.1:<port>/ and recompiles it on demand."""

    project: Path
    port: int = 0
    data_dir: Path | None = None
    on_compile: Callable[[CompileReport], None] | None = None
    #: https hosts images may load from and a <web-view> may open (exact host names)
    image_hosts: tuple[str, ...] = ()
    webview_hosts: tuple[str, ...] = ()
    #: the host's watermark template ("{user} {app} {host} {date} {time}"), or None
    watermark: str | None = None
    served: ServedApp = field(init=False)
    _work: Path = field(init=False)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _builds: int = 0

    def __post_init__(self) -> None:
        self.project = Path(self.project).resolve()
        self._work = Path(tempfile.mkdtemp(prefix="minibox-dev-"))
        host = Host(HostConfig(data_dir=self.data_dir or self._work / "host"))
        self.served = ServedApp(host, None, image_hosts=tuple(h.lower() for h in self.image_hosts),
                                webview_hosts=tuple(h.lower() for h in self.webview_hosts),
                                watermark=self.watermark)
        self.served.apply(self._compile())
        if not self.port:
            self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _compile(self) -> CompileReport:
        self._builds += 1
        out = self._work / f"build-{self._builds}"
        try:
            report = CompileReport.of(out, compile_project(self.project, out))
        except Exception as exc:  # shown in the page and the terminal
            shutil.rmtree(out, ignore_errors=True)
            report = CompileReport(None, compile_errors(exc))
        if self.on_compile:
            self.on_compile(report)
        return report

    def rebuild(self) -> list[str]:
        """Recompile; open tabs reload (or show the errors). Returns the errors (the app's, if it
        cannot run, else those of the files that fail alone)."""
        report = self._compile()
        loop = self.served.loop
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self.served.replace(report), loop).result(timeout=10)
        else:
            self.served.apply(report)
        return report.errors or report.page_errors

    def launch_queries(self, given: dict[str, str] | None = None,
                       discover: bool = True) -> tuple[dict[str, str], dict[str, str]]:
        """Each page's launch query for screenshots, and where it came from: `given` (--page-query)
        first, else what the app's own navigation passes (see minibox.view.discover)."""
        given = {k: v for k, v in (given or {}).items() if v}
        queries = dict(given)
        sources = {k: "--page-query" for k in given}
        if discover and self.served.bundle_dir is not None:
            for path, found in discover_queries(self.served.host, self.served.bundle(), given,
                                                app_id=self.served.app_id, project=self.project).items():
                queries[path], sources[path] = found.query, f"from {found.source}"
        return queries, sources

    def start(self) -> None:
        config = uvicorn.Config(create_app(self.served), host="127.0.0.1", port=self.port, log_level="warning",
                                ws_max_size=1 << 20)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="minibox-dev", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise DevServerError(f"the view server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.served.host.close()
        shutil.rmtree(self._work, ignore_errors=True)

    def watch(self, stop: threading.Event | None = None) -> None:
        """Recompile whenever a file of the project changes (blocks until `stop` is set)."""
        from watchfiles import watch

        for _changes in watch(self.project, stop_event=stop, debounce=200):
            self.rebuild()

    def __enter__(self) -> DevServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def screenshot_pages(url: str, pages: list[str], out_dir: Path, device: str = "iphone-se",
                     browser: Any = None, queries: dict[str, str] | None = None) -> list[Path]:
    """Open every page in Chromium and save `<out_dir>/<page path with __>.png`.

    `queries` gives a page its launch query ("id=3"); `browser` is a Playwright browser to reuse
    (without one, Debian's Chromium is started)."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if browser is not None:
        return _shoot(browser, url, pages, out_dir, device, queries or {})
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        own = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            return _shoot(own, url, pages, out_dir, device, queries or {})
        finally:
            own.close()


def _shoot(browser: Any, url: str, pages: list[str], out_dir: Path, device: str,
           queries: dict[str, str]) -> list[Path]:
    shots: list[Path] = []
    context = browser.new_context(viewport={"width": 1100, "height": 1100})
    try:
        page = context.new_page()
        for path in pages:
            page.goto(f"{url}?" + urlencode({"path": path, "device": device, "query": queries.get(path, "")}))
            page.wait_for_function(
                "p => window.__mbView && [...window.__mbView.pages.values()].some(x => x.path === p)"
                " && document.fonts.status === 'loaded'", arg=path, timeout=SCREENSHOT_TIMEOUT_MS)
            page.wait_for_timeout(400)  # page transition and images
            target = out_dir / f"{path.replace('/', '__')}.png"
            page.locator("#mb-device-frame").screenshot(path=str(target))
            shots.append(target)
    finally:
        context.close()
    return shots
