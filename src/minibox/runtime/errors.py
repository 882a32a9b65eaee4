"""Typed errors of the runtime: what a host sees when a mini-program misbehaves."""

from __future__ import annotations


class RuntimeFault(Exception):
    """Base class: something went wrong running a mini-program. The host keeps running."""


class ScriptError(RuntimeFault):
    """Mini-program JS threw and nothing caught it."""

    def __init__(self, message: str, stack: str = "") -> None:
        super().__init__(message if not stack else f"{message}\n{stack}")
        self.js_message = message
        self.stack = stack


class ScriptTimeout(RuntimeFault):
    """A callback ran past its CPU budget; the worker was killed."""


class ScriptOutOfMemory(RuntimeFault):
    """The mini-program exceeded its memory limit; the worker was discarded."""


class WorkerCrashed(RuntimeFault):
    """The worker process died (signal, OS limit, engine fault)."""


class WorkerProtocolError(RuntimeFault):
    """The worker sent something that is not a valid frame: it is treated as hostile and killed."""


class PageNotFound(RuntimeFault):
    """A navigation named a page the bundle does not have."""
