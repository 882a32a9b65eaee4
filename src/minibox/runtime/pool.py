"""Pre-started workers: a launch takes one that has already paid Python's start-up and imports.

A worker is used by exactly one instance and never returned: the pool only starts them early.
Workers are keyed by the limits applied at process start (address space, files, seccomp).
"""

from __future__ import annotations

import atexit
import threading
from collections import deque
from dataclasses import replace

from minibox.runtime.sandbox import WorkerLimits, WorkerProcess

#: Idle workers kept per kind of limits.
DEFAULT_POOL_SIZE = 2


def _key(limits: WorkerLimits) -> tuple:
    return (limits.address_space, limits.open_files, limits.seccomp, tuple(sorted(limits.extra_env.items())))


class WorkerPool:
    def __init__(self, size: int = DEFAULT_POOL_SIZE) -> None:
        self.size = size
        self._idle: dict[tuple, deque[WorkerProcess]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def acquire(self, limits: WorkerLimits) -> WorkerProcess:
        key = _key(limits)
        with self._lock:
            idle = self._idle.setdefault(key, deque())
            worker = None
            while idle:
                candidate = idle.popleft()
                if candidate.proc.poll() is None:
                    worker = candidate
                    break
                candidate.close()
            if worker is None:
                self.misses += 1
                worker = WorkerProcess(limits)
            else:
                self.hits += 1
                worker.limits = replace(limits)  # host-side budgets may differ per instance
            while len(idle) < self.size:
                idle.append(WorkerProcess(limits))
        return worker

    def close(self) -> None:
        with self._lock:
            for idle in self._idle.values():
                while idle:
                    idle.popleft().kill("pool closed")
            self._idle.clear()


_default: WorkerPool | None = None


def default_pool() -> WorkerPool:
    global _default
    if _default is None:
        _default = WorkerPool()
        atexit.register(_default.close)
    return _default
