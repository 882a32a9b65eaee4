"""Typed errors of the platform. Each carries a stable `code` that clients may rely on."""

from __future__ import annotations

from typing import Any


class PlatformError(Exception):
    """An error answered as JSON `{"code", "message", "details"}` with `status`."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details


class NotFound(PlatformError):
    status = 404
    code = "not_found"


class Unauthenticated(PlatformError):
    status = 401
    code = "unauthenticated"


class Forbidden(PlatformError):
    status = 403
    code = "forbidden"


class SeparationOfDuties(Forbidden):
    """A rule that needs two people was about to be satisfied by one (MGT-05)."""

    code = "separation_of_duties"


class Conflict(PlatformError):
    status = 409
    code = "conflict"


class InvalidInput(PlatformError):
    status = 422
    code = "invalid_input"


class TooLarge(PlatformError):
    status = 413
    code = "too_large"


class Throttled(PlatformError):
    status = 429
    code = "throttled"


class Gone(PlatformError):
    status = 410
    code = "gone"
