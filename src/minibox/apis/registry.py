"""The API registry: every wx.* call from a sandbox passes through `ApiRegistry.call`.

Identity (host, app, user) comes from the `CallContext` the container built for the instance,
never from the message. The order of checks is fixed: known API -> argument schema -> policy
(scope, privacy consent, allowlists) -> handler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

JSONValue = Any
Handler = Callable[["CallContext", dict[str, Any]], JSONValue]


class ApiError(Exception):
    """A failure reported to the mini-program as WeChat's `errMsg` (e.g. `getStorage:fail ...`)."""

    #: set when the policy refused the call (scope, consent, allowlist), not the handler (telemetry)
    denied = False

    def __init__(self, err_msg: str, errno: int | None = None) -> None:
        super().__init__(err_msg)
        self.err_msg = err_msg
        self.errno = errno

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"errMsg": self.err_msg}
        if self.errno is not None:
            out["errno"] = self.errno
        return out


class Policy(Protocol):
    """Decides whether a call may proceed; raises `ApiError` when it may not."""

    def check(self, ctx: CallContext, spec: ApiSpec, args: dict[str, Any]) -> None: ...


class AllowAll:
    """The policy for trusted tests only: no scope or consent checks."""

    def check(self, ctx: CallContext, spec: ApiSpec, args: dict[str, Any]) -> None:
        return None


@dataclass
class Services:
    """Host services an API handler may use; each is owned by one instance's container."""

    policy: Policy = field(default_factory=AllowAll)
    storage: Any = None
    files: Any = None
    network: Any = None
    permissions: Any = None
    ui: Any = None
    audit: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallContext:
    """Who is calling: fixed when the instance starts."""

    host_id: str
    app_id: str
    user_id: str
    services: Services
    instance: Any = None


@dataclass(frozen=True)
class Arg:
    """One argument of an API: its accepted Python types after JSON decoding."""

    types: tuple[type, ...]
    required: bool = False


ANY = (str, int, float, bool, list, dict, type(None))


@dataclass(frozen=True)
class ApiSpec:
    name: str
    handler: Handler
    schema: Mapping[str, Arg] | None = None
    scope: str | None = None
    privacy: bool = False
    kind: Literal["sync", "async"] = "async"
    allow_extra: bool = True
    #: The handler blocks (network, disk): the container runs it on a thread and answers later.
    offload: bool = False


class ApiRegistry:
    """Holds the API table of one host; `call` is the single gate."""

    def __init__(self) -> None:
        self._specs: dict[str, ApiSpec] = {}

    def register(self, spec: ApiSpec) -> ApiSpec:
        if spec.name in self._specs:
            raise ValueError(f"API {spec.name!r} is registered twice")
        self._specs[spec.name] = spec
        return spec

    def api(self, name: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Decorator form of `register`."""

        def deco(fn: Handler) -> Handler:
            self.register(ApiSpec(name=name, handler=fn, **kw))
            return fn

        return deco

    def update(self, name: str, **changes: Any) -> ApiSpec:
        """Change how a registered API is run (e.g. `offload=True`), keeping its checks."""
        spec = replace(self._specs[name], **changes)
        self._specs[name] = spec
        return spec

    def get(self, name: str) -> ApiSpec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def prepare(self, ctx: CallContext, name: str, args: Any) -> tuple[ApiSpec, dict[str, Any]]:
        """Every check before the handler runs: known API, argument schema, policy."""
        spec = self._specs.get(name)
        if spec is None:
            raise ApiError(f"{name}:fail api not found")
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise ApiError(f"{name}:fail parameter error: arguments must be an object")
        validate_args(spec, args)
        try:
            ctx.services.policy.check(ctx, spec, args)
        except ApiError as exc:
            exc.denied = True
            raise
        return spec, args

    def call(self, ctx: CallContext, name: str, args: Any) -> JSONValue:
        spec, args = self.prepare(ctx, name, args)
        return spec.handler(ctx, args)


def _type_name(types: tuple[type, ...]) -> str:
    names = {str: "String", int: "Number", float: "Number", bool: "Boolean", list: "Array",
             dict: "Object", type(None): "null"}
    return "/".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def validate_args(spec: ApiSpec, args: dict[str, Any]) -> None:
    """Check `args` against the spec's schema; the message follows WeChat's parameter errors."""
    if spec.schema is None:
        return
    for key, arg in spec.schema.items():
        if key not in args or (args[key] is None and type(None) not in arg.types):
            if arg.required:
                raise ApiError(f"{spec.name}:fail parameter error: parameter.{key} should be "
                               f"{_type_name(arg.types)} instead of Undefined;")
            continue
        value = args[key]
        ok = isinstance(value, arg.types) and not (isinstance(value, bool) and bool not in arg.types)
        if not ok:
            raise ApiError(f"{spec.name}:fail parameter error: parameter.{key} should be "
                           f"{_type_name(arg.types)} instead of {_js_type(value)};")
    if not spec.allow_extra:
        extra = sorted(set(args) - set(spec.schema))
        if extra:
            raise ApiError(f"{spec.name}:fail parameter error: unknown parameter {extra[0]}")


def _js_type(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    return "Object"
