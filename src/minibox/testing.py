"""Drive mini-programs from pytest, headless. Names follow WeChat's miniprogram-automator.

    from minibox.testing import launch

    with launch("examples/todo") as mp:
        page = mp.current_page
        page.query_selector("input").input("buy milk")
        page.query_selector(".add").tap()
        assert page.data["todos"][0]["title"] == "buy milk"
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from minibox.apis.ui import Prompt
from minibox.host import Host, HostConfig
from minibox.policy.grants import AppGrants
from minibox.runtime.bundle import LoadedBundle
from minibox.runtime.container import Instance, VirtualClock
from minibox.runtime.sandbox import WorkerLimits
from minibox.view.tree import HeadlessView, Node, PageView, select_all, select_one

__all__ = ["Element", "MiniProgram", "Page", "compile_cached", "launch"]

_CACHE = Path(tempfile.gettempdir()) / "minibox-test-bundles"


@functools.cache
def _compiler_fingerprint() -> bytes:
    """A bundle compiled by another version of the compiler is not reused."""
    import minibox.compiler

    h = hashlib.sha256()
    for f in sorted(Path(minibox.compiler.__file__).parent.rglob("*")):
        if f.is_file() and f.suffix in (".py", ".js"):
            h.update(f.read_bytes())
    return h.digest()


def _project_digest(src: Path) -> str:
    h = hashlib.sha256(_compiler_fingerprint())
    for f in sorted(p for p in src.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(src)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:24]


def compile_cached(src: Path) -> Path:
    """Compile a project once per content; return the bundle directory."""
    from minibox.compiler import compile_project

    out = _CACHE / _project_digest(src)
    if not (out / "bundle.json").exists():
        tmp = Path(tempfile.mkdtemp(prefix="bundle-", dir=_CACHE.parent))
        try:
            compile_project(src, tmp)
            _CACHE.mkdir(exist_ok=True)
            tmp.rename(out)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process won the race
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out


def _as_bundle(path: Path) -> LoadedBundle:
    if (path / "bundle.json").exists():
        return LoadedBundle.from_dir(path)
    return LoadedBundle.from_dir(compile_cached(path))


def _markup(node: Node) -> str:
    import html
    import json as _json

    if node.tag == "#text":
        return html.escape(node.text, quote=False)
    attrs = dict(node.attrs)
    if node.class_name:
        attrs["class"] = node.class_name
    if node.style:
        attrs["style"] = node.style
    text = "".join(f' {k}="{html.escape(v if isinstance(v, str) else _json.dumps(v))}"' for k, v in sorted(attrs.items()))
    return f"<{node.tag}{text}>" + "".join(_markup(c) for c in node.children) + f"</{node.tag}>"


class Element:
    """A node of the current view, with the interactions a person has."""

    def __init__(self, mp: MiniProgram, node: Node) -> None:
        self._mp = mp
        self.node = node

    def __repr__(self) -> str:
        return f"<Element {self.tag} id={self.node.id} class={self.node.class_name!r}>"

    @property
    def tag(self) -> str:
        return self.node.tag

    @property
    def text(self) -> str:
        return self.node.text_content()

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self.node.attrs)

    def attr(self, name: str) -> Any:
        return self.node.attrs.get(name)

    @property
    def classes(self) -> list[str]:
        return self.node.classes

    @property
    def style(self) -> str:
        return self.node.style

    @property
    def value(self) -> Any:
        return self.node.attrs.get("value")

    @property
    def dataset(self) -> dict[str, Any]:
        info = self._mp.instance.command("nodeInfo", {"node": self.node.id})
        return info["dataset"] if info else {}

    @property
    def children(self) -> list[Element]:
        return [Element(self._mp, n) for n in self.node.elements()]

    def query_selector(self, selector: str) -> Element | None:
        found = select_one(self.node, selector)
        return Element(self._mp, found) if found else None

    def query_selector_all(self, selector: str) -> list[Element]:
        return [Element(self._mp, n) for n in select_all(self.node, selector)]

    @property
    def outer_wxml(self) -> str:
        """The subtree as markup (like automator's outerWxml), for snapshots and debugging."""
        return _markup(self.node)

    @property
    def wxml(self) -> str:
        return "".join(_markup(c) for c in self.node.children)

    # ---- interactions ----
    def _send(self, event_type: str, detail: Any = None, **extra: Any) -> Any:
        touches = extra.pop("touches", [])
        return self._mp.instance.command("event", {
            "node": self.node.id, "type": event_type, "detail": {} if detail is None else detail,
            "touches": touches, "changedTouches": extra.pop("changedTouches", touches),
            "timeStamp": time.time() * 1000,
        })

    def trigger(self, event_type: str, detail: Any = None, **extra: Any) -> Any:
        """Send one view event to the sandbox, as the renderer would, and let it settle."""
        result = self._send(event_type, detail, **extra)
        self._mp.wait_idle()
        return result

    def _touch(self) -> list[dict[str, Any]]:
        return [{"identifier": 0, "pageX": 1, "pageY": 1, "clientX": 1, "clientY": 1}]

    def tap(self) -> None:
        """touchstart, touchend, tap, as a quick finger does: no time passes between them (a
        long-press timer the page starts on touchstart must not fire)."""
        t = self._touch()
        self._send("touchstart", {}, touches=t)
        self._send("touchend", {}, touches=[], changedTouches=t)
        self._send("tap", {"x": 1, "y": 1}, touches=t)
        self._mp.wait_idle()

    def longpress(self, ms: float = 400) -> None:
        """touchstart, `ms` of holding (timers fire), longpress, touchend."""
        t = self._touch()
        self._send("touchstart", {}, touches=t)
        if isinstance(self._mp.instance.clock, VirtualClock):
            self._mp.advance(ms)
        self._send("longpress", {"x": 1, "y": 1}, touches=t)
        self._send("touchend", {}, touches=[], changedTouches=t)
        self._mp.wait_idle()

    def input(self, value: str) -> None:
        """Type `value` into an input or textarea: the view's value, then the `input` event."""
        self._mp.view.set_value(self.node.id, value)
        result = self.trigger("input", {"value": value, "cursor": len(value), "keyCode": 0})
        replaced = result.get("value") if isinstance(result, dict) else None
        if replaced is not None:
            self._mp.view.set_value(self.node.id, str(replaced))

    def confirm(self) -> None:
        self.trigger("confirm", {"value": self.value or ""})

    # ---- custom components ----
    @property
    def data(self) -> dict[str, Any]:
        return self._mp.instance.command("componentData", {"node": self.node.id})

    def call_method(self, name: str, *args: Any) -> Any:
        result = self._mp.instance.command("componentCall", {"node": self.node.id, "method": name, "args": list(args)})
        self._mp.wait_idle()
        return result


class Page:
    """A page of the stack."""

    def __init__(self, mp: MiniProgram, view: PageView) -> None:
        self._mp = mp
        self._view = view

    def __repr__(self) -> str:
        return f"<Page {self.path} {self.query}>"

    @property
    def id(self) -> int:
        return self._view.page

    @property
    def path(self) -> str:
        return self._view.path

    @property
    def query(self) -> dict[str, Any]:
        return dict(self._view.query)

    @property
    def title(self) -> str | None:
        return self._view.title

    @property
    def root(self) -> Element:
        return Element(self._mp, self._view.root)

    @property
    def data(self) -> dict[str, Any]:
        return self._mp.instance.command("pageData", {"page": self.id})

    def set_data(self, data: dict[str, Any]) -> None:
        self._mp.instance.command("setPageData", {"page": self.id, "data": data})
        self._mp.wait_idle()

    def call_method(self, name: str, *args: Any) -> Any:
        result = self._mp.instance.command("callMethod", {"page": self.id, "method": name, "args": list(args)})
        self._mp.wait_idle()
        return result

    def query_selector(self, selector: str) -> Element | None:
        return self.root.query_selector(selector)

    def query_selector_all(self, selector: str) -> list[Element]:
        return self.root.query_selector_all(selector)

    def pull_down_refresh(self) -> None:
        self._mp._page_event("pullDownRefresh")

    def reach_bottom(self) -> None:
        self._mp._page_event("reachBottom")

    def scroll_to(self, scroll_top: float) -> None:
        self._mp._page_event("pageScroll", scrollTop=scroll_top)


class MiniProgram:
    """A running mini-program under test."""

    def __init__(self, host: Host, instance: Instance, view: HeadlessView, own_host: bool) -> None:
        self.host = host
        self.instance = instance
        self.view = view
        self._own_host = own_host

    def __enter__(self) -> MiniProgram:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.instance.close()
        if self._own_host:
            self.host.close()

    @property
    def watermark(self) -> str:
        """The watermark text the host draws over every page ("" for none)."""
        return self.view.watermark

    # ---- pages ----
    @property
    def page_stack(self) -> list[Page]:
        stack = self.instance.command("pages", {})
        return [Page(self, self.view.pages[p["page"]]) for p in stack if p["page"] in self.view.pages]

    @property
    def current_page(self) -> Page:
        stack = self.page_stack
        if not stack:
            raise LookupError("no page is open")
        return stack[-1]

    def _navigate(self, api: str, **args: Any) -> dict[str, Any]:
        result = self.instance.command("navigate", {"api": api, **args})
        self.wait_idle()
        return result

    def navigate_to(self, url: str) -> dict[str, Any]:
        return self._navigate("navigateTo", url=url)

    def redirect_to(self, url: str) -> dict[str, Any]:
        return self._navigate("redirectTo", url=url)

    def navigate_back(self, delta: int = 1) -> dict[str, Any]:
        return self._navigate("navigateBack", delta=delta)

    def switch_tab(self, url: str) -> dict[str, Any]:
        return self._navigate("switchTab", url=url)

    def relaunch(self, url: str) -> dict[str, Any]:
        return self._navigate("reLaunch", url=url)

    def _page_event(self, kind: str, **fields: Any) -> Any:
        result = self.instance.command("pageEvent", {"type": kind, **fields})
        self.wait_idle()
        return result

    def show(self) -> None:
        self.instance.app_show()
        self.wait_idle()

    def hide(self) -> None:
        self.instance.app_hide()
        self.wait_idle()

    # ---- time ----
    def wait_idle(self, timeout: float = 10.0) -> None:
        self.instance.wait_idle(timeout=timeout)

    def advance(self, ms: float) -> None:
        self.instance.advance(ms)

    # ---- wx, from the outside (miniprogram-automator's callWxMethod / mockWxMethod) ----
    def call_wx_method(self, name: str, *args: Any) -> Any:
        """Call `wx.<name>(*args)` inside the sandbox; a Promise is awaited."""
        out = self.instance.command("callWx", {"name": name, "args": list(args)})
        self.wait_idle()
        if out.get("promise"):
            result = self.instance.command("lastWxResult", {})
            if result is None:
                raise TimeoutError(f"wx.{name} did not settle")
            if "err" in result:
                raise RuntimeError(result["err"].get("errMsg", str(result["err"])))
            return result["ok"]
        return out.get("value")

    def mock_wx_method(self, name: str, result: Any, fail: bool = False) -> None:
        """Replace `wx.<name>` inside the sandbox: it answers `result` (success, or fail)."""
        self.instance.command("mockWx", {"name": name, "result": result, "fail": fail})

    def restore_wx_method(self, name: str) -> None:
        self.instance.command("restoreWx", {"name": name})

    # ---- what the host saw ----
    @property
    def app_data(self) -> Any:
        return self.instance.command("appData", {})

    @property
    def toasts(self) -> list[dict[str, Any]]:
        return list(self.instance.services.ui.toasts)

    @property
    def modals(self) -> list[Prompt]:
        return self.instance.services.ui.modals

    @property
    def action_sheets(self) -> list[Prompt]:
        return self.instance.services.ui.action_sheets

    @property
    def loading(self) -> dict[str, Any] | None:
        return self.instance.services.ui.loading

    @property
    def logs(self) -> list[dict[str, Any]]:
        return self.instance.logs

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.instance.errors

    def storage(self, user_id: str | None = None) -> dict[str, Any]:
        """The decrypted storage of this app for `user_id` (default: the running user)."""
        from minibox.policy.storage import Owner

        cfg = self.instance.config
        owner = Owner(cfg.host_id, cfg.app_id, user_id or cfg.user_id)
        store = self.host.storage
        return {k: store.get(owner, k) for k in store.info(owner)["keys"]}


def launch(project: str | Path, *, user: str = "test-user", app_id: str = "wxtest0000000000",
           path: str | None = None, query: str = "", host: Host | None = None,
           data_dir: str | Path | None = None, virtual_time: bool = True,
           cpu_budget: float = 5.0, memory_mb: int = 256, grants: AppGrants | None = None) -> MiniProgram:
    """Compile (if needed), start in a sandboxed worker, and launch a mini-program headlessly.
    `grants`: what the platform grants the app (e.g. `grants_from_allowlist({...})`)."""
    bundle = _as_bundle(Path(project))
    own_host = host is None
    if host is None:
        root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="minibox-host-"))
        host = Host(HostConfig(data_dir=root))
    limits = WorkerLimits(cpu_budget=cpu_budget, memory_bytes=memory_mb * 1024 * 1024)
    view = HeadlessView()
    instance = host.start(bundle, app_id=app_id, user_id=user, views=[view], virtual_time=virtual_time,
                          limits=limits, grants=grants)
    mp = MiniProgram(host, instance, view, own_host)
    try:
        instance.launch(path, query)
        mp.wait_idle()
    except BaseException:
        mp.close()
        raise
    return mp
