"""wx network APIs: request, uploadFile, downloadFile, connectSocket, SocketTask.send/close.

The handlers are blocking (see `minibox.policy.network` for the threading contract: the
container runs `kind="async"` network handlers in a thread pool; socket events arrive through
`NetworkService.on_event(ticket, event)`). `connectSocket` answers `{"socketTaskId"}`; the shim
routes `SocketTask.send({socketTaskId, data})` and `SocketTask.close({socketTaskId, code, reason})`.

errMsg strings: `request:fail url not in domain list` (errno 600002) is WeChat's, used for hosts
off the allowlist, non-https/wss schemes, IP literals and localhost. `request:fail timeout` and
`request:fail ssl hand shake error` follow WeChat. Chosen in WeChat's shape: `<api>:fail invalid
url` (unparseable, userinfo, whitespace or control characters), `<api>:fail resolved address not
allowed` (an allowlisted name resolving to a private/loopback/metadata address),
`<api>:fail resolve host failed`, `<api>:fail response too large`, `<api>:fail too many
redirects`, `<api>:fail connect failed`, `connectSocket:fail exceed max socket count 5`,
`SocketTask.send:fail socket is not connected`. Every refusal by the URL policy is written to the
audit log with its rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from minibox.apis.registry import ApiError, ApiRegistry, ApiSpec, Arg, CallContext
from minibox.policy.files import FsError
from minibox.policy.network import NetError, NetworkService

log = logging.getLogger(__name__)
Fn = Callable[[NetworkService, CallContext, dict[str, Any]], dict[str, Any]]


def _wrap(api: str, fn: Fn) -> Callable[[CallContext, dict[str, Any]], dict[str, Any]]:
    def handler(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
        svc = ctx.services.network
        if svc is None:
            raise ApiError(f"{api}:fail network unavailable")
        try:
            out = fn(svc, ctx, args)
        except NetError as e:
            audit = ctx.services.audit
            if audit is not None and (e.errno is not None or e.rule.startswith("address:")):
                audit.record("network.refused", host=ctx.host_id, app=ctx.app_id, user=ctx.user_id,
                             api=api, rule=e.rule, url=str(args.get("url"))[:512])
            raise ApiError(f"{api}:fail {e.reason}", e.errno) from None
        except FsError as e:
            raise ApiError(f"{api}:fail {e.message}") from None
        except ApiError:
            raise
        except Exception:  # third-party surprises (httpx, websockets): logged, never leaked to the app
            log.exception("%s failed unexpectedly", api)
            raise ApiError(f"{api}:fail network error") from None
        out["errMsg"] = f"{api}:ok"
        return out
    return handler


S = (str,)
_TABLE: list[tuple[str, Fn, dict[str, Arg]]] = [
    ("request", NetworkService.request,
     {"url": Arg(S, True), "data": Arg((str, dict, list, int, float, bool, type(None))), "header": Arg((dict,)),
      "method": Arg(S), "timeout": Arg((int, float)), "dataType": Arg(S), "responseType": Arg(S)}),
    ("uploadFile", NetworkService.upload_file,
     {"url": Arg(S, True), "filePath": Arg(S, True), "name": Arg(S, True), "header": Arg((dict,)),
      "formData": Arg((dict,)), "timeout": Arg((int, float))}),
    ("downloadFile", NetworkService.download_file,
     {"url": Arg(S, True), "header": Arg((dict,)), "filePath": Arg(S), "timeout": Arg((int, float))}),
    ("connectSocket", NetworkService.connect_socket,
     {"url": Arg(S, True), "header": Arg((dict,)), "protocols": Arg((list,)), "timeout": Arg((int, float))}),
    ("SocketTask.send", NetworkService.socket_send, {"socketTaskId": Arg(S, True), "data": Arg((str, dict), True)}),
    ("SocketTask.close", NetworkService.socket_close,
     {"socketTaskId": Arg(S, True), "code": Arg((int,)), "reason": Arg(S)}),
]


def register(registry: ApiRegistry) -> None:
    for name, fn, schema in _TABLE:
        registry.register(ApiSpec(name, _wrap(name, fn), schema, kind="async"))
