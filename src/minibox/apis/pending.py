"""An API answer that comes later: a handler returns `Pending(future)` instead of a result."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Pending:
    """The container gives the sandbox a ticket and delivers the future's result when it is done.

    The future's result is the success object; an `ApiError` exception becomes `fail`.
    `on_cancel` runs if the instance closes first.
    """

    future: Future[Any]
    on_cancel: Any = None
    #: True when a person must answer (a modal): `wait_idle` does not wait for it.
    waits_for_user: bool = False
