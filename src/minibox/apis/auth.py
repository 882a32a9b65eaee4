"""Permissions and privacy APIs, plus location as real examples of scope-checked device APIs.

Registered: authorize, getSetting, openSetting, getPrivacySetting, requirePrivacyAuthorize,
openPrivacyContract, onNeedPrivacyAuthorization, getLocation, getFuzzyLocation, chooseLocation.
The decisions live in `minibox.policy.permissions` (host callbacks, persisted, audited). The
host draws every consent UI, so `onNeedPrivacyAuthorization` only records that the app listens;
an `agree` can come only from the host's `privacy_callback`, never from mini-program JS.

Locations come from the host's `LocationProvider` in `ctx.services.extra["location"]`.

errMsg strings: `authorize:fail auth deny`, `getLocation:fail auth deny`, `<api>:fail privacy
permission is not authorized` (errno 104) and the requiredPrivateInfos message are WeChat's.
Chosen: `authorize:fail invalid scope`, `getLocation:fail location unavailable`,
`getLocation:fail invalid type`, `chooseLocation:fail cancel` (WeChat's cancel wording).
"""

from __future__ import annotations

from typing import Any, Protocol

from minibox.apis.registry import ApiError, ApiRegistry, ApiSpec, Arg, CallContext
from minibox.apis.storage import owner_of
from minibox.policy.permissions import ApiPolicy, PermissionService


class LocationProvider(Protocol):
    def current(self, ctx: CallContext, coord_type: str) -> dict[str, Any]: ...

    def choose(self, ctx: CallContext, args: dict[str, Any]) -> dict[str, Any] | None: ...


def _perm(ctx: CallContext, api: str) -> PermissionService:
    if ctx.services.permissions is None:
        raise ApiError(f"{api}:fail permissions unavailable")
    return ctx.services.permissions


def _policy(ctx: CallContext, api: str) -> ApiPolicy:
    if not isinstance(ctx.services.policy, ApiPolicy):
        raise ApiError(f"{api}:fail permissions unavailable")
    return ctx.services.policy


def _authorize(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    scope = args["scope"]
    perm = _perm(ctx, "authorize")
    if not perm.known_scope(scope):
        raise ApiError("authorize:fail invalid scope")
    policy = _policy(ctx, "authorize")
    spec = ApiSpec("authorize", _authorize)
    if not perm.require_privacy(owner_of(ctx), "authorize", policy.grants.privacy_contract_name):
        raise policy.deny(ctx, spec, "privacy-disagree", "privacy permission is not authorized", 104)
    policy.check_scope(ctx, spec, scope)
    return {"errMsg": "authorize:ok"}


def _get_setting(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    return {"authSetting": _perm(ctx, "getSetting").settings(owner_of(ctx)), "errMsg": "getSetting:ok"}


def _open_setting(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    return {"authSetting": _perm(ctx, "openSetting").open_setting(owner_of(ctx)), "errMsg": "openSetting:ok"}


def _get_privacy(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    agreed = _perm(ctx, "getPrivacySetting").privacy_agreed(owner_of(ctx))
    return {"needAuthorization": not agreed,
            "privacyContractName": _policy(ctx, "getPrivacySetting").grants.privacy_contract_name,
            "errMsg": "getPrivacySetting:ok"}


def _require_privacy(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    policy = _policy(ctx, "requirePrivacyAuthorize")
    if not _perm(ctx, "requirePrivacyAuthorize").require_privacy(
            owner_of(ctx), "requirePrivacyAuthorize", policy.grants.privacy_contract_name):
        raise policy.deny(ctx, ApiSpec("requirePrivacyAuthorize", _require_privacy), "privacy-disagree",
                           "privacy permission is not authorized", 104)
    return {"errMsg": "requirePrivacyAuthorize:ok"}


def _open_contract(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    name = _policy(ctx, "openPrivacyContract").grants.privacy_contract_name
    if ctx.services.ui is not None and hasattr(ctx.services.ui, "open_privacy_contract"):
        ctx.services.ui.open_privacy_contract(ctx, name)
    return {"errMsg": "openPrivacyContract:ok"}


def _on_need_privacy(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    ctx.services.extra.setdefault("privacy_listeners", set()).add(ctx.app_id)
    return {}


def _provider(ctx: CallContext, api: str) -> LocationProvider:
    p = ctx.services.extra.get("location")
    if p is None:
        raise ApiError(f"{api}:fail location unavailable")
    return p


def _location(api: str):  # type: ignore[no-untyped-def]
    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        coord = args.get("type") or "wgs84"
        if coord not in ("wgs84", "gcj02"):
            raise ApiError(f"{api}:fail invalid type")
        loc = dict(_provider(ctx, api).current(ctx, coord))
        if api == "getFuzzyLocation":
            loc = {"latitude": round(float(loc["latitude"]), 2), "longitude": round(float(loc["longitude"]), 2)}
        minimiser = ctx.services.extra.get("minimiser")
        grants = getattr(ctx.services.policy, "grants", None)
        if minimiser is not None and grants is not None:  # the platform's dataForms.location for this app
            loc = minimiser.location(grants.data_forms, loc)
        loc["errMsg"] = f"{api}:ok"
        return loc
    return handler


def _choose_location(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    picked = _provider(ctx, "chooseLocation").choose(ctx, args)
    if picked is None:
        raise ApiError("chooseLocation:fail cancel")
    return {**picked, "errMsg": "chooseLocation:ok"}


def register(registry: ApiRegistry) -> None:
    S = (str,)
    registry.register(ApiSpec("authorize", _authorize, {"scope": Arg(S, True)}))
    registry.register(ApiSpec("getSetting", _get_setting, {"withSubscriptions": Arg((bool,))}))
    registry.register(ApiSpec("openSetting", _open_setting, {"withSubscriptions": Arg((bool,))}))
    registry.register(ApiSpec("getPrivacySetting", _get_privacy))
    registry.register(ApiSpec("requirePrivacyAuthorize", _require_privacy))
    registry.register(ApiSpec("openPrivacyContract", _open_contract))
    registry.register(ApiSpec("onNeedPrivacyAuthorization", _on_need_privacy, kind="sync"))
    registry.register(ApiSpec("getLocation", _location("getLocation"), {"type": Arg(S)},
                              scope="scope.userLocation", privacy=True))
    registry.register(ApiSpec("getFuzzyLocation", _location("getFuzzyLocation"), {"type": Arg(S)},
                              scope="scope.userFuzzyLocation", privacy=True))
    registry.register(ApiSpec("chooseLocation", _choose_location,
                              {"latitude": Arg((int, float)), "longitude": Arg((int, float))}, privacy=True))
