"""The shared records: organisations, staff, cases, parties, join links, sessions, audit.

Statuses and codes are ``StrEnum``s stored as short strings with CHECK constraints, so the
database refuses a value the code does not know, on SQLite and PostgreSQL alike.
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
)
from sqlmodel import Field, SQLModel

from service.clock import now
from service.db import UTCDateTime

# Stable constraint names, so Alembic migrations can name what they alter on both databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, enum: type[StrEnum]) -> str:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"


class OrgKind(StrEnum):
    committee = "committee"
    court = "court"


class CommitteeLevel(StrEnum):
    district = "district"
    township = "township"
    village = "village"
    industry = "industry"


class Industry(StrEnum):
    property = "property"
    traffic = "traffic"
    labour = "labour"
    medical = "medical"
    family = "family"


class Role(StrEnum):
    admin = "admin"
    mediator = "mediator"
    judge = "judge"
    clerk = "clerk"


class DisputeType(StrEnum):
    neighbour = "neighbour"
    property_management = "property_management"
    family = "family"
    debt = "debt"
    labour = "labour"
    traffic = "traffic"
    consumer = "consumer"
    other = "other"


class CaseStatus(StrEnum):
    intake = "intake"
    mediating = "mediating"
    agreed = "agreed"
    closed = "closed"
    failed = "failed"
    withdrawn = "withdrawn"


class PartyRole(StrEnum):
    applicant = "applicant"
    respondent = "respondent"
    third_party = "third_party"


class PartyKind(StrEnum):
    person = "person"
    organisation = "organisation"


def _utc(**kwargs: object) -> Column[datetime]:
    return Column(UTCDateTime(), **kwargs)  # type: ignore[arg-type]


class Organisation(SQLModel, table=True):
    """A people's mediation committee or a court.

    Committees form the county's tree (district centre, township stations, village and
    community rooms, industry committees), so each may have a parent. A committee's case
    numbers carry its short name (简称: （2026）潞东调字第1号), never its full name; courts
    carry the region code that their special-procedure numbers use (（2026）晋0403民特1号).
    Organisations are never deleted while anything refers to them (RESTRICT), because cases
    and rulings must keep naming who handled them.
    """

    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint(_in("kind", OrgKind), name="kind"),
        CheckConstraint(f"level IS NULL OR {_in('level', CommitteeLevel)}", name="level"),
        CheckConstraint(f"industry IS NULL OR {_in('industry', Industry)}", name="industry"),
        CheckConstraint(
            "(kind = 'committee' AND level IS NOT NULL AND region_code IS NULL)"
            " OR (kind = 'court' AND level IS NULL AND region_code IS NOT NULL)",
            name="shape",
        ),
        CheckConstraint("(level = 'industry') = (industry IS NOT NULL)", name="industry_level"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(20))
    name: str = Field(sa_type=String(200))
    short_name: str = Field(
        sa_type=String(60),
        unique=True,
        description="简称 in case numbers; unique, so no two committees' numbers collide",
    )
    level: str | None = Field(default=None, sa_type=String(20))
    industry: str | None = Field(default=None, sa_type=String(20))
    region_code: str | None = Field(default=None, sa_type=String(20))
    # A committee's basic-level court, "where the committee is" (CPL 205): a court competent
    # to confirm its agreements.
    court_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("organisation.id", ondelete="RESTRICT")),
    )
    parent_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("organisation.id", ondelete="RESTRICT")),
    )
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))


class User(SQLModel, table=True):
    """A staff account. Mediators belong to a committee, judges and clerks to a court."""

    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint(_in("role", Role), name="role"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_type=String(64), unique=True)
    password_hash: str = Field(sa_type=String(200))
    role: str = Field(sa_type=String(20))
    name: str = Field(sa_type=String(100))
    org_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=False
        )
    )
    active: bool = True
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))


class CaseCounter(SQLModel, table=True):
    """The last case number issued per committee and year (numbers restart each January)."""

    __tablename__ = "case_counter"

    org_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="RESTRICT"), primary_key=True
        )
    )
    year: int = Field(primary_key=True)
    last: int = 0


class Case(SQLModel, table=True):
    """A dispute brought to one committee. Its status moves only through ``cases.transition``.

    ``mediation_started_at`` is the mediator's acceptance (OMR 24: pre-filing online
    mediation lasts 30 days from it); ``end_reason`` records why a mediation failed or was
    withdrawn (OMR 25). ``referred_by_court_id`` and ``subject_region`` say which courts may
    confirm its agreement (CPL 205; service/venue.py checks and changes them).
    """

    __tablename__ = "mediation_case"
    __table_args__ = (
        CheckConstraint(_in("status", CaseStatus), name="status"),
        CheckConstraint(_in("dispute_type", DisputeType), name="dispute_type"),
        UniqueConstraint("org_id", "year", "seq", name="uq_case_org_year_seq"),
        Index("ix_case_org_status", "org_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=False
        )
    )
    year: int
    seq: int
    number: str = Field(sa_type=String(120), unique=True)
    dispute_type: str = Field(sa_type=String(30))
    title: str = Field(sa_type=String(200))
    summary: str = Field(default="", sa_type=String(4000))
    status: str = Field(default=CaseStatus.intake, sa_type=String(20))
    mediator_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("user_account.id", ondelete="RESTRICT"), nullable=False
        )
    )
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    updated_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    mediation_started_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    end_reason: str | None = Field(default=None, sa_type=String(1000))
    # The court that referred the case to the committee (委派调解, or 先行调解 on its
    # invitation): then the only court competent to confirm the agreement (CPL 205(1)).
    referred_by_court_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("organisation.id", ondelete="RESTRICT")),
    )
    # Where the subject matter is (标的物所在地), as a county-level region code (140403):
    # the basic court there is competent too.
    subject_region: str | None = Field(default=None, sa_type=String(6))


class Party(SQLModel, table=True):
    """A person or organisation in a case, in one role, with an optional agent.

    ``id_number`` is a resident ID (persons) or a unified social credit code (organisations);
    it is stored whole because the agreement must carry it (PML 29), and masked everywhere
    else it is shown or logged.
    """

    __tablename__ = "party"
    __table_args__ = (
        CheckConstraint(_in("role", PartyRole), name="role"),
        CheckConstraint(_in("kind", PartyKind), name="kind"),
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
    role: str = Field(sa_type=String(20))
    kind: str = Field(sa_type=String(20))
    name: str = Field(sa_type=String(200))
    id_number: str | None = Field(default=None, sa_type=String(18))
    phone: str | None = Field(default=None, sa_type=String(30))
    address: str | None = Field(default=None, sa_type=String(300))
    representative: str | None = Field(default=None, sa_type=String(100))
    agent_name: str | None = Field(default=None, sa_type=String(100))
    agent_id_number: str | None = Field(default=None, sa_type=String(18))
    agent_phone: str | None = Field(default=None, sa_type=String(30))
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))


class Invitation(SQLModel, table=True):
    """A join link for one party of one case. Only the SHA-256 of the token is kept."""

    __tablename__ = "invitation"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("mediation_case.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        )
    )
    party_id: int = Field(
        sa_column=Column(Integer, ForeignKey("party.id", ondelete="RESTRICT"), nullable=False)
    )
    token_hash: str = Field(sa_type=String(64), unique=True)
    created_by: int = Field(
        sa_column=Column(
            Integer, ForeignKey("user_account.id", ondelete="RESTRICT"), nullable=False
        )
    )
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    expires_at: datetime = Field(sa_column=_utc(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    use_count: int = 0


class AuthSession(SQLModel, table=True):
    """A signed-in staff member or a party who opened a join link.

    The cookie and the bearer token are the same opaque random value; only its hash is kept,
    so a database leak does not leak sessions. A party session dies with its invitation.
    """

    __tablename__ = "auth_session"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (party_id IS NULL)", name="one_principal"),
    )

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_type=String(64), unique=True)
    user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="CASCADE")),
    )
    party_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("party.id", ondelete="CASCADE"))
    )
    invitation_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("invitation.id", ondelete="CASCADE")),
    )
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    expires_at: datetime = Field(sa_column=_utc(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class LoginAttempt(SQLModel, table=True):
    """Sign-in attempts, counted to slow down password guessing."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_type=String(64))
    address: str = Field(sa_type=String(64))
    success: bool
    at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))


class AuditEvent(SQLModel, table=True):
    """One link of the append-only audit chain.

    ``hash`` is SHA-256 over the previous hash and this event's canonical fields; ``prev_hash``
    is UNIQUE, so two writers can never fork the chain. Database triggers refuse UPDATE and
    DELETE. ``data`` is the canonical JSON text that was hashed, stored verbatim.
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_case", "case_id", "seq"),)

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_column=_utc(nullable=False))
    actor_kind: str = Field(sa_type=String(20))
    actor_id: int | None = None
    actor_label: str = Field(default="", sa_type=String(200))
    action: str = Field(sa_type=String(60))
    case_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("mediation_case.id", ondelete="RESTRICT")),
    )
    data: str = Field(default="{}", sa_type=Text)
    prev_hash: str = Field(sa_type=String(64), unique=True)
    hash: str = Field(sa_type=String(64), unique=True)
