"""Platform health: Prometheus `/metrics` and structured JSON logs (issue 11).

`GET /metrics` (text exposition format) carries, per replica process:
- `minibox_http_requests_total{method,route,status}` and `minibox_http_request_duration_seconds{method,route}`
  (route = the path template, never the raw path, so ids do not explode the label set);
- `minibox_update_checks_total{decision}`: update-check answers (`served`, `no_release`, `taken_down`,
  `unauthenticated`, `unavailable`, `other`), counted from the response status by the middleware, so
  the update-check hot path itself is untouched;
- `minibox_db_pool_*`: the write pool's size, checked-out and overflow connections;
- `minibox_telemetry_*`: batches and events ingested, duplicates, refusals by reason, and
  `minibox_telemetry_ingest_lag_seconds` (receive time minus event time).

Set `MINIBOX_METRICS_TOKEN` to require `Authorization: Bearer <token>` on `/metrics`.
`MINIBOX_LOG_FORMAT=json` makes the platform's loggers write one JSON object per line.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ENV_METRICS_TOKEN = "MINIBOX_METRICS_TOKEN"
ENV_LOG_FORMAT = "MINIBOX_LOG_FORMAT"
UPDATE_ROUTE = "/api/v1/hosts/{host_id}/apps/{app_id}/update"

REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter("minibox_http_requests_total", "HTTP requests by route template and status",
                        ["method", "route", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram("minibox_http_request_duration_seconds", "HTTP request latency by route template",
                         ["method", "route"], registry=REGISTRY,
                         buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
UPDATE_DECISIONS = Counter("minibox_update_checks_total", "Update-check answers by decision", ["decision"],
                           registry=REGISTRY)
TELEMETRY_BATCHES = Counter("minibox_telemetry_batches_total", "Telemetry batches by result", ["result"],
                            registry=REGISTRY)
TELEMETRY_EVENTS = Counter("minibox_telemetry_events_total", "Telemetry events stored", registry=REGISTRY)
TELEMETRY_DROPPED = Counter("minibox_telemetry_host_dropped_total",
                            "Events hosts reported dropping (buffer or spool full)", registry=REGISTRY)
TELEMETRY_LAG = Histogram("minibox_telemetry_ingest_lag_seconds", "Receive time minus event time",
                          registry=REGISTRY, buckets=(1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400))

_DECISIONS = {200: "served", 404: "no_release", 410: "taken_down", 401: "unauthenticated", 503: "unavailable"}


class _PoolCollector:
    def __init__(self) -> None:
        self.platform: Any = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = getattr(getattr(getattr(self.platform, "db", None), "write_engine", None), "pool", None)
        if pool is None:
            return
        for name, attr, doc in (("size", "size", "Configured pool size"),
                                ("checked_out", "checkedout", "Connections in use"),
                                ("checked_in", "checkedin", "Idle connections in the pool"),
                                ("overflow", "overflow", "Connections over the pool size")):
            fn = getattr(pool, attr, None)
            if fn is None:
                continue
            try:
                value = float(fn())
            except Exception:
                continue
            yield GaugeMetricFamily(f"minibox_db_pool_{name}", doc, value=value)


_POOL = _PoolCollector()
REGISTRY.register(_POOL)  # type: ignore[arg-type]


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (outermost, cheap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path_format", None) or "unmatched"
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - start)
            if route == UPDATE_ROUTE:
                UPDATE_DECISIONS.labels(_DECISIONS.get(status, "other")).inc()


async def metrics_endpoint(request: Request) -> Response:
    token = os.environ.get(ENV_METRICS_TOKEN)
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return JSONResponse({"code": "unauthenticated", "message": "metrics need the bearer token"},
                                status_code=401)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and exception text if any."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                               "level": record.levelname.lower(), "logger": record.name,
                               "message": record.getMessage()}
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


JsonFormatter.converter = time.gmtime  # type: ignore[assignment]


def configure_json_logs(logger_names: tuple[str, ...] = ("minibox", "uvicorn", "uvicorn.error",
                                                         "uvicorn.access")) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.handlers = [handler]
        logger.propagate = False
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)


def install(app: Any, platform: Any) -> None:
    """Add `/metrics` (outside the OpenAPI schema) and the request metrics middleware."""
    _POOL.platform = platform
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    app.add_middleware(MetricsMiddleware)
    if os.environ.get(ENV_LOG_FORMAT, "").lower() == "json":
        configure_json_logs()
