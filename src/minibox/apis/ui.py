"""Interaction APIs (toast, loading, modal, action sheet): drawn by the host, never by the mini-program.

Headless, they are recorded and a test answers modals and action sheets; in the browser the view
draws them outside the mini-program's DOM.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from minibox.apis.pending import Pending
from minibox.apis.registry import ApiError, ApiRegistry, ApiSpec, Arg, CallContext

#: WeChat truncates a modal's buttons' text at 4 Chinese characters; more is refused.
MAX_BUTTON_TEXT = 4
MAX_ACTION_SHEET_ITEMS = 6


@dataclass
class Prompt:
    """A modal or action sheet waiting for the user (or a test) to answer."""

    kind: str
    options: dict[str, Any]
    future: Future = field(default_factory=Future)

    @property
    def answered(self) -> bool:
        return self.future.done()

    def confirm(self, content: str | None = None) -> None:
        if self.kind != "modal":
            raise ValueError("confirm() answers a modal")
        result: dict[str, Any] = {"confirm": True, "cancel": False}
        if self.options.get("editable"):
            result["content"] = content or ""
        self.future.set_result(result)

    def cancel(self) -> None:
        if self.kind == "modal":
            self.future.set_result({"confirm": False, "cancel": True})
        else:
            self.future.set_exception(ApiError("showActionSheet:fail cancel"))

    def choose(self, index: int) -> None:
        if self.kind != "actionSheet":
            raise ValueError("choose() answers an action sheet")
        if not 0 <= index < len(self.options.get("itemList", [])):
            raise IndexError(index)
        self.future.set_result({"tapIndex": index})


@dataclass
class UiService:
    """Everything the mini-program asked the host to show, in order."""

    toasts: list[dict[str, Any]] = field(default_factory=list)
    loading: dict[str, Any] | None = None
    toast: dict[str, Any] | None = None
    prompts: list[Prompt] = field(default_factory=list)
    listeners: list[Any] = field(default_factory=list)

    def _notify(self, event: str, payload: dict[str, Any]) -> None:
        for fn in self.listeners:
            fn(event, payload)

    @property
    def modals(self) -> list[Prompt]:
        return [p for p in self.prompts if p.kind == "modal"]

    @property
    def action_sheets(self) -> list[Prompt]:
        return [p for p in self.prompts if p.kind == "actionSheet"]


def _ui(ctx: CallContext) -> UiService:
    svc = ctx.services.ui
    if svc is None:
        raise ApiError("ui:fail no view")
    return svc


def show_toast(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    ui = _ui(ctx)
    toast = {
        "title": args["title"], "icon": args.get("icon", "success"), "image": args.get("image"),
        "duration": args.get("duration", 1500), "mask": bool(args.get("mask", False)),
    }
    ui.toasts.append(toast)
    ui.toast = toast
    ui._notify("toast", toast)
    return {}


def hide_toast(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    ui = _ui(ctx)
    ui.toast = None
    ui._notify("hideToast", {})
    return {}


def show_loading(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    ui = _ui(ctx)
    ui.loading = {"title": args["title"], "mask": bool(args.get("mask", False))}
    ui._notify("loading", ui.loading)
    return {}


def hide_loading(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    ui = _ui(ctx)
    ui.loading = None
    ui._notify("hideLoading", {})
    return {}


def show_modal(ctx: CallContext, args: dict[str, Any]) -> Pending:
    ui = _ui(ctx)
    for key in ("confirmText", "cancelText"):
        if len(str(args.get(key, ""))) > MAX_BUTTON_TEXT:
            raise ApiError(f"showModal:fail {key} length should not larger than 4 Chinese characters")
    opts = {
        "title": args.get("title", ""), "content": args.get("content", ""),
        "showCancel": args.get("showCancel", True), "cancelText": args.get("cancelText", "取消"),
        "confirmText": args.get("confirmText", "确定"), "editable": bool(args.get("editable", False)),
        "placeholderText": args.get("placeholderText", ""),
    }
    prompt = Prompt("modal", opts)
    ui.prompts.append(prompt)
    ui._notify("modal", opts)
    return Pending(prompt.future, waits_for_user=True)


def show_action_sheet(ctx: CallContext, args: dict[str, Any]) -> Pending:
    ui = _ui(ctx)
    items = args["itemList"]
    if not items:
        raise ApiError("showActionSheet:fail parameter error: itemList should not be empty")
    if len(items) > MAX_ACTION_SHEET_ITEMS:
        raise ApiError("showActionSheet:fail parameter error: itemList should not be large than 6")
    opts = {"itemList": [str(i) for i in items], "itemColor": args.get("itemColor", "#000000"),
            "alertText": args.get("alertText")}
    prompt = Prompt("actionSheet", opts)
    ui.prompts.append(prompt)
    ui._notify("actionSheet", opts)
    return Pending(prompt.future, waits_for_user=True)


def register(registry: ApiRegistry) -> None:
    text = (str,)
    registry.register(ApiSpec("showToast", show_toast, {"title": Arg(text, True), "duration": Arg((int, float))}))
    registry.register(ApiSpec("hideToast", hide_toast))
    registry.register(ApiSpec("showLoading", show_loading, {"title": Arg(text, True)}))
    registry.register(ApiSpec("hideLoading", hide_loading))
    registry.register(ApiSpec("showModal", show_modal, {"title": Arg(text), "content": Arg(text)}))
    registry.register(ApiSpec("showActionSheet", show_action_sheet, {"itemList": Arg((list,), True)}))
