"""Launch queries for `minibox dev --screenshot`, learnt from the mini-program's own navigation.

A page such as `pages/detail/detail` usually needs a query (`id=p2`) that another page passes when
it navigates there. `discover_queries` runs the app headlessly in a throwaway instance (its own
user, so its storage is not the simulator's), opens every page and records the query of every page
the app opens: from `<navigator url>` values as rendered, and by tapping each distinct element that
has a tap handler (the first of a list is enough) and watching which page opens. Pages still without
a query take one written literally in the app's files (`static_queries`). It never reaches the
browser or the page being screenshotted.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minibox.host import Host
from minibox.runtime.bundle import LoadedBundle
from minibox.view.server import page_order
from minibox.view.tree import HeadlessView, Node

log = logging.getLogger(__name__)

#: Distinct tappable elements tried per page, at most.
TAPS_PER_PAGE = 40
#: Seconds the whole discovery may take.
BUDGET_S = 60.0
#: Seconds to let one tap's timers and API calls finish (the clock is virtual).
SETTLE_S = 1.0
#: The user the throwaway instance runs as.
DISCOVERY_USER = "minibox-dev-discovery"


@dataclass(frozen=True)
class Found:
    """A page's launch query and where it came from ("navigator in pages/a/a", "tap in pages/a/a")."""

    query: str
    source: str


def query_text(query: Any) -> str:
    """A page's query object (values undecoded, as WeChat passes them) as a query string."""
    if not isinstance(query, dict):
        return ""
    return "&".join(f"{k}={'' if v is None else v}" for k, v in query.items())


def resolve_url(url: str, base_page: str) -> tuple[str, str]:
    """(page path, query string) of a navigation url, relative urls against `base_page`'s folder."""
    path, _, query = str(url).partition("?")
    if not path.startswith("/"):
        path = posixpath.join(posixpath.dirname(base_page), path)
    path = posixpath.normpath("/" + path.lstrip("/")).lstrip("/")
    if path.endswith(".html"):
        path = path[:-5]
    return path, query


class _Opened:
    """A view that records every page the instance opens."""

    def __init__(self) -> None:
        self.pages: list[tuple[str, str]] = []

    def on_message(self, message: dict[str, Any]) -> None:
        if message.get("t") == "page" and message.get("op") == "open":
            self.pages.append((str(message.get("path")), query_text(message.get("query"))))


def discover_queries(host: Host, bundle: LoadedBundle, given: dict[str, str] | None = None, *,
                     app_id: str = "wxdev000000000000", budget_s: float = BUDGET_S,
                     project: Path | None = None) -> dict[str, Found]:
    """Launch queries for the pages of `bundle` that `given` has none for, as the app navigates;
    then, for pages still without one, literal urls in the `project`'s own files."""
    found = _Discovery(host, bundle, dict(given or {}), app_id, budget_s).run()
    if project is not None:
        pages = page_order(bundle)
        for path, hit in static_queries(project, pages).items():
            if path not in found and path not in (given or {}):
                found[path] = hit
    return found


#: A quoted string that is a page url with a query: '/pages/a/a?id=3' (not '...?id=' + x).
_JS_URL = re.compile(r"""(['"`])(/?[A-Za-z0-9_\-./]+)\?([^'"`\s${}]+)\1(?!\s*\+)""")
#: A url attribute of a WXML element, without bindings.
_WXML_URL = re.compile(r"""\burl\s*=\s*(['"])([^'"{}]+)\?([^'"{}]+)\1""")
#: Largest source file read by the static scan, in bytes.
MAX_SCAN_BYTES = 1 << 20


def static_queries(project: Path, pages: list[str]) -> dict[str, Found]:
    """Queries written literally in the app's own .js and .wxml files (not miniprogram_npm or
    node_modules): `url: '/pages/a/a?id=3'`, `<navigator url="../a/a?id=3">`."""
    project = Path(project)
    root = project
    try:
        cfg = json.loads((project / "project.config.json").read_text("utf-8"))
        root = project / str(cfg.get("miniprogramRoot") or "")
    except (OSError, ValueError):
        pass
    found: dict[str, Found] = {}
    for file in sorted(root.rglob("*")):
        rel = file.relative_to(root).as_posix()
        if file.suffix not in (".js", ".wxml") or not file.is_file() or file.stat().st_size > MAX_SCAN_BYTES:
            continue
        if rel.split("/")[0] in ("miniprogram_npm", "node_modules") or "/." in "/" + rel:
            continue
        text = file.read_text("utf-8", errors="replace")
        pattern = _JS_URL if file.suffix == ".js" else _WXML_URL
        for m in pattern.finditer(text):
            target, _ = resolve_url(m.group(2), rel)
            if target in pages and target not in found:
                line = text.count("\n", 0, m.start()) + 1
                found[target] = Found(m.group(3), f"a url in {rel}:{line}")
    return found


