"""Rooms, what happened in them, their recordings, and the consent ledger.

A room belongs to one case. Its live state (who is connected, the peers, the caucus) is in
memory on the media node (``rooms.sfu``); these rows are the durable record of it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from service.clock import now
from service.models import _in, _utc


class RoomKind(StrEnum):
    mediation = "mediation"
    confirmation = "confirmation"


class RoomStatus(StrEnum):
    scheduled = "scheduled"
    open = "open"
    closed = "closed"


# A room that is, or is about to be, the case's meeting (the partial unique index's filter).
LIVE_ROOM = "status IN ('scheduled', 'open')"


class ConsentKind(StrEnum):
    """The opening formalities (OMR 4, 17), each a separate entry of the ledger."""

    online_mediation = "online_mediation"  # the party agrees to mediate online
    recording = "recording"  # the party agrees to be recorded (separately, OLR 4)
    identity_verified = "identity_verified"  # the mediator compared the ID document on camera
    sham_warning = "sham_warning"  # the mediator read the warning about sham mediation


class Room(SQLModel, table=True):
    """A video room of a case. ``auto_admit`` lets parties in without waiting in the lobby.
    ``scheduled_for``: the time its meeting is set for, if any (rooms/schedule.py); the room
    stays ``scheduled`` until its host first joins, whatever the time."""

    __tablename__ = "room"
    __table_args__ = (
        CheckConstraint(_in("kind", RoomKind), name="kind"),
        CheckConstraint(_in("status", RoomStatus), name="status"),
        # One live room of each kind per case (migration 0004): two concurrent requests
        # cannot both open one.
        Index(
            "uq_room_live",
            "case_id",
            "kind",
            unique=True,
            postgresql_where=text(LIVE_ROOM),
            sqlite_where=text(LIVE_ROOM),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("mediation_case.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        )
    )
    kind: str = Field(sa_type=String(20))
    status: str = Field(default=RoomStatus.scheduled, sa_type=String(20))
    auto_admit: bool = False
    created_by: int = Field(
        sa_column=Column(
            Integer, ForeignKey("user_account.id", ondelete="RESTRICT"), nullable=False
        )
    )
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    opened_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # Indexed: the reminders' task looks for the scheduled rooms still ahead (migration 0005).
    scheduled_for: datetime | None = Field(default=None, sa_column=_utc(nullable=True, index=True))


class RoomEvent(SQLModel, table=True):
    """The room's own log: join, leave, admit, remove, mute, caucus, recording, close."""

    __tablename__ = "room_event"
    __table_args__ = (Index("ix_room_event_room", "room_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(
        sa_column=Column(Integer, ForeignKey("room.id", ondelete="RESTRICT"), nullable=False)
    )
    at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    kind: str = Field(sa_type=String(30))
    participant: str | None = Field(default=None, sa_type=String(40))
    actor: str | None = Field(default=None, sa_type=String(40))
    data: str = Field(default="{}", sa_type=Text)


class Recording(SQLModel, table=True):
    """One participant's recording during one recording period; stored as segments."""

    __tablename__ = "recording"

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("room.id", ondelete="RESTRICT"), nullable=False, index=True
        )
    )
    participant: str = Field(sa_type=String(40))
    participant_name: str = Field(sa_type=String(200))
    started_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    stopped_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class RecordingSegment(SQLModel, table=True):
    """A closed, playable piece of a recording, hashed when it was closed."""

    __tablename__ = "recording_segment"
    __table_args__ = (CheckConstraint("duration >= 0", name="duration"),)

    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("recording.id", ondelete="RESTRICT"), nullable=False, index=True
        )
    )
    seq: int
    sha256: str = Field(sa_type=String(64))
    size: int
    duration: float
    media_type: str = Field(sa_type=String(40))
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))


class Consent(SQLModel, table=True):
    """The consent ledger: consents given and formalities done, per party and room.

    Consent is recorded per stage (OLR 4): a consent given in a mediation room is not a
    consent to the court's session. ``party_id`` is empty for the room-wide sham warning.
    """

    __tablename__ = "consent"
    __table_args__ = (
        CheckConstraint(_in("kind", ConsentKind), name="kind"),
        Index("ix_consent_case", "case_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("mediation_case.id", ondelete="RESTRICT"), nullable=False
        )
    )
    room_id: int = Field(
        sa_column=Column(Integer, ForeignKey("room.id", ondelete="RESTRICT"), nullable=False)
    )
    party_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("party.id", ondelete="RESTRICT"))
    )
    kind: str = Field(sa_type=String(30))
    given: bool
    by_user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="RESTRICT")),
    )
    at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
