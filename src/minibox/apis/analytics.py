"""The analytics APIs a mini-program calls, fed into the host's telemetry (`minibox.host.telemetry`).

- `wx.reportEvent(eventId, data)`: a custom event (WeChat's "We分析" custom analysis); `eventId`
  letters, digits and `_`, up to 64; `data` up to 20 flat fields of short strings and numbers.
- `wx.reportAnalytics(name, data)`: the older form; the framework emits it as an `analytics`
  message, recorded the same way.
- `wx.getRealtimeLogManager()` -> `info / warn / error / setFilterMsg / addFilterMsg / in / tag`:
  each log line goes through `RealtimeLogManager.log` (1 KB, up to 10 filter strings).
- `wx.getPerformance()` -> `getEntries / getEntriesByName / getEntriesByType / createObserver`:
  entries the host measured for this instance (`Performance.getEntries`): `appLaunch` and
  `firstRender` (launch to first render) and `route` (each page shown).

Names with a dot are methods of framework objects, never `wx.*` functions of their own. Nothing
here returns telemetry, pseudonyms or consent; a report can only be a `custom` or `log` event.
"""

from __future__ import annotations

import re
from typing import Any

from minibox.apis.registry import ANY, ApiError, ApiRegistry, ApiSpec, Arg, CallContext

_EVENT_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
LEVELS = ("info", "warn", "error")


def _telemetry(ctx: CallContext) -> Any:
    return ctx.services.extra.get("telemetry")


def report_event(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    from minibox.host.telemetry import sanitize_custom

    event_id = args.get("eventId")
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        raise ApiError("reportEvent:fail invalid eventId")
    tel = _telemetry(ctx)
    if tel is not None and ctx.instance is not None:
        tel.report(ctx.instance, "custom", event_id, {"src": "reportEvent", "data": sanitize_custom(args.get("data"))})
    return {}


def realtime_log(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    level = args.get("level")
    if level not in LEVELS:
        raise ApiError("log:fail invalid level")
    filters = [str(f)[:64] for f in (args.get("filters") or []) if isinstance(f, str)][:10]
    tel = _telemetry(ctx)
    if tel is not None and ctx.instance is not None:
        tel.report(ctx.instance, "log", level, {"msg": str(args.get("msg", ""))[:1024], "filters": filters})
    return {}


def performance_entries(ctx: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    tel = _telemetry(ctx)
    entries = tel.perf_entries(ctx.instance) if tel is not None and ctx.instance is not None else []
    return {"entries": entries}


def register(registry: ApiRegistry) -> None:
    registry.register(ApiSpec("reportEvent", report_event, {"eventId": Arg((str,), required=True),
                                                             "data": Arg(ANY)}, kind="sync"))
    registry.register(ApiSpec("RealtimeLogManager.log", realtime_log,
                              {"level": Arg((str,), required=True), "msg": Arg((str,)), "filters": Arg((list,))},
                              kind="sync"))
    registry.register(ApiSpec("Performance.getEntries", performance_entries, {}, kind="sync"))