class _Discovery:
    def __init__(self, host: Host, bundle: LoadedBundle, given: dict[str, str], app_id: str,
                 budget_s: float) -> None:
        self.host, self.bundle, self.given, self.app_id = host, bundle, given, app_id
        self.pages = page_order(bundle)
        self.found: dict[str, Found] = {}
        self.mirror, self.opened = HeadlessView(), _Opened()
        self.deadline = time.monotonic() + budget_s
        self.inst: Any = None

    def run(self) -> dict[str, Found]:
        if not self.pages:
            return {}
        self.inst = self.host.start(self.bundle, app_id=self.app_id, user_id=DISCOVERY_USER,
                                    views=[self.mirror, self.opened], virtual_time=True)
        try:
            self.inst.launch(self.pages[0], self.given.get(self.pages[0], ""))
            self.settle()
            self.opened.pages.clear()
            visited: set[tuple[str, str]] = set()
            for _round in range(2):  # a query found late may lead to more pages
                before = len(self.found)
                for path in self.pages:
                    key = (path, self.query_of(path))
                    if time.monotonic() > self.deadline or key in visited:
                        continue
                    visited.add(key)
                    try:
                        self.visit(path)
                    except Exception:  # one page's fault must not stop the others
                        log.debug("discovery: page %s failed", path, exc_info=True)
                if len(self.found) == before:
                    break
        finally:
            for prompt in self.inst.services.ui.prompts:
                if not prompt.answered:
                    prompt.cancel()
            self.inst.close()
            if self.inst in self.host.instances:
                self.host.instances.remove(self.inst)
        return self.found

    def query_of(self, path: str) -> str:
        return self.given.get(path) or (self.found[path].query if path in self.found else "")

    def settle(self) -> None:
        try:
            self.inst.wait_idle(timeout=SETTLE_S)
        except Exception:  # a fault in the app: discovery goes on with what it has
            log.debug("discovery: settle failed", exc_info=True)

    def note(self, opened: list[tuple[str, str]], source: str) -> None:
        for path, query in opened:
            if query and path in self.pages and path not in self.given and path not in self.found:
                self.found[path] = Found(query, source)

    def top(self) -> dict[str, Any] | None:
        stack = self.inst.command("pages")
        return stack[-1] if stack else None

    def open_page(self, path: str) -> Any:
        """ReLaunch `path` with its query; its headless view, or None if the app went elsewhere."""
        query = self.query_of(path)
        self.inst.command("navigate", {"api": "reLaunch", "url": "/" + path + (f"?{query}" if query else "")})
        self.settle()
        self.opened.pages.clear()  # the pages we opened ourselves
        current = self.top()
        if not current or current["path"] != path:
            return None
        return self.mirror.pages.get(current["page"])

    def visit(self, path: str) -> None:
        view = self.open_page(path)
        if view is None:
            return
        # <navigator url> as rendered (bindings resolved)
        for node in _walk(view.root):
            url = node.attrs.get("url")
            if node.tag == "navigator" and isinstance(url, str) and url:
                self.note([resolve_url(url, path)], f"<navigator> in {path}")
        # tap each distinct element with a tap handler (position in the tree, tag and class), and
        # record which page the app opens
        targets: list[tuple[int, ...]] = []
        seen: set[tuple[str, str, str]] = set()
        for route, node in _routes(view.root):
            sig = (node.tag, node.class_name, ",".join(sorted(node.events)))
            if "tap" in node.events and sig not in seen:
                seen.add(sig)
                targets.append(route)
        for route in targets[:TAPS_PER_PAGE]:
            if time.monotonic() > self.deadline:
                return
            current = self.top()
            if not current or current["path"] != path or self.mirror.pages.get(current["page"]) is not view:
                view = self.open_page(path)  # the last tap navigated or changed the page: start again
                if view is None:
                    return
            node = _at(view.root, route)
            if node is None or "tap" not in node.events:
                continue
            self.inst.command("event", {"node": node.id, "type": "tap", "detail": {"x": 0, "y": 0}, "touches": [],
                                        "changedTouches": [], "timeStamp": 0.0})
            self.settle()
            self.note(self.opened.pages, f"a tap in {path}")
            self.opened.pages.clear()


def _walk(node: Node) -> list[Node]:
    return [n for _route, n in _routes(node)]


def _routes(root: Node) -> list[tuple[tuple[int, ...], Node]]:
    """Every node under `root` with its route (child indexes from the root), in document order."""
    out: list[tuple[tuple[int, ...], Node]] = []
    todo: list[tuple[tuple[int, ...], Node]] = [((), root)]
    while todo:
        route, n = todo.pop()
        out.append((route, n))
        todo.extend(reversed([((*route, i), c) for i, c in enumerate(n.children)]))
    return out


def _at(root: Node, route: tuple[int, ...]) -> Node | None:
    node = root
    for i in route:
        if i >= len(node.children):
            return None
        node = node.children[i]
    return node
