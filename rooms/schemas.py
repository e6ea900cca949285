"""The JSON shapes of the rooms API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, StrictBool

from rooms.models import RoomKind, RoomStatus
from service.schemas import Strict


class RoomIn(Strict):
    kind: Literal[RoomKind.mediation] = RoomKind.mediation
    auto_admit: StrictBool = False


class RoomOut(BaseModel):
    id: int
    case_id: int
    kind: RoomKind
    status: RoomStatus
    auto_admit: bool
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None
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
    id: int
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
