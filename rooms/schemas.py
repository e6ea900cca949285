"""The JSON shapes of the rooms API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from rooms.models import RoomKind, RoomStatus


class RoomIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal[RoomKind.mediation] = RoomKind.mediation
    auto_admit: bool = False


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


class RecordingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
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


class RecordingOut(BaseModel):
    id: int
    participant: str
    participant_name: str
    started_at: datetime
    stopped_at: datetime | None
    duration: float
    segments: list[SegmentOut]


class ConsentOut(BaseModel):
    id: int
    room_id: int
    party_id: int | None
    kind: str
    given: bool
    by_user_id: int | None
    at: datetime
