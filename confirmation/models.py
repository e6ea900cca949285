"""Judicial confirmation: the joint application, the court's handling of it, the judge's
session and decision, the ruling's service, and the court systems' tokens.

An application moves through one state machine (confirmation/service.py ``transition``);
every move is an audit event of the case, which is the application's history. The dates
the statutory clock counts from (confirmation/clock.py) are columns here, written by the
moves, so a deadline is always computed from what was recorded.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from service.clock import now
from service.models import _in, _utc


class ApplicationStatus(StrEnum):
    awaiting_consent = "awaiting_consent"  # started; every party must join it (it is joint)
    queued = "queued"  # in the court's queue, awaiting acceptance (立案) within 3 days
    accepted = "accepted"  # accepted, numbered (（2026）晋0403民特N号), awaiting a judge
    claimed = "claimed"  # one judge holds it: session, then decision
    supplement_requested = "supplement_requested"  # the judge awaits materials by a date
    confirmed = "confirmed"  # the agreement is confirmed valid: enforceable
    rejected = "rejected"  # rejected on statutory grounds
    not_accepted = "not_accepted"  # the court refused to accept it, with a reason
    withdrawn = "withdrawn"  # by the parties, or a supplement's deadline missed


class Basis(StrEnum):
    """Why the court is competent (CPL 205)."""

    committee_location = "committee_location"  # the court where the committee is
    party_domicile = "party_domicile"  # where a party is domiciled (from the ID number)
    subject_matter = "subject_matter"  # where the subject matter is (the case's region)
    invited_by_court = "invited_by_court"  # the court that referred the case: it alone


class Outcome(StrEnum):
    confirmed = "confirmed"
    rejected = "rejected"
    supplement_requested = "supplement_requested"


class Ground(StrEnum):
    """Rejection grounds (Interp. 360; API.md)."""

    violates_mandatory_law = "violates_mandatory_law"
    harms_public_or_third_party = "harms_public_or_third_party"
    violates_public_order = "violates_public_order"
    not_voluntary = "not_voluntary"
    content_unclear = "content_unclear"
    other = "other"


# An agreement has at most one application that is not refused or withdrawn.
LIVE_APPLICATION = "status NOT IN ('not_accepted', 'withdrawn')"


class Application(SQLModel, table=True):
    """A joint application to confirm one effective agreement, to one competent court."""

    __tablename__ = "confirmation_application"
    __table_args__ = (
        CheckConstraint(_in("status", ApplicationStatus), name="status"),
        CheckConstraint(_in("basis", Basis), name="basis"),
        CheckConstraint(
            "(created_by_user IS NULL) != (created_by_party IS NULL)", name="created_by"
        ),
        Index(
            "uq_confirmation_live",
            "agreement_id",
            unique=True,
            postgresql_where=text(LIVE_APPLICATION),
            sqlite_where=text(LIVE_APPLICATION),
        ),
        # A court's numbers are its own (two courts could share a region code's digits).
        UniqueConstraint("court_id", "number", name="uq_confirmation_number"),
        # The queue: a court's applications in deadline order. (Its total is kept in
        # QueueCount, not counted per page.)
        Index("ix_confirmation_queue", "court_id", "due_at"),
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
    agreement_id: int = Field(
        sa_column=Column(Integer, ForeignKey("agreement.id", ondelete="RESTRICT"), nullable=False)
    )
    court_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=False
        )
    )
    basis: str = Field(sa_type=String(30))
    status: str = Field(default=ApplicationStatus.awaiting_consent, sa_type=String(30))
    created_by_user: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="RESTRICT")),
    )
    created_by_party: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("party.id", ondelete="RESTRICT"))
    )
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    updated_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    effective_at: datetime = Field(sa_column=_utc(nullable=False))  # the agreement's
    queued_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    accepted_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    number: str | None = Field(default=None, sa_type=String(60))
    refusal_reason: str | None = Field(default=None, sa_type=String(1000))
    claimed_by: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="RESTRICT")),
    )
    claimed_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    supplement_due: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    decided_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    withdrawn_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    withdraw_reason: str | None = Field(default=None, sa_type=String(1000))
    record_sha256: str | None = Field(default=None, sa_type=String(64))  # mediation record
    ruling_sha256: str | None = Field(default=None, sa_type=String(64))
    # The deadline that binds someone now (the statutory clock's first open one), kept by
    # every transition so that the court's queue is one index scan in deadline order.
    due_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class ApplicationConsent(SQLModel, table=True):
    """A party joining the application (it is joint: CPL 205). Once each, never changed."""

    __tablename__ = "confirmation_consent"
    __table_args__ = (
        UniqueConstraint("application_id", "party_id", name="uq_confirmation_consent"),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("confirmation_application.id", ondelete="RESTRICT"),
            nullable=False,
        )
    )
    party_id: int = Field(
        sa_column=Column(Integer, ForeignKey("party.id", ondelete="RESTRICT"), nullable=False)
    )
    at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    address: str = Field(default="", sa_type=String(64))
    user_agent: str = Field(default="", sa_type=String(300))


class Decision(SQLModel, table=True):
    """The claiming judge's decision; a supplement request is one too, and may be followed
    by the final one."""

    __tablename__ = "confirmation_decision"
    __table_args__ = (
        CheckConstraint(_in("outcome", Outcome), name="outcome"),
        CheckConstraint("outcome != 'rejected' OR grounds != '[]'", name="rejection_grounds"),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("confirmation_application.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        )
    )
    judge_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("user_account.id", ondelete="RESTRICT"), nullable=False
        )
    )
    outcome: str = Field(sa_type=String(30))
    grounds: str = Field(default="[]", sa_type=String(400))  # JSON list of Ground
    reason: str = Field(default="", sa_type=String(2000))
    notes: str = Field(default="", sa_type=Text)
    supplement_due: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    ruling_sha256: str | None = Field(default=None, sa_type=String(64))


class SessionRecord(SQLModel, table=True):
    """The judge's joint session (询问笔录): the checklist per party and the judge's notes,
    which the parties confirm on their devices (``RecordConfirmation``)."""

    __tablename__ = "confirmation_session"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("confirmation_application.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        )
    )
    room_id: int = Field(
        sa_column=Column(Integer, ForeignKey("room.id", ondelete="RESTRICT"), nullable=False)
    )
    judge_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("user_account.id", ondelete="RESTRICT"), nullable=False
        )
    )
    checklist: str = Field(default="{}", sa_type=Text)  # {party_id: {item: true/false}}
    notes: str = Field(default="", sa_type=Text)
    notes_sha256: str = Field(default="", sa_type=String(64))
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    updated_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))


class RecordConfirmation(SQLModel, table=True):
    """A party confirming the session record as it read it (bound to the notes' hash)."""

    __tablename__ = "confirmation_record_ack"
    __table_args__ = (
        UniqueConstraint("session_id", "party_id", "notes_sha256", name="uq_record_ack"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("confirmation_session.id", ondelete="RESTRICT"), nullable=False
        )
    )
    party_id: int = Field(
        sa_column=Column(Integer, ForeignKey("party.id", ondelete="RESTRICT"), nullable=False)
    )
    notes_sha256: str = Field(sa_type=String(64))
    at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))


