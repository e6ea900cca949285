"""The JSON shapes of the rooms API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, StrictBool
from pydantic_core import PydanticCustomError

from rooms.models import RoomKind, RoomStatus
from service.schemas import Strict


def _text_only(value: Any) -> Any:
    # A time is an ISO 8601 string in JSON; a number would be taken for a Unix timestamp.
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "a date and time in ISO 8601 is needed")
    return value


# ISO 8601 with its UTC offset ("2026-12-05T14:30:00+08:00"): one without an offset is refused
# by rooms/schedule.py, with a message saying so, as are times past or more than a year ahead.
MeetingTime = Annotated[datetime, BeforeValidator(_text_only)]


class RoomIn(Strict):
    kind: Literal[RoomKind.mediation] = RoomKind.mediation
    auto_admit: StrictBool = False
    # When the meeting is set for; the room stays "scheduled" until its host first joins.
    scheduled_for: MeetingTime | None = None


class ScheduleIn(Strict):
    scheduled_for: MeetingTime


class RoomOut(BaseModel):
    id: int
    case_id: int
    kind: RoomKind
    status: RoomStatus
    auto_admit: bool
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None
    scheduled_for: datetime | None
    url: str


class RecordingIn(Strict):
    action: Literal["start", "stop"]


class RecordingState(BaseModel):
    on: bool


class SegmentOut(BaseModel):
    seq: int
    sha256: str
    size: int
    duration: float
    media_type: str
    url: str


class GapOut(BaseModel):
    """A segment that was lost: ``reason`` "store" (its file could not be stored) or
    "record" (stored under its hash, but its row could not be written)."""

    seq: int
    reason: Literal["store", "record"]


class RecordingOut(BaseModel):
    """``id`` null: a recording whose row was never written, so that only its lost segments
    are known (``gaps``); it runs from the first of them to the last."""

    id: int | None
    participant: str
    participant_name: str
    started_at: datetime
    stopped_at: datetime | None
    duration: float
    segments: list[SegmentOut]
    gaps: list[GapOut]


class ConsentOut(BaseModel):
    id: int
    room_id: int
    party_id: int | None
    kind: str
    given: bool
    by_user_id: int | None
    at: datetime
