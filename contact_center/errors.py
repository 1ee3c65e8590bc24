"""Domain errors; the API's error middleware turns each into an HTTP status with the message as reason."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of the errors a caller can act on."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    """The input is malformed or breaks a rule."""

    status = 422
    code = "invalid"


class NotFound(DomainError):
    """The thing asked for does not exist."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The change clashes with what is stored (a duplicate identity, a merge already undone...)."""

    status = 409
    code = "conflict"


class PermissionDenied(DomainError):
    """The caller may not do this."""

    status = 403
    code = "forbidden"


class RateLimited(DomainError):
    """Too many requests of this kind from this caller for now; try again later."""

    status = 429
    code = "rate_limited"
