"""Optional Redis shared by the replicas (`MINIBOX_REDIS_URL`): counters and a release signal.

What it carries, and what happens without it:

- **Fixed-window counters** (`hit`, `peek`): the per-client failed-login window (password spraying) is
  counted in Redis, so every replica sees the same count without a database write per failed login.
  Without Redis, or while it is down, the same window is counted in the database (`login_throttles`).
- **Release invalidation** (`announce`, `listen`): a replica that commits a release change publishes the
  new generation; every replica's subscriber wakes its release-cache watcher at once, a faster signal
  than the generation poll on SQLite (PostgreSQL has `NOTIFY` already). The poll and the lease stay as
  they are, so correctness never depends on Redis: a lost message costs at most one poll interval.

Redis is never on a request's critical path for correctness: every call has a short socket timeout, an
error is logged once when Redis goes away ("redis unavailable ... using the database") and once when it
is back, and the caller falls back to the database-only path. No 5xx is caused by Redis.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("minibox.platform.shared")

#: Pub/sub channel of release generations (the key prefix is prepended).
RELEASE_CHANNEL = "release"
#: Seconds a Redis call may take before the database path is used instead.
SOCKET_TIMEOUT_S = 0.5
#: After a failure, Redis is not tried again for this long (requests take the database path at once).
RETRY_AFTER_S = 2.0


class SharedRedis:
    """One replica's connection pool to the shared Redis, with the fallback bookkeeping."""

    def __init__(self, url: str, *, prefix: str = "minibox:", client: Any = None):
        import redis

        self.url = url
        self.prefix = prefix
        self.client = client or redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S,
                                                     socket_connect_timeout=SOCKET_TIMEOUT_S,
                                                     health_check_interval=10)
        self._down_until = 0.0
        self._down = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.messages = 0  # release signals received (for tests and /metrics)

    # ---- health bookkeeping ----------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return not self._down or time.monotonic() >= self._down_until

    def _failed(self, what: str, e: Exception) -> None:
        with self._lock:
            if not self._down:
                log.warning("redis unavailable at %s (%s: %s): using the database for throttling and the "
                            "generation poll for invalidation until it is back", _safe(self.url), what, e)
            self._down = True
            self._down_until = time.monotonic() + RETRY_AFTER_S

    def _ok(self) -> None:
        if self._down:
            with self._lock:
                if self._down:
                    log.warning("redis is back at %s", _safe(self.url))
                self._down = False

    def _run(self, what: str, fn: Callable[[], Any]) -> Any:
        """`fn()`, or None if Redis is down (logged once per outage)."""
        import redis

        if not self.available:
            return None
        try:
            result = fn()
        except (redis.RedisError, OSError) as e:
            self._failed(what, e)
            return None
        self._ok()
        return result

    # ---- fixed-window counters -------------------------------------------------------------------------

    def hit(self, key: str, window_s: int) -> int | None:
        """Count one event in `key`'s window (which starts at its first event); the count, or None."""
        k = self.prefix + key

        def go() -> int:
            pipe = self.client.pipeline(transaction=True)  # MULTI: the window starts with its first event
            pipe.set(k, 0, ex=window_s, nx=True)
            pipe.incr(k)  # keeps the TTL
            return int(pipe.execute()[1])

        return self._run("hit", go)

    def peek(self, key: str) -> tuple[int, int] | None:
        """(count, seconds left in the window) of `key`, (0, 0) if none, or None if Redis is down."""
        k = self.prefix + key

        def go() -> tuple[int, int]:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(k)
            pipe.ttl(k)
            count, ttl = pipe.execute()
            return (int(count or 0), max(int(ttl), 0) if count else 0)

        return self._run("peek", go)

    # ---- release invalidation ----------------------------------------------------------------------------

    def announce(self, generation: int) -> None:
        """Tell every replica that `generation` is committed (best effort)."""
        self._run("publish", lambda: self.client.publish(self.prefix + RELEASE_CHANNEL, str(generation)))

    def listen(self, wake: Callable[[], None]) -> None:
        """Call `wake()` on every release signal, from a daemon thread that resubscribes after outages."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._listen, args=(wake,), name="redis-release", daemon=True)
            self._thread.start()

    def _listen(self, wake: Callable[[], None]) -> None:
        import redis

        failures = 0
        while not self._stop.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.prefix + RELEASE_CHANNEL)
                self._ok()
                failures = 0
                wake()  # anything published while unsubscribed is read by the next poll anyway
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=0.2)
                    if msg is not None and msg.get("type") == "message":
                        self.messages += 1
                        wake()
            except (redis.RedisError, OSError, ValueError) as e:
                if not self._stop.is_set():
                    self._failed("subscribe", e)
                failures += 1
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()
            self._stop.wait(min(5.0, 0.1 * 2 ** min(failures, 6)))

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)
        with contextlib.suppress(Exception):
            self.client.close()


def _safe(url: str) -> str:
    """The URL without a password."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def open_shared(url: str) -> SharedRedis | None:
    return SharedRedis(url) if url else None
