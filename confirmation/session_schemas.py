"""The JSON shapes of the judge's joint session and its record (API.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictBool, StringConstraints

from rooms.schemas import RoomOut
from service.schemas import Strict, Text


class ChecklistIn(Strict):
    """What the judge checked of one party (confirmation/record.py ITEMS)."""

    identity: StrictBool
    capacity: StrictBool
    voluntary: StrictBool
    understands_terms: StrictBool
    sham_warning: StrictBool


PartyKey = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,9}$")]


class RecordIn(Strict):
    # {party_id: checks}; a party not of the case is refused by name (422 checklist.<id>).
    checklist: dict[PartyKey, ChecklistIn] = Field(default_factory=dict, max_length=20)
    notes: Annotated[str, Text(max_length=20000)] = ""


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class RecordConfirmIn(Strict):
    notes_sha256: Sha256


class ChecklistItemOut(BaseModel):
    code: str
    label: str


class RecordConfirmationOut(BaseModel):
    party_id: int
    notes_sha256: str
    at: datetime
    current: bool  # confirms the notes as they now stand


class SessionOut(BaseModel):
    room_id: int
    judge_id: int
    items: list[ChecklistItemOut]
    checklist: dict[str, dict[str, bool]]
    notes: str
    notes_sha256: str
    updated_at: datetime
    confirmations: list[RecordConfirmationOut]


class JoinLinkOut(BaseModel):
    party_id: int
    name: str
    role: str
    url: str
    expires_at: datetime


class SessionOpened(BaseModel):
    room: RoomOut
    links: list[JoinLinkOut]
    session: SessionOut
