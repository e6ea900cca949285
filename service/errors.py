"""Domain errors: each carries its HTTP status; one handler turns them into responses.

Messages are English msgids; the handler translates them into the caller's language.
Services raise these and never ``HTTPException``.
"""

from __future__ import annotations

from typing import Any


class MediationError(Exception):
    status_code = 400

    def __init__(self, message: str, /, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params
        self.headers: dict[str, str] = {}


class NotAuthenticated(MediationError):
    status_code = 401


class NoPartySession(NotAuthenticated):
    """A party's page opened without the party's session. Parties have no password, so a
    page shows how to get back in (their join link) instead of the staff sign-in form."""


class Forbidden(MediationError):
    status_code = 403


class NotFound(MediationError):
    status_code = 404


class Conflict(MediationError):
    status_code = 409


class InvalidTransition(Conflict):
    """A state machine refused a move; the message names the current state."""


class Invalid(MediationError):
    """Well-formed input that the domain rejects (a field's meaning, not its shape)."""

    status_code = 422

    def __init__(self, message: str, /, *, field: str, **params: Any) -> None:
        super().__init__(message, **params)
        self.field = field


class TooManyAttempts(MediationError):
    status_code = 429

    def __init__(self, message: str, /, *, retry_after: int, **params: Any) -> None:
        super().__init__(message, **params)
        self.headers["Retry-After"] = str(retry_after)


class TooLarge(MediationError):
    """An upload over the size the endpoint reads."""

    status_code = 413


class Unavailable(MediationError):
    """The service cannot do this right now (a worker is busy or failed): try again later."""

    status_code = 503

    def __init__(self, message: str, /, *, retry_after: int = 30, **params: Any) -> None:
        super().__init__(message, **params)
        self.headers["Retry-After"] = str(retry_after)


class SchemaOutOfDate(RuntimeError):
    """The database schema is not the one this code knows; the operator must migrate."""
