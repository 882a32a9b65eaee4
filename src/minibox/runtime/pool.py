"""Pre-started workers: a launch takes one that has already paid Python's start-up and imports
(and, forked from the fork server, the framework's load: `minibox.runtime.preload`).

A worker is used by exactly one instance and never returned: the pool only starts them early.
Workers are keyed by the limits applied at process start (address space, files, seccomp). The
workers that replace those taken are started by a background thread, off the launch's path; a
launch that finds none idle while one is on its way waits for it rather than start another.
"""

from __future__ import annotations

import atexit
import threading
from collections import deque
from dataclasses import replace

from minibox.runtime.sandbox import WorkerLimits, WorkerProcess

#: Idle workers kept per kind of limits.
DEFAULT_POOL_SIZE = 2
#: Longest wait for a worker on its way before a launch starts its own.
REFILL_WAIT = 10.0


def _key(limits: WorkerLimits) -> tuple:
    return (limits.address_space, limits.open_files, limits.seccomp, tuple(sorted(limits.extra_env.items())))


class WorkerPool:
    def __init__(self, size: int = DEFAULT_POOL_SIZE) -> None:
        self.size = size
        self._idle: dict[tuple, deque[WorkerProcess]] = {}
        #: workers being started in the background, per key
        self._coming: dict[tuple, int] = {}
        self._cond = threading.Condition()
        self._closed = False
        self.hits = 0
        self.misses = 0

    def acquire(self, limits: WorkerLimits) -> WorkerProcess:
        key = _key(limits)
        with self._cond:
            idle = self._idle.setdefault(key, deque())
            worker = None
            while True:
                while idle:
                    candidate = idle.popleft()
                    if candidate.proc.poll() is None:
                        worker = candidate
                        break
                    candidate.close()
                if worker is not None or not self._coming.get(key):
                    break
                if not self._cond.wait(REFILL_WAIT):
                    break
            if worker is None:
                self.misses += 1
            else:
                self.hits += 1
                worker.limits = replace(limits)  # host-side budgets may differ per instance
            missing = self.size - len(idle) - self._coming.get(key, 0)
            if missing > 0 and not self._closed:
                self._coming[key] = self._coming.get(key, 0) + missing
                threading.Thread(target=self._refill, args=(key, replace(limits), missing), daemon=True,
                                 name="minibox-pool-refill").start()
        return worker if worker is not None else WorkerProcess(limits)

    def _refill(self, key: tuple, limits: WorkerLimits, count: int) -> None:
        for _ in range(count):
            try:
                worker: WorkerProcess | None = WorkerProcess(limits)
            except Exception:  # the next launch starts its own (and says why)
                worker = None
            with self._cond:
                self._coming[key] -= 1
                if worker is not None:
                    if self._closed:
                        worker.kill("pool closed")
                    else:
                        self._idle.setdefault(key, deque()).append(worker)
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for idle in self._idle.values():
                while idle:
                    idle.popleft().kill("pool closed")
            self._idle.clear()
            self._cond.notify_all()


_default: WorkerPool | None = None


def default_pool() -> WorkerPool:
    global _default
    if _default is None:
        _default = WorkerPool()
        atexit.register(_default.close)
    return _default
