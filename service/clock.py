"""The one place the service reads the time, so deadlines can be tested with frozen time."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
