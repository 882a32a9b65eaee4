"""One browser connection to one running mini-program: the instance, its pump, the message relay.

The session owns a sandboxed `Instance`; the browser is one of its views (a `BrowserChannel`
queueing messages for the WebSocket) next to a `HeadlessView` mirror of the same patches. Every
instance command runs on the session's single worker thread, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from minibox.apis.ui import Prompt
from minibox.host import Host
from minibox.runtime.bundle import LoadedBundle
from minibox.runtime.container import Instance
from minibox.view.tree import HeadlessView

log = logging.getLogger(__name__)

#: How often the session looks for due timers and finished API calls.
PUMP_INTERVAL_S = 0.02
#: Largest message accepted from the browser, in characters.
MAX_CLIENT_MESSAGE = 256 * 1024
#: The view events a browser may report (docs/internals.md section 5).
CLIENT_EVENT_TYPES = frozenset(["tap", "longpress", "longtap", "touchstart", "touchmove", "touchend", "touchcancel", "input", "change", "changing", "focus", "blur", "confirm", "scroll", "scrolltoupper", "scrolltolower", "submit", "reset", "load", "error", "columnchange", "cancel", "linechange", "keyboardheightchange", "transition", "animationfinish", "refresherpulling", "refresherrefresh", "refresherrestore", "refresherabort", "dragstart", "dragging", "dragend", "message"])
#: Navigations the browser chrome may ask for (back and home buttons, tab bar, the page menu).
CLIENT_NAVIGATIONS = frozenset({"navigateBack", "switchTab", "reLaunch"})
#: Longest page url (path and query) the browser may ask for.
MAX_NAV_URL = 4096
#: Page events the browser reports.
CLIENT_PAGE_EVENTS = frozenset({"pullDownRefresh", "reachBottom", "pageScroll", "tabItemTap", "resize"})


#: Status bar and navigation bar heights of the simulator (CSS px), as WeChat's.
STATUS_BAR_PX = 20
NAV_BAR_PX = 44


def device_system(width: int, height: int, base: dict[str, Any]) -> dict[str, Any]:
    """wx.getSystemInfo for a simulated screen of `width` x `height` CSS pixels."""
    system = dict(base)
    system.update({
        "screenWidth": width, "screenHeight": height, "windowWidth": width,
        "windowHeight": height - STATUS_BAR_PX - NAV_BAR_PX, "statusBarHeight": STATUS_BAR_PX,
        "safeArea": {"left": 0, "right": width, "top": STATUS_BAR_PX, "bottom": height, "width": width,
                     "height": height - STATUS_BAR_PX},
    })
    return system


class ClientMessageError(ValueError):
    """The browser sent something the session does not accept."""


class BrowserChannel:
    """A view of the instance: queues every message for the browser's WebSocket (thread-safe)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def on_message(self, message: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, message)


