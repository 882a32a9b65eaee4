"""The JS engine adapter: one QuickJS instance with limits, behind a small interface.

Only the worker process uses this module; the host process never runs mini-program code.
Everything crosses the boundary as JSON text, so the adapter could move to another engine
without touching its callers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import quickjs

from minibox.runtime.errors import ScriptError, ScriptOutOfMemory

#: Default heap of one mini-program instance (the inner wall; the worker's rlimit is the outer).
DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024
#: JS stack for deep recursion before a RangeError.
DEFAULT_STACK_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True)
class EngineLimits:
    memory_bytes: int = DEFAULT_MEMORY_LIMIT
    stack_bytes: int = DEFAULT_STACK_LIMIT


HostFunction = Callable[[str], str]


class Engine:
    """One JS context. Host functions take and return JSON text and must never raise."""

    def __init__(self, limits: EngineLimits | None = None) -> None:
        self.limits = limits or EngineLimits()
        self._ctx = quickjs.Context()
        self._ctx.set_memory_limit(self.limits.memory_bytes)
        self._ctx.set_max_stack_size(self.limits.stack_bytes)
        self.broken = False

    def set_limits(self, limits: EngineLimits) -> None:
        """Apply other limits (a preloaded engine, made before its instance's limits were known)."""
        self.limits = limits
        self._ctx.set_memory_limit(limits.memory_bytes)
        self._ctx.set_max_stack_size(limits.stack_bytes)

    def expose(self, name: str, fn: HostFunction) -> None:
        """Make `fn` callable from JS as the global `name`; exceptions become JSON errors."""

        def guarded(arg: str) -> str:
            try:
                return fn(arg)
            except BaseException:  # a Python exception (or its name) must never cross into the engine
                return json.dumps({"err": {"errMsg": "bridge:fail internal error"}})

        self._ctx.add_callable(name, guarded)

    def eval(self, source: str, filename: str = "<input>") -> object:
        del filename  # quickjs-ng names every script <input>; callers wrap sources with names
        try:
            return self._ctx.eval(source)
        except quickjs.JSException as exc:
            raise self._translate(exc) from None
        except Exception as exc:  # a value the binding cannot convert (a rope, a lone surrogate)
            raise self._unconvertible(exc) from None

    def call_json(self, function: str, payload: str) -> str:
        """Call the global JS `function(payload)` and return its string result."""
        try:
            fn = self._ctx.get(function)
            result = fn(payload)
        except quickjs.JSException as exc:
            raise self._translate(exc) from None
        except Exception as exc:  # not callable, or a result the binding cannot convert
            raise self._unconvertible(exc) from None
        return result if isinstance(result, str) else ""

    def drain_jobs(self) -> int:
        """Run promise jobs until none is left; an endless chain is the watchdog's to stop."""
        ran = 0
        while True:
            try:
                if not self._ctx.execute_pending_job():
                    break
            except quickjs.JSException as exc:
                raise self._translate(exc) from None
            except Exception as exc:
                raise self._unconvertible(exc) from None
            ran += 1
        return ran

    def memory_used(self) -> int:
        info = self._ctx.memory()
        return int(info.get("memory_used_size", 0))

    @staticmethod
    def _unconvertible(exc: Exception) -> Exception:
        del exc  # its type and text are the binding's, not the mini-program's business
        return ScriptError("InternalError: a value could not leave the sandbox")

    def _translate(self, exc: Exception) -> Exception:
        text = str(exc)
        first, _, stack = text.partition("\n")
        if "out of memory" in first:
            self.broken = True
            return ScriptOutOfMemory(f"mini-program exceeded its memory limit of "
                                     f"{self.limits.memory_bytes // (1024 * 1024)} MB")
        return ScriptError(first, stack.strip())
