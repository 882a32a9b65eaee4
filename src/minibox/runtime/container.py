"""One running mini-program, seen from the host: worker, clock, API bridge, views.

The container sends commands to the worker, answers the worker's API calls through the registry
(identity from this instance, never from the message), hands patches and page messages to its
views, fires timers and delivers asynchronous API results. It never runs mini-program code.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any, Protocol

from minibox.apis.budget import BudgetConfig, Meter
from minibox.apis.pending import Pending
from minibox.apis.registry import ApiError, ApiRegistry, CallContext, Services
from minibox.runtime.bundle import LoadedBundle
from minibox.runtime.errors import RuntimeFault, ScriptError, WorkerCrashed
from minibox.runtime.pool import default_pool
from minibox.runtime.protocol import gc_paused
from minibox.runtime.sandbox import STARTUP_BUDGET, InstanceOverBudget, WorkerLimits, WorkerProcess

log = logging.getLogger(__name__)

#: Rounds of "the view has the patches -> run setData callbacks" in one turn before giving up.
MAX_FLUSH_ROUNDS = 100
#: Pause before answering each API call of an instance that has spent half its time burst.
PRESSURE_PAUSE_S = 0.002
#: Pause before answering a call refused by its family's rate limit (a loop of refused calls).
REFUSED_PAUSE_S = 0.001
#: The worker's CPU is read at most this often during a command that makes many API calls.
CPU_SAMPLE_S = 0.005
#: How far `wait_idle` may move a virtual clock forward in one call.
DEFAULT_IDLE_HORIZON_MS = 60_000

DEFAULT_SYSTEM_INFO: dict[str, Any] = {
    "brand": "minibox", "model": "minibox simulator", "pixelRatio": 2, "screenWidth": 375,
    "screenHeight": 667, "windowWidth": 375, "windowHeight": 603, "statusBarHeight": 20,
    "language": "zh_CN", "version": "8.0.50", "system": "minibox 1.0", "platform": "devtools",
    "fontSizeSetting": 16, "SDKVersion": "3.4.0", "theme": "light",
    "safeArea": {"left": 0, "right": 375, "top": 20, "bottom": 667, "width": 375, "height": 647},
}


#: Threads that run blocking API handlers (network, large files) for every instance of a host.
OFFLOAD_THREADS = 16
_pool: ThreadPoolExecutor | None = None


def _offload_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=OFFLOAD_THREADS, thread_name_prefix="minibox-api")
    return _pool


class View(Protocol):
    """Something that shows pages: the headless tree or a browser connection."""

    def on_message(self, message: dict[str, Any]) -> None: ...


class Clock(Protocol):
    def now_ms(self) -> float: ...


class RealClock:
    def __init__(self) -> None:
        self._start = time.monotonic()

    def now_ms(self) -> float:
        return (time.monotonic() - self._start) * 1000.0


class VirtualClock:
    """Time that moves only when told to: timers in tests fire instantly and in order."""

    def __init__(self) -> None:
        self.ms = 0.0

    def now_ms(self) -> float:
        return self.ms

    def advance_to(self, ms: float) -> None:
        self.ms = max(self.ms, ms)


@dataclass
class RestartPolicy:
    """At most `max_restarts` restarts within `window` seconds; then the instance stays down."""

    max_restarts: int = 3
    window: float = 60.0
    times: list[float] = field(default_factory=list)

    def exhausted(self) -> bool:
        now = time.monotonic()
        self.times = [t for t in self.times if now - t < self.window]
        return len(self.times) >= self.max_restarts

    def record(self) -> None:
        self.times.append(time.monotonic())


@dataclass
class InstanceConfig:
    host_id: str = "minibox-host"
    app_id: str = "wx0000000000000000"
    user_id: str = "user"
    system: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SYSTEM_INFO))
    limits: WorkerLimits = field(default_factory=WorkerLimits)
    virtual_time: bool = False
    #: what the instance may cost the host: a time budget and API rate limits (`minibox.apis.budget`)
    budget: BudgetConfig = field(default_factory=BudgetConfig)


class Instance:
    """A mini-program instance. Thread-safe: commands are serialised by a lock."""

    def __init__(self, bundle: LoadedBundle, registry: ApiRegistry, services: Services,
                 config: InstanceConfig | None = None) -> None:
        self.bundle = bundle
        self.registry = registry
        self.services = services
        self.config = config or InstanceConfig()
        self.clock: Clock = VirtualClock() if self.config.virtual_time else RealClock()
        self.ctx = CallContext(self.config.host_id, self.config.app_id, self.config.user_id, services, self)
        self.views: list[View] = []
        self.logs: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self._lock = threading.RLock()
        self._tickets = itertools.count(1)
        self._pending: dict[int, Pending] = {}
        self._pending_api: dict[int, str] = {}
        self._completed: SimpleQueue[int] = SimpleQueue()
        self._api_events: SimpleQueue[tuple[Any, dict[str, Any]]] = SimpleQueue()
        self._next_timer: float | None = None
        self._worker: WorkerProcess | None = None
        self._after_flush = False
        self._launch_args: dict[str, Any] = {}
        self.crashed: RuntimeFault | None = None
        self.restarts = RestartPolicy()
        self.meter = Meter(self.config.budget)
        self._mark = time.monotonic()
        self._cpu_mark: float | None = None
        self._refused = False
        #: callbacks run once when the instance closes (the host releases its services)
        self.on_close: list[Callable[[], None]] = []
        #: told `(api, outcome, errMsg)` of every answered API call, outcome "granted" | "denied" |
        #: "failed" (the host's telemetry; never the mini-program)
        self.api_observers: list[Callable[[str, str, str], None]] = []

    # ---- lifecycle ----
    def start(self) -> None:
        with self._lock:
            self._worker = default_pool().acquire(self.config.limits)
            # the worker has the framework loaded (runtime.preload); the bundle's sources travel as
            # raw bytes after the frame, never JSON-encoded
            sources = [("render.js", 0), ("logic.js", 1)]
            blobs = [self.bundle.render_js.encode("utf-8", "surrogatepass"),
                     self.bundle.logic_js.encode("utf-8", "surrogatepass")]
            apis = [{"name": name, "kind": spec.kind} for name in self.registry.names()
                    if (spec := self.registry.get(name)) is not None]
            config = dict(self.bundle.config)
            config.update({"system": self.config.system, "apis": apis, "hostId": self.config.host_id,
                           "appId": self.config.app_id})
            msg = {"cmd": "init", "framework": "preloaded", "sources": sources, "blobs": blobs, "config": config,
                   "now": self.clock.now_ms(), "limits": {"memory_bytes": self.config.limits.memory_bytes}}
            # loading the framework and the bundle is not metered; API calls made meanwhile are
            self._mark, self._cpu_mark = time.monotonic(), self._worker.cpu_seconds()
            self._handle_done(self._worker.request(msg, self._on_call, budget=STARTUP_BUDGET))

    def launch(self, path: str | None = None, query: str = "", scene: int = 1001) -> dict[str, Any]:
        self._launch_args = {"path": path, "query": query, "scene": scene}
        return self.command("launch", self._launch_args)

    def restart(self) -> dict[str, Any]:
        """Replace a crashed (or live) worker with a fresh one and launch again, as WeChat does
        when a mini-program is killed: state in memory is gone, storage is kept."""
        with self._lock:
            if self.restarts.exhausted():
                raise WorkerCrashed(
                    f"instance crashed {self.restarts.max_restarts} times within "
                    f"{self.restarts.window:g}s; not restarting (last: {self.crashed})")
            self.restarts.record()
            self._cancel_pending()
            if self._worker is not None:
                self._worker.close()
            self.crashed = None
            self.meter = Meter(self.config.budget)  # a fresh process starts with a fresh budget
            self._next_timer = None
            self._after_flush = False
            self._emit({"t": "restart"})
            self.start()
            return self.launch(**self._launch_args)

    def close(self) -> None:
        with self._lock:
            self._cancel_pending()
            if self._worker is not None:
                self._worker.close()
            callbacks, self.on_close = self.on_close, []
            for fn in callbacks:
                fn()

    def _cancel_pending(self) -> None:
        """Outstanding API calls die with the worker that made them."""
        for pending in self._pending.values():
            if pending.on_cancel is not None:
                pending.on_cancel()
            pending.future.cancel()
        self._pending.clear()
        self._pending_api.clear()

    def app_hide(self) -> None:
        """The host app went to the background: App.onHide, and in-flight requests get 5 s."""
        self.command("appHide", {})
        if self.services.network is not None:
            self.services.network.on_background()

    def app_show(self) -> None:
        if self.services.network is not None:
            self.services.network.on_foreground()
        self.command("appShow", {})

    @property
    def alive(self) -> bool:
        return self._worker is not None and not self._worker.dead

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid if self._worker else None

    # ---- commands ----
    def command(self, fn: str, args: dict[str, Any] | None = None) -> Any:
        """Run one command in the sandbox, then deliver its patches and run its flush callbacks."""
        with self._lock:
            result = self._raw(fn, args or {})
            rounds = 0
            while self._after_flush and rounds < MAX_FLUSH_ROUNDS:
                self._raw("flushed", {})
                rounds += 1
            return result

    def _raw(self, fn: str, args: dict[str, Any]) -> Any:
        if self.crashed is not None:
            raise WorkerCrashed(f"instance is stopped: {self.crashed}")
        assert self._worker is not None, "start() first"
        msg = {"cmd": "call", "fn": fn, "args": args, "now": self.clock.now_ms()}
        worker = self._worker
        try:
            self._mark, self._cpu_mark = time.monotonic(), worker.cpu_seconds()
            try:
                done = worker.request(msg, self._on_call)
            finally:  # the engine's CPU since the last API call (each call charged its own)
                within = self.meter.charge(engine_s=self._engine_since_mark(final=True))
            if not within:
                raise self._over_budget()
            if self.meter.under_pressure:
                worker.deprioritize()
        except RuntimeFault as exc:
            if not worker.dead:
                raise  # a script error: the instance goes on
            self._stopped(exc)
            raise
        self._handle_done(done)
        return done.get("result")

    def _stopped(self, exc: RuntimeFault) -> None:
        self.crashed = exc
        self._emit({"t": "crash", "message": str(exc), "kind": type(exc).__name__})

    def _over_budget(self, what: str = "") -> InstanceOverBudget:
        exc = InstanceOverBudget(what or (
            f"mini-program used more than its time budget ({self.meter.describe()}, engine and host "
            "time together) and was stopped"))
        if self._worker is not None:
            self._worker.kill(str(exc))
        return exc

    def _handle_done(self, done: dict[str, Any]) -> None:
        self._next_timer = done.get("nextTimer")
        self._after_flush = bool(done.get("afterFlush"))
        with gc_paused():  # a first fill builds a whole tree in the views (see gc_paused)
            for message in done.get("out", []):
                kind = message.get("t")
                if kind == "log":
                    self.logs.append(message)
                elif kind == "error":
                    self.errors.append(message)
                self._emit(message)

    def _emit(self, message: dict[str, Any]) -> None:
        for view in self.views:
            view.on_message(message)
        for fn in self.listeners:
            fn(message)

    # ---- the API bridge ----
    def _engine_since_mark(self, final: bool = False) -> float:
        """CPU the worker used since the last checkpoint (wall time if the OS does not say).
        Between API calls less than `CPU_SAMPLE_S` apart it charges nothing yet: the next sample
        counts everything since the checkpoint, so nothing is lost."""
        worker, now = self._worker, time.monotonic()
        if not final and self._cpu_mark is not None and now - self._mark < CPU_SAMPLE_S:
            return 0.0
        cpu = worker.cpu_seconds() if worker is not None and not worker.dead else None
        if cpu is not None and self._cpu_mark is not None:
            spent = max(0.0, cpu - self._cpu_mark)
        else:
            spent = max(0.0, now - self._mark)
        self._mark, self._cpu_mark = now, cpu
        return spent

    def _on_call(self, api: str, args: Any) -> dict[str, Any]:
        # CPU, not wall time: an instance slowed down by a flooding neighbour is not charged for it
        # (and time waiting for a person, a consent prompt, is no CPU at all)
        engine = self._engine_since_mark()
        c0 = time.thread_time()
        self._refused = False
        try:
            return self._answer(api, args)
        finally:  # engine time up to the call and host time on it are both the instance's cost
            pressed = self.meter.under_pressure
            pause = PRESSURE_PAUSE_S if pressed else REFUSED_PAUSE_S if self._refused else 0.0
            within = self.meter.charge(engine_s=engine, host_s=time.thread_time() - c0 + pause)
            if not within:
                raise self._over_budget()  # the meter's verdict replaces the answer
            if pause and self._worker is not None:
                # back-pressure: a lower CPU priority, and a pause before each answer (charged as
                # the instance's time, so it ends no later) leave the CPU and the GIL to others
                if pressed:
                    self._worker.deprioritize()
                time.sleep(pause)
                self._mark = time.monotonic()

    def _answer(self, api: str, args: Any) -> dict[str, Any]:
        if not self.meter.admit(api):
            self._refused = True
            self._observe_api(api, "denied", "api called too frequently")
            return {"err": {"errMsg": f"{api.rsplit('.', 1)[-1]}:fail api called too frequently"}}
        try:
            spec = self.registry.get(api)
            if spec is not None and spec.kind == "async" and (spec.offload or spec.scope or spec.privacy):
                # blocking work (network) and consent prompts must not hold the sandbox's thread
                result = Pending(_offload_pool().submit(self.registry.call, self.ctx, api, args))
            else:
                spec, args = self.registry.prepare(self.ctx, api, args)
                result = spec.handler(self.ctx, args)
        except ApiError as exc:
            self._observe_api(api, "denied" if exc.denied else "failed", exc.err_msg)
            return {"err": exc.to_json()}
        except Exception:  # a host bug must not take the instance down, nor leak its name
            log.exception("API %s failed", api)
            self._observe_api(api, "failed", "internal error")
            return {"err": {"errMsg": f"{api.rsplit('.', 1)[-1]}:fail internal error"}}
        if isinstance(result, Pending):
            ticket = next(self._tickets)
            self._pending[ticket] = result
            self._pending_api[ticket] = api.rsplit(".", 1)[-1]
            result.future.add_done_callback(lambda _f, t=ticket: self._completed.put(t))
            return {"pending": ticket}
        self._observe_api(api, "granted", "")
        return {"ok": result if result is not None else {}}

    def _observe_api(self, api: str, outcome: str, err_msg: str) -> None:
        for fn in self.api_observers:
            try:
                fn(api, outcome, err_msg)
            except Exception:  # an observer's bug never changes the answer
                log.exception("API observer failed")

    def _deliver(self, ticket: int) -> None:
        pending = self._pending.pop(ticket, None)
        api = self._pending_api.pop(ticket, "api")
        if pending is None:
            return
        fut: Future = pending.future
        if fut.cancelled():
            return
        exc = fut.exception()
        if isinstance(exc, ApiError):
            reply: dict[str, Any] = {"err": exc.to_json()}
            self._observe_api(api, "denied" if exc.denied else "failed", exc.err_msg)
        elif exc is not None:
            log.error("API call (ticket %s) failed", ticket, exc_info=exc)
            reply = {"err": {"errMsg": f"{api}:fail internal error"}}
            self._observe_api(api, "failed", "internal error")
        else:
            reply = {"ok": fut.result() or {}}
            self._observe_api(api, "granted", "")
        try:
            self.command("resolve", {"ticket": ticket, "reply": reply})
        except ScriptError as exc:  # a result that cannot cross the bridge (too large or too deep)
            if "could not be sent" not in str(exc):
                raise
            reply = {"err": {"errMsg": f"{api}:fail the result is too large or too deeply nested"}}
            self.command("resolve", {"ticket": ticket, "reply": reply})

    def api_event(self, ticket: Any, event: dict[str, Any]) -> None:
        """A later event of a long-lived API object (a SocketTask message, ...). Thread-safe;
        delivered to the sandbox by the next `pump`."""
        self._api_events.put((ticket, event))

    # ---- the event loop a host or test drives ----
    def pump(self) -> bool:
        """Deliver finished API results and events, fire due timers once; True if anything ran."""
        ran = False
        with self._lock:
            while True:
                try:
                    ticket = self._completed.get_nowait()
                except Empty:
                    break
                self._deliver(ticket)
                ran = True
            while True:
                try:
                    ticket, event = self._api_events.get_nowait()
                except Empty:
                    break
                if self.crashed is None:
                    self.command("apiEvent", {"ticket": ticket, "event": event})
                ran = True
            if self._next_timer is not None and self._next_timer <= self.clock.now_ms():
                fired = self.command("tick", {})
                count = fired.get("fired") if isinstance(fired, dict) else None
                if isinstance(count, int) and not self.meter.timers(count):
                    exc = self._over_budget(
                        f"mini-program fired timer callbacks faster than {self.meter.describe_timers()} "
                        "(a timer flood) and was stopped")
                    self._stopped(exc)
                    raise exc
                ran = True
        return ran

    def next_timer_ms(self) -> float | None:
        return self._next_timer

    def has_pending(self) -> bool:
        return bool(self._pending)

    def wait_idle(self, timeout: float = 10.0, horizon_ms: float = DEFAULT_IDLE_HORIZON_MS) -> None:
        """Run until no API result is outstanding and no timer is due within the horizon.

        With a virtual clock, time jumps to each next timer (up to `horizon_ms` ahead); with a
        real clock, this sleeps until the timer is due. Unanswered modals count as outstanding
        only until `timeout`, since a person (or the test) must answer them.
        """
        deadline = time.monotonic() + timeout
        limit_ms = self.clock.now_ms() + horizon_ms
        while time.monotonic() < deadline:
            if self.pump():
                continue
            waiting_on_network = any(not p.future.done() and not p.waits_for_user
                                     for p in self._pending.values())
            nxt = self._next_timer
            if nxt is not None and nxt <= limit_ms:
                if isinstance(self.clock, VirtualClock):
                    if not waiting_on_network:
                        self.clock.advance_to(nxt)
                        continue
                else:
                    time.sleep(max(0.0, min(0.05, (nxt - self.clock.now_ms()) / 1000.0)))
                    continue
            if not waiting_on_network:
                return
            time.sleep(0.005)

    def advance(self, ms: float) -> None:
        """Move a virtual clock forward by `ms`, firing every timer due on the way, in order."""
        if not isinstance(self.clock, VirtualClock):
            raise RuntimeError("advance() needs virtual_time=True")
        target = self.clock.now_ms() + ms
        while True:
            self.pump()
            nxt = self._next_timer
            if nxt is None or nxt > target:
                break
            self.clock.advance_to(nxt)
        self.clock.advance_to(target)
        self.pump()