class ViewSession:
    """A running mini-program shown in one browser tab."""

    def __init__(self, host: Host, bundle: LoadedBundle, *, app_id: str, user_id: str,
                 loop: asyncio.AbstractEventLoop, watermark: str | None = None) -> None:
        self.host = host
        #: the host's watermark template for this tab (None: HostConfig.watermark); the app's
        #: own, from its grants, is drawn with it (Host.watermark_text)
        self.watermark = watermark
        self.bundle = bundle
        self.app_id = app_id
        self.user_id = user_id
        self.channel = BrowserChannel(loop)
        self.mirror = HeadlessView()
        self.instance: Instance | None = None
        self.prompts: list[Prompt] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minibox-view")
        self._pump_task: asyncio.Task[None] | None = None
        self._closed = False

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # ---- lifecycle ----
    async def start(self, path: str | None = None, query: str = "", system: dict[str, Any] | None = None) -> None:
        """Start the instance and launch; `system` is the simulated device's getSystemInfo."""
        def boot() -> Instance:
            inst = self.host.start(self.bundle, app_id=self.app_id, user_id=self.user_id,
                                   views=[self.mirror, self.channel], system=system, watermark=self.watermark)
            inst.services.ui.listeners.append(self._on_ui)
            return inst

        self.channel.on_message({"t": "app", "app": self.bundle.config.get("app", {}),
                                 "entryPage": self.bundle.config.get("entryPage"),
                                 "system": system or self.host.config.system})
        self.instance = await self._run(boot)
        await self._run(self.instance.launch, path, query)
        self._pump_task = asyncio.create_task(self._pump_loop())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
        if self.instance is not None:
            for prompt in self.prompts:
                if not prompt.answered:
                    prompt.cancel()
            await self._run(self.instance.close)
        self._executor.shutdown(wait=False)

    async def _pump_loop(self) -> None:
        inst = self.instance
        assert inst is not None
        while not self._closed:
            await asyncio.sleep(PUMP_INTERVAL_S)
            due = inst.next_timer_ms()
            if inst.crashed is None and (inst.has_pending() or (due is not None and due <= inst.clock.now_ms())):
                try:
                    await self._run(inst.pump)
                except Exception as exc:  # a script fault is reported to the page, the loop goes on
                    self.channel.on_message({"t": "error", "message": str(exc), "stack": ""})

    # ---- host UI (toasts, loading, modals): drawn by the host page, outside the mini-program DOM ----
    def _on_ui(self, event: str, payload: dict[str, Any]) -> None:
        msg: dict[str, Any] = {"t": "ui", "event": event, "payload": payload}
        if event in ("modal", "actionSheet"):
            assert self.instance is not None
            self.prompts.append(self.instance.services.ui.prompts[-1])
            msg["prompt"] = len(self.prompts) - 1
        self.channel.on_message(msg)

    def answer_prompt(self, index: int, action: str, value: Any = None) -> None:
        if not 0 <= index < len(self.prompts):
            raise ClientMessageError(f"no prompt {index}")
        prompt = self.prompts[index]
        if prompt.answered:
            return
        if action == "confirm":
            prompt.confirm(None if value is None else str(value))
        elif action == "cancel":
            prompt.cancel()
        elif action == "choose":
            prompt.choose(int(value))
        else:
            raise ClientMessageError(f"unknown prompt answer {action!r}")

    def _page_url(self, url: Any) -> str:
        """A url the chrome may open: "/" + a page of this app, optionally "?query"."""
        if not isinstance(url, str) or len(url) > MAX_NAV_URL:
            raise ClientMessageError("navigation url must be a string")
        path, _, query = url.partition("?")
        if any(c in url for c in "\r\n\0#"):
            raise ClientMessageError("navigation url has a control character or a fragment")
        if path.lstrip("/") not in self.bundle.page_paths():
            raise ClientMessageError(f"{path!r} is not a page of this mini-program")
        return "/" + path.lstrip("/") + (f"?{query}" if query else "")

    # ---- messages from the browser ----
    async def handle(self, msg: Any) -> dict[str, Any] | None:
        """Act on one browser message; returns a reply for the browser, if any."""
        if not isinstance(msg, dict):
            raise ClientMessageError("a message is a JSON object")
        inst = self.instance
        assert inst is not None
        kind = msg.get("t")
        if kind == "event":
            event = _event_args(msg)
            if event["type"] == "input" and "value" in event["detail"] and event["node"] in self.mirror.nodes:
                self.mirror.set_value(event["node"], str(event["detail"]["value"]))  # as the browser holds it
            result = await self._run(inst.command, "event", event)
            value = result.get("value") if isinstance(result, dict) else None
            return {"t": "eventResult", "seq": msg.get("seq"), "node": event["node"], "value": value}
        if kind == "navigate":
            api = msg.get("api")
            if api not in CLIENT_NAVIGATIONS:
                raise ClientMessageError(f"navigation {api!r} is not available to the view")
            args: dict[str, Any] = {"api": api}
            if api == "navigateBack":
                args["delta"] = max(1, int(msg.get("delta", 1)))
            else:
                args["url"] = self._page_url(msg.get("url"))
            result = await self._run(inst.command, "navigate", args)
            return {"t": "navigated", "result": result}
        if kind == "pageEvent":
            ptype = msg.get("type")
            if ptype not in CLIENT_PAGE_EVENTS:
                raise ClientMessageError(f"page event {ptype!r} is not known")
            args = {"type": ptype}
            if ptype == "pageScroll":
                args["scrollTop"] = float(msg.get("scrollTop", 0))
            if ptype == "tabItemTap" and isinstance(msg.get("item"), dict):
                args["item"] = msg["item"]
            if ptype == "resize" and isinstance(msg.get("size"), dict):
                args["size"] = msg["size"]
            await self._run(inst.command, "pageEvent", args)
            return None
        if kind == "prompt":
            self.answer_prompt(int(msg.get("index", -1)), str(msg.get("action")), msg.get("value"))
            return None
        if kind == "restart":
            await self._run(inst.restart)
            return None
        raise ClientMessageError(f"unknown message type {kind!r}")


def _event_args(msg: dict[str, Any]) -> dict[str, Any]:
    etype = msg.get("type")
    if etype not in CLIENT_EVENT_TYPES:
        raise ClientMessageError(f"event type {etype!r} is not a view event")
    node = msg.get("node")
    if not isinstance(node, int) or isinstance(node, bool):
        raise ClientMessageError("event node must be an integer id")
    detail = msg.get("detail") if isinstance(msg.get("detail"), dict) else {}
    touches = msg.get("touches") if isinstance(msg.get("touches"), list) else []
    changed = msg.get("changedTouches") if isinstance(msg.get("changedTouches"), list) else touches
    stamp = msg.get("timeStamp")
    return {"node": node, "type": etype, "detail": detail, "touches": touches[:10],
            "changedTouches": changed[:10], "timeStamp": float(stamp) if isinstance(stamp, int | float) else 0.0}
