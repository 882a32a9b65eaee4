"""OS limits a worker applies to itself before it loads any mini-program code."""

from __future__ import annotations

import resource
from typing import Any

#: Address space of one worker: the outer wall around the engine's own heap limit.
DEFAULT_ADDRESS_SPACE = 1024 * 1024 * 1024
#: Open files: the worker needs its pipes and little else.
DEFAULT_OPEN_FILES = 64


def apply_limits(cfg: dict[str, Any]) -> None:
    """Lower rlimits (address space, open files, core dumps, CPU seconds); never raise them."""
    _lower(resource.RLIMIT_AS, int(cfg.get("address_space", DEFAULT_ADDRESS_SPACE)))
    _lower(resource.RLIMIT_NOFILE, int(cfg.get("open_files", DEFAULT_OPEN_FILES)))
    _lower(resource.RLIMIT_CORE, 0)
    if cfg.get("cpu_seconds"):
        _lower(resource.RLIMIT_CPU, int(cfg["cpu_seconds"]))


def _lower(which: int, value: int) -> None:
    _soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, hard if hard != resource.RLIM_INFINITY else value))
