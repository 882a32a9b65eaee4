"""Host-defined custom APIs: `register_api(registry, name, fn, scope=..., schema=..., apps=...)`.

A host API goes through the same gate as wx APIs (`ApiRegistry.call`: schema -> `ApiPolicy` ->
handler). It is callable only by apps the host allows: those listed in `apps` at registration or
granted by name in the app's `AppGrants.host_apis` (signed platform metadata); anyone else gets
`<name>:fail api not permitted` and an audit event, before any consent prompt. A custom `scope`
(e.g. `scope.bank.transfer`) is prompted, persisted and audited like WeChat's scopes (the host
must add it to `PermissionService.extra_scopes` for `wx.authorize` to accept it).

`fn(ctx, args) -> dict | None` runs in the host; it may raise `ApiError` for a chosen errMsg. Any
other exception becomes `<name>:fail internal error` (no traceback text reaches the sandbox), and
a result that is not JSON-able becomes `<name>:fail invalid result`. Each successful call is
audited as `hostapi.call`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from minibox.apis.registry import ApiError, ApiRegistry, ApiSpec, Arg, CallContext
from minibox.policy.permissions import HostApiMark

log = logging.getLogger(__name__)
#: A host API result larger than this (as JSON) is refused (design choice).
MAX_RESULT_BYTES = 1024 * 1024
HostFn = Callable[[CallContext, dict[str, Any]], Mapping[str, Any] | None]


def register_api(registry: ApiRegistry, name: str, fn: HostFn, *, scope: str | None = None,
                 schema: Mapping[str, Arg] | None = None, apps: Iterable[str] | None = None,
                 privacy: bool = False, kind: Literal["sync", "async"] = "async",
                 allow_extra: bool = True) -> ApiSpec:
    if not name or not name.isascii() or not all(c.isalnum() or c in "._" for c in name):
        raise ValueError(f"host API name {name!r}: letters, digits, '.' and '_' only")

    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        try:
            result = fn(ctx, args)
        except ApiError:
            raise
        except Exception:
            log.exception("host API %s failed", name)
            raise ApiError(f"{name}:fail internal error") from None
        out = dict(result or {})
        try:
            size = len(json.dumps(out, allow_nan=False))
        except (TypeError, ValueError, RecursionError):
            raise ApiError(f"{name}:fail invalid result") from None
        if size > MAX_RESULT_BYTES:
            raise ApiError(f"{name}:fail invalid result")
        if ctx.services.audit is not None:
            ctx.services.audit.record("hostapi.call", host=ctx.host_id, app=ctx.app_id, user=ctx.user_id, api=name)
        out.setdefault("errMsg", f"{name}:ok")
        return out

    handler.mb_host_api = HostApiMark(frozenset(apps) if apps is not None else None)  # type: ignore[attr-defined]
    return registry.register(ApiSpec(name, handler, schema, scope=scope, privacy=privacy, kind=kind,
                                     allow_extra=allow_extra))


def register(registry: ApiRegistry) -> None:
    """Host APIs are registered by the host with `register_api`; nothing by default."""