class QueueCount(SQLModel, table=True):
    """How many of a court's applications are in each state: the queue's total. Kept by the
    moves themselves (confirmation/queue.py ``moved``, in the same transaction), because
    counting a busy court's rows on every page cost more than the page (bench/queue.py: 7-10
    ms from an index, 36 ms from the table, for 80,000)."""

    __tablename__ = "confirmation_queue_count"
    __table_args__ = (CheckConstraint(_in("status", ApplicationStatus), name="status"),)

    court_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="RESTRICT"), primary_key=True
        )
    )
    status: str = Field(sa_type=String(30), primary_key=True)
    n: int = Field(default=0)


class ServiceProof(SQLModel, table=True):
    """Proof of electronic service (OLR 29-33): the ruling reached the party's case page
    (``delivered_at``) and, when they opened it, was received (``opened_at``)."""

    __tablename__ = "confirmation_service"
    __table_args__ = (
        UniqueConstraint("document_sha256", "party_id", name="uq_confirmation_service"),
    )

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("confirmation_application.id", ondelete="RESTRICT"),
            nullable=False,
        )
    )
    party_id: int = Field(
        sa_column=Column(Integer, ForeignKey("party.id", ondelete="RESTRICT"), nullable=False)
    )
    document_sha256: str = Field(sa_type=String(64))
    delivered_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    opened_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class CourtToken(SQLModel, table=True):
    """A bearer token for a court's own case system, scoped to that court's queue API;
    shown once, stored hashed, revocable (``mediation court token``)."""

    __tablename__ = "court_token"

    id: int | None = Field(default=None, primary_key=True)
    court_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=False
        )
    )
    name: str = Field(default="", sa_type=String(100))
    token_hash: str = Field(sa_type=String(64), unique=True)
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
