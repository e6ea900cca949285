"""The one place the service reads the time, so deadlines can be tested with frozen time."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(UTC)


def end_of_period(start: datetime, days: int) -> datetime:
    """The end of a period of ``days`` days as the Civil Procedure Law counts it (art. 85):
    from the day after ``start``, ending at 24:00 (Beijing) of the last day."""
    last = start.astimezone(CHINA).date() + timedelta(days=days)
    return datetime.combine(last, time(23, 59, 59, 999999), tzinfo=CHINA)
