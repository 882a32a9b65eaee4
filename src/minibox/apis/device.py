"""Device and account APIs the host answers: network type, clipboard, vibration, phone calls,
login codes, the anonymous user profile (getUserInfo/getUserProfile). Each goes through the host's
providers so a bank decides what a mini-program gets.

errMsg strings follow WeChat (`getClipboardData:fail no data` is ours where WeChat has none).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from minibox.apis.registry import ApiError, ApiRegistry, ApiSpec, Arg, CallContext

#: WeChat caps the clipboard at what a phone's pasteboard takes; we cap it at 1 MB of text.
MAX_CLIPBOARD_BYTES = 1024 * 1024
#: A login code is valid for five minutes in WeChat; the host's platform redeems it.
LOGIN_CODE_TTL = 300


@dataclass
class DeviceService:
    """What the host lets mini-programs see of the device; headless by default, all recorded."""

    network_type: str = "wifi"
    clipboard: dict[tuple[str, str], str] = field(default_factory=dict)
    vibrations: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    #: (app_id, user_id) -> a code the host's server exchanges for the user's identity
    login_provider: Callable[[str, str], str] | None = None
    #: the host asks the user before dialling; True = dial
    confirm_call: Callable[[str, str], bool] = lambda app_id, number: True
    issued_codes: dict[str, tuple[str, str]] = field(default_factory=dict)


def _dev(ctx: CallContext) -> DeviceService:
    svc = ctx.services.extra.get("device")
    if svc is None:
        raise ApiError("device:fail unavailable")
    return svc


def get_network_type(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    return {"networkType": _dev(ctx).network_type, "signalStrength": 0, "hasSystemProxy": False}


def set_clipboard(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    data = args["data"]
    if len(data.encode()) > MAX_CLIPBOARD_BYTES:
        raise ApiError("setClipboardData:fail data too long")
    _dev(ctx).clipboard[(ctx.app_id, ctx.user_id)] = data
    return {}


def get_clipboard(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    # each app and user sees only what it put there: no reading another app's copy
    data = _dev(ctx).clipboard.get((ctx.app_id, ctx.user_id))
    if data is None:
        raise ApiError("getClipboardData:fail no data")
    return {"data": data}


def _vibrate(kind: str) -> Callable[[CallContext, dict[str, Any]], dict[str, Any]]:
    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        level = args.get("type", "medium") if kind == "short" else "long"
        if level not in ("heavy", "medium", "light", "long"):
            raise ApiError(f"vibrateShort:fail invalid type {level}")
        _dev(ctx).vibrations.append(level)
        return {}
    return handler


def make_phone_call(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    number = args["phoneNumber"]
    if not number or any(c not in "0123456789+-() #*" for c in number):
        raise ApiError("makePhoneCall:fail invalid phoneNumber")
    dev = _dev(ctx)
    if not dev.confirm_call(ctx.app_id, number):
        raise ApiError("makePhoneCall:fail cancel")
    dev.calls.append(number)
    return {}


def login(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    dev = _dev(ctx)
    code = dev.login_provider(ctx.app_id, ctx.user_id) if dev.login_provider else secrets.token_urlsafe(24)
    dev.issued_codes[code] = (ctx.app_id, ctx.user_id)
    return {"code": code}


#: What WeChat has answered getUserInfo and getUserProfile with since 2022: an anonymous profile
#: ("微信用户", default avatar). Apps get a user's identity through login codes, never from here.
ANONYMOUS_USER = {"nickName": "微信用户", "avatarUrl": "", "gender": 0, "country": "", "province": "",
                  "city": "", "language": ""}


def _user_info(api: str) -> Callable[[CallContext, dict[str, Any]], dict[str, Any]]:
    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        user = dict(ANONYMOUS_USER)
        return {"userInfo": user, "rawData": json.dumps(user, ensure_ascii=False, separators=(",", ":")),
                "signature": "", "encryptedData": "", "iv": "", "errMsg": f"{api}:ok"}
    return handler


def check_session(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    dev = _dev(ctx)
    if not any(v == (ctx.app_id, ctx.user_id) for v in dev.issued_codes.values()):
        raise ApiError("checkSession:fail session expired")
    return {}


def register(registry: ApiRegistry) -> None:
    s = (str,)
    registry.register(ApiSpec("getNetworkType", get_network_type))
    registry.register(ApiSpec("setClipboardData", set_clipboard, {"data": Arg(s, True)}))
    registry.register(ApiSpec("getClipboardData", get_clipboard))
    registry.register(ApiSpec("vibrateShort", _vibrate("short"), {"type": Arg(s)}))
    registry.register(ApiSpec("vibrateLong", _vibrate("long")))
    registry.register(ApiSpec("makePhoneCall", make_phone_call, {"phoneNumber": Arg(s, True)}))
    registry.register(ApiSpec("login", login, {"timeout": Arg((int, float))}))
    registry.register(ApiSpec("checkSession", check_session))
    # the anonymous profile: WeChat's quick-start template (and the apps forked from it) call these
    registry.register(ApiSpec("getUserInfo", _user_info("getUserInfo"), {"lang": Arg(s), "withCredentials": Arg((bool,))}))
    registry.register(ApiSpec("getUserProfile", _user_info("getUserProfile"), {"desc": Arg(s), "lang": Arg(s)}))
