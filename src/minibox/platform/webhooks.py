"""Outgoing notifications: a JSON body POSTed to the configured webhook, signed with HMAC-SHA256.

`Notifier.notify()` only queues (bounded; the oldest is dropped when full), so a caller such as the
rollout guard never waits on the network. One sender thread per replica delivers in order and retries a
failed delivery (connection error, timeout, 408, 429 or 5xx) with exponential backoff; another 4xx is
final. The receiver checks `X-Minibox-Signature: sha256=<hex of HMAC-SHA256(secret, raw body)>` and can
deduplicate on `X-Minibox-Delivery` (the same for every attempt of one notification).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson

log = logging.getLogger("minibox.platform.webhooks")

SIGNATURE_HEADER = "X-Minibox-Signature"
EVENT_HEADER = "X-Minibox-Event"
DELIVERY_HEADER = "X-Minibox-Delivery"
MAX_QUEUE = 1000
_RETRY_STATUS = frozenset({408, 425, 429})


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class Notifier:
    """Signed webhook deliveries from a background thread, retried with backoff."""

    def __init__(self, url: str, secret: str, *, attempts: int = 6, backoff_s: float = 1.0,
                 max_backoff_s: float = 300.0, timeout_s: float = 10.0,
                 sleep: Callable[[float], bool] | None = None):
        if not url or not secret:
            raise ValueError("a webhook needs a URL and a secret")
        self.url, self.secret = url, secret
        self.attempts, self.backoff_s, self.max_backoff_s, self.timeout_s = attempts, backoff_s, max_backoff_s, timeout_s
        self._queue: queue.Queue[tuple[str, str, bytes] | None] = queue.Queue(MAX_QUEUE)
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    def notify(self, event: str, payload: dict[str, Any]) -> str:
        """Queue one notification; returns its delivery id. Never blocks, never raises on delivery."""
        delivery = uuid.uuid4().hex
        body = orjson.dumps({"event": event, "delivery": delivery, "sent_at": int(time.time()), **payload},
                            option=orjson.OPT_SORT_KEYS)
        self._start()
        while True:
            try:
                self._queue.put_nowait((event, delivery, body))
                return delivery
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                    log.error("webhook queue full: dropped the oldest notification")
                except queue.Empty:
                    pass

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
                self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)
            thread.join(timeout)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            while not self._stop.is_set():
                item = self._queue.get()
                if item is None:
                    break
                self._deliver(client, *item)

    def _deliver(self, client: httpx.Client, event: str, delivery: str, body: bytes) -> bool:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body),
                   EVENT_HEADER: event, DELIVERY_HEADER: delivery, "User-Agent": "minibox-platform"}
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            retry = True
            try:
                r = client.post(self.url, content=body, headers=headers)
                if r.status_code < 300:
                    self.delivered += 1
                    return True
                retry = r.status_code >= 500 or r.status_code in _RETRY_STATUS
                why = f"HTTP {r.status_code}"
            except httpx.HTTPError as e:
                why = f"{type(e).__name__}: {e}"
            if not retry or attempt == self.attempts:
                log.error("webhook %s delivery %s failed for good after %d attempt(s): %s", event, delivery,
                          attempt, why)
                break
            log.warning("webhook %s delivery %s attempt %d failed (%s); retrying in %.1f s", event, delivery,
                        attempt, why, delay)
            if self._sleep(delay):  # stopping
                break
            delay = min(delay * 2, self.max_backoff_s)
        self.failed += 1
        return False
