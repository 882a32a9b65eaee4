"""wx storage APIs: setStorage, getStorage, removeStorage, clearStorage, getStorageInfo,
batchSetStorage, batchGetStorage, each with its Sync variant.

Arguments are WeChat's objects; the shim maps the positional Sync forms onto them
(`setStorageSync(key, data)` -> `{"key", "data"}`, `batchSetStorageSync(kvList)` -> `{"kvList"}`,
`batchGetStorageSync(keyList)` -> `{"keyList"}`). Values are the JSON values that crossed the
bridge (Dates arrive tagged by the shim and are stored as the tagged object).

errMsg strings: `getStorage:fail data not found` is WeChat's. Chosen in WeChat's shape where
WeChat's exact text is unknown: `<api>:fail exceed storage item max length` (over 1 MB per key),
`<api>:fail exceed storage max size 10Mb` (over 10 MB per app and user),
`<api>:fail parameter error: data is not JSON-serialisable`, `<api>:fail storage corrupted`
(AEAD authentication failed: tampered or moved ciphertext), `<api>:fail storage unavailable`
(SQLite error such as a full disk; nothing was written).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from minibox.apis.registry import ANY, ApiError, ApiRegistry, ApiSpec, Arg, CallContext
from minibox.policy.storage import Owner, StorageError, StorageService

#: batch APIs take at most this many entries per call (design choice; WeChat sets none).
MAX_BATCH = 1000


def owner_of(ctx: CallContext) -> Owner:
    return Owner(ctx.host_id, ctx.app_id, ctx.user_id)


def _svc(ctx: CallContext) -> StorageService:
    svc = ctx.services.storage
    if svc is None:
        raise ApiError("storage:fail storage unavailable")
    return svc


def _run(api: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        out = fn()
    except StorageError as e:
        raise ApiError(f"{api}:fail {e.reason}") from None
    except sqlite3.Error:  # disk full, I/O error, locked for too long: the write did not happen
        raise ApiError(f"{api}:fail storage unavailable") from None
    out["errMsg"] = f"{api}:ok"
    return out


def _set(api: str) -> Callable[[CallContext, dict[str, Any]], dict[str, Any]]:
    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        if "data" not in args:
            raise ApiError(f"{api}:fail parameter error: parameter.data should be Any instead of Undefined;")
        return _run(api, lambda: (_svc(ctx).set(owner_of(ctx), args["key"], args["data"]), {})[1])
    return handler


def _get(api: str) -> Callable[[CallContext, dict[str, Any]], dict[str, Any]]:
    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        return _run(api, lambda: {"data": _svc(ctx).get(owner_of(ctx), args["key"])})
    return handler


def _remove(api: str) -> Callable[[CallContext, dict[str, Any]], dict[str, Any]]:
    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        return _run(api, lambda: (_svc(ctx).remove(owner_of(ctx), args["key"]), {})[1])
    return handler


def _clear(api: str) -> Callable[[CallContext, dict[str, Any]], dict[str, Any]]:
    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        return _run(api, lambda: (_svc(ctx).clear(owner_of(ctx)), {})[1])
    return handler


def _info(api: str) -> Callable[[CallContext, dict[str, Any]], dict[str, Any]]:
    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        return _run(api, lambda: _svc(ctx).info(owner_of(ctx)))
    return handler


def _batch_set(api: str) -> Callable[[CallContext, dict[str, Any]], dict[str, Any]]:
    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        items = args["kvList"]
        if len(items) > MAX_BATCH:
            raise ApiError(f"{api}:fail parameter error: kvList longer than {MAX_BATCH}")
        pairs = []
        for i, it in enumerate(items):
            if not isinstance(it, dict) or not isinstance(it.get("key"), str) or "value" not in it:
                raise ApiError(f"{api}:fail parameter error: kvList[{i}] should be {{key: String, value}}")
            pairs.append((it["key"], it["value"]))

        def go() -> dict[str, Any]:
            for k, v in pairs:
                _svc(ctx).set(owner_of(ctx), k, v)
            return {}
        return _run(api, go)
    return handler


def _batch_get(api: str) -> Callable[[CallContext, dict[str, Any]], dict[str, Any]]:
    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        keys = args["keyList"]
        if len(keys) > MAX_BATCH or not all(isinstance(k, str) for k in keys):
            raise ApiError(f"{api}:fail parameter error: keyList should be String[] (at most {MAX_BATCH})")

        def go() -> dict[str, Any]:
            out = []
            for k in keys:
                try:
                    out.append({"key": k, "value": _svc(ctx).get(owner_of(ctx), k)})
                except StorageError as e:
                    if e.reason != "data not found":
                        raise
                    out.append({"key": k, "value": ""})
            return {"kvList": out}
        return _run(api, go)
    return handler


_KEY = {"key": Arg((str,), required=True)}
_TABLE: list[tuple[str, Callable[[str], Any], dict[str, Arg] | None]] = [
    ("setStorage", _set, {**_KEY, "data": Arg(ANY)}),
    ("getStorage", _get, _KEY),
    ("removeStorage", _remove, _KEY),
    ("clearStorage", _clear, None),
    ("getStorageInfo", _info, None),
    ("batchSetStorage", _batch_set, {"kvList": Arg((list,), required=True)}),
    ("batchGetStorage", _batch_get, {"keyList": Arg((list,), required=True)}),
]


def register(registry: ApiRegistry) -> None:
    for name, factory, schema in _TABLE:
        registry.register(ApiSpec(name=name, handler=factory(name), schema=schema, kind="async"))
        registry.register(ApiSpec(name=name + "Sync", handler=factory(name + "Sync"), schema=schema,
                                  kind="sync"))
