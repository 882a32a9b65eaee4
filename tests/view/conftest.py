"""Fixtures for the view tests: a Chromium per session, a dev server per project, helpers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from minibox.view.devserver import CHROMIUM, CHROMIUM_ARGS, DevServer

HERE = Path(__file__).resolve().parent
PROJECTS = HERE / "projects"
EXAMPLES = HERE.parent.parent / "examples"
#: Generous upper bound for anything the browser or sandbox does in a test (not a timing assertion).
WAIT_S = 15.0


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Sim:
    """One browser tab on a dev server, with access to the session behind it."""

    def __init__(self, server: DevServer, page: Any) -> None:
        self.server = server
        self.page = page
        self.requests: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))

    def open(self, path: str | None = None, query: str = "", device: str | None = None) -> Sim:
        params = [f"path={path}"] if path else []
        params += [f"query={query}"] if query else []
        params += [f"device={device}"] if device else []
        url = self.server.url + ("?" + "&".join(params) if params else "")
        before = set(self.server.served.sessions)
        self.page.goto(url)
        self.page.wait_for_function("() => window.__mbView && window.__mbView.stack.length > 0", timeout=WAIT_S * 1000)
        self._session = wait_for(lambda: next(iter(set(self.server.served.sessions) - before), None), "a session")
        return self

    @property
    def session(self) -> Any:
        return self._session

    @property
    def instance(self) -> Any:
        return self.session.instance

    def top_page_id(self) -> int:
        return self.page.evaluate("() => window.__mbView.stack[window.__mbView.stack.length - 1]")

    def data(self) -> dict[str, Any]:
        return self.instance.command("pageData", {"page": self.top_page_id()})

    def events(self) -> list[dict[str, Any]]:
        return self.data().get("events", [])

    def wait_event(self, type_: str, node_id: str | None = None) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for e in reversed(self.events()):
                if e["type"] == type_ and (node_id is None or e["id"] == node_id):
                    return e
            return None
        return wait_for(find, f"event {type_} on {node_id}")

    def q(self, selector: str) -> Any:
        """A locator for a mini-program element by WXML selector (`#id`, `.cls`, `view`)."""
        return self.page.locator(selector_to_css(selector)).first

    def settle(self) -> None:
        """Wait until the browser has applied everything the server sent."""
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))")
        inst = self.instance
        wait_for(lambda: not inst.has_pending(), "pending API calls")
        self.page.wait_for_timeout(50)


def selector_to_css(selector: str) -> str:
    import re

    return re.sub(r"(^|[\s>+~,(])([a-z][a-z0-9\-]*)", r"\1wx-\2", selector)


@pytest.fixture(scope="module")
def served_project(request: pytest.FixtureRequest) -> Iterator[DevServer]:
    project = request.param if hasattr(request, "param") else PROJECTS / "widgets"
    server = DevServer(Path(project))
    assert not server.served.errors, server.served.errors
    with server:
        yield server


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1000, "height": 1000})
    ctx.set_default_timeout(WAIT_S * 1000)
    yield ctx
    ctx.close()


@pytest.fixture
def sim(context: Any, served_project: DevServer) -> Iterator[Sim]:
    page = context.new_page()
    s = Sim(served_project, page)
    yield s
    page.close()


def serve(project: Path) -> Iterator[DevServer]:
    server = DevServer(project)
    assert not server.served.errors, server.served.errors
    with server:
        yield server


def dom_mismatches(sim: Sim, page_id: int) -> list[str]:
    """Reflected DOM attributes and classes that differ from the applied model (should be none)."""
    return sim.page.evaluate("""id => {
      const out = [];
      const root = window.__mbView.pages.get(id).root;
      for (const el of [root, ...root.querySelectorAll('*')]) {
        if (!el.__mb || !el.__mb.tag) continue;
        if (el.localName !== 'wx-' + el.__mb.tag) out.push('tag ' + el.localName);
        const cls = el.__mbHover ? null : el.__mb.cls;
        if (cls !== null && el.className !== cls) out.push('class ' + el.className + ' != ' + cls);
        for (const [k, v] of Object.entries(el.__mb.attrs)) {
          if (!/^[a-z_][a-z0-9_\\-:.]*$/i.test(k) || /^(on|style$|class$|src$|href$|srcdoc$|action$|formaction$|xmlns|is$|xlink:|data-mb-)/i.test(k)) continue;
          const want = v === false || v === null ? null : v === true ? '' : typeof v === 'string' ? v : JSON.stringify(v);
          if (el.getAttribute(k) !== want) out.push('attr ' + k + ': ' + el.getAttribute(k) + ' != ' + want);
        }
      }
      return out;
    }""", page_id)


def tree_diff(a: Any, b: Any, path: str = "") -> str | None:
    """The first place where two normalised trees differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            d = tree_diff(a.get(key), b.get(key), f"{path}.{key}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}: {a!r:.300} vs {b!r:.300}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = tree_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r:.200} != {b!r:.200}"
