"""Metering of one instance's cost: a time budget, and rate limits per API family.

The watchdog (`minibox.runtime.sandbox`) stops one command that runs too long; it cannot see a
mini-program that stays just under it forever (10,000 `setInterval(fn, 0)`, a loop of 20,000
`wx.setStorageSync`), because host time spent answering API calls is not the engine's. This
module meters what each instance costs the host, so a flood ends in `fail` errors or a stopped
instance within bounded time, and the other instances keep their latency:

- **cost budget**: engine CPU of every command plus host time spent on its API calls drains a
  token bucket (`BudgetConfig.burst_s` seconds, refilled at `share` seconds per second). An
  instance whose bucket is empty is stopped (`InstanceOverBudget`; `Instance.restart()` may bring
  it back, as after any crash). Default: 3 s of burst, then half a core; an instance running flat
  out is stopped within about 6 s. Once half its burst is spent, its worker process runs at the
  lowest CPU priority (nice 19), so the OS serves the other instances first while it lasts.
- **rate limits per API family** (`FAMILIES`): each family has its own token bucket of calls.
  A call over the rate fails without running, as `<api>:fail api called too frequently`
  (minibox's wording: WeChat documents no such limit for most APIs), after a 1 ms pause charged
  to the instance (a loop of refused calls slows down instead of taking a core and the GIL).
- **timer callbacks**: the "timers" bucket counts callbacks fired by each tick; an instance that
  fires them faster than its rate (10,000 `setInterval(fn, 0)`) is stopped after a few ticks.

Cost is CPU time: the worker process's (read from /proc at each command and each API call, so a
loop of calls is stopped in the middle) plus the host thread's while it answers the instance's
calls, plus the back-pressure pauses. CPU, not wall time: an instance slowed down by a flooding
neighbour is not charged for the wait, and waiting for a person (a consent prompt) costs nothing.

Both are design choices of minibox, configurable per instance (`InstanceConfig.budget`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rate:
    """A token bucket: `burst` calls at once, refilled at `per_second`."""

    per_second: float
    burst: float


#: API family of each API (by name; `FileSystemManager.*` and `SocketTask.*` by prefix).
FAMILIES: Mapping[str, str] = {
    **{n + s: "storage.write" for n in ("setStorage", "removeStorage", "clearStorage", "batchSetStorage")
       for s in ("", "Sync")},
    **{n + s: "storage.read" for n in ("getStorage", "getStorageInfo", "batchGetStorage") for s in ("", "Sync")},
    **{n: "network" for n in ("request", "uploadFile", "downloadFile", "connectSocket")},
}
_PREFIXES = (("FileSystemManager.", "files"), ("SocketTask.", "network"))

#: Defaults per family ("other": every API not named above).
DEFAULT_RATES: Mapping[str, Rate] = {
    "storage.write": Rate(per_second=100, burst=500),    # each write is a durable transaction (fsync)
    "storage.read": Rate(per_second=2000, burst=5000),
    "files": Rate(per_second=200, burst=1000),
    "network": Rate(per_second=20, burst=100),           # WeChat: 10 requests at once anyway
    "other": Rate(per_second=500, burst=2000),
    # not an API: timer callbacks fired (an animation at 60 fps fires 60 a second)
    "timers": Rate(per_second=2000, burst=20000),
}


def family_of(api: str) -> str:
    fam = FAMILIES.get(api)
    if fam is not None:
        return fam
    for prefix, name in _PREFIXES:
        if api.startswith(prefix):
            return name
    return "other"


@dataclass(frozen=True)
class BudgetConfig:
    #: seconds of cost an instance may spend at once
    burst_s: float = 3.0
    #: seconds of cost per second it may spend in the long run (0.5 = half a core)
    share: float = 0.5
    rates: Mapping[str, Rate] = field(default_factory=lambda: dict(DEFAULT_RATES))
    enabled: bool = True


class Bucket:
    """A token bucket; `take` never blocks."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.level = burst
        self.at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.burst, self.level + (now - self.at) * self.rate)
        self.at = now

    def take(self, amount: float = 1.0) -> bool:
        """Take `amount` if the bucket holds it; False (and nothing taken) otherwise."""
        self._refill()
        if self.level >= amount:
            self.level -= amount
            return True
        return False

    def charge(self, amount: float) -> float:
        """Take `amount` whatever the level (cost already spent); returns the level left."""
        self._refill()
        self.level -= amount
        return self.level


class Meter:
    """What one instance costs the host. Thread-safe."""

    def __init__(self, config: BudgetConfig | None = None) -> None:
        self.config = config or BudgetConfig()
        self._lock = threading.Lock()
        self._cost = Bucket(self.config.share, self.config.burst_s)
        self._rates: dict[str, Bucket] = {}
        #: totals, for reports and the scorecard
        self.engine_s = 0.0
        self.host_s = 0.0
        self.refused: dict[str, int] = {}

    def admit(self, api: str) -> bool:
        """May this call run now? False: it is over its family's rate."""
        if not self.config.enabled:
            return True
        fam = family_of(api)
        with self._lock:
            bucket = self._rates.get(fam)
            if bucket is None:
                rate = self.config.rates.get(fam) or self.config.rates.get("other") or Rate(500, 2000)
                bucket = self._rates[fam] = Bucket(rate.per_second, rate.burst)
            if bucket.take():
                return True
            self.refused[fam] = self.refused.get(fam, 0) + 1
            return False

    def timers(self, fired: int) -> bool:
        """Record `fired` timer callbacks; False when the instance fires them faster than its rate."""
        if not self.config.enabled or fired <= 0:
            return True
        with self._lock:
            bucket = self._rates.get("timers")
            if bucket is None:
                rate = self.config.rates.get("timers") or DEFAULT_RATES["timers"]
                bucket = self._rates["timers"] = Bucket(rate.per_second, rate.burst)
            return bucket.charge(fired) >= 0.0

    def describe_timers(self) -> str:
        rate = self.config.rates.get("timers") or DEFAULT_RATES["timers"]
        return f"{rate.burst:g} at once, then {rate.per_second:g} a second"

    def charge(self, engine_s: float = 0.0, host_s: float = 0.0) -> bool:
        """Record spent cost; False when the instance is over its budget."""
        with self._lock:
            self.engine_s += engine_s
            self.host_s += host_s
            if not self.config.enabled:
                return True
            return self._cost.charge(engine_s + host_s) >= 0.0

    @property
    def under_pressure(self) -> bool:
        """Half the burst is spent: time to give the instance's worker a lower CPU priority."""
        with self._lock:
            return self.config.enabled and self._cost.charge(0.0) < self.config.burst_s / 2

    @property
    def over_budget(self) -> bool:
        with self._lock:
            return self.config.enabled and self._cost.charge(0.0) < 0.0

    def describe(self) -> str:
        c = self.config
        return f"{c.burst_s:g} s at once, then {c.share:.0%} of a core"
