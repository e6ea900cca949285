"""The confirmation API's JSON shapes (API.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, StrictBool
from pydantic_core import PydanticCustomError

from confirmation import clock
from confirmation.models import ApplicationStatus, Basis, Ground, Outcome, ServiceProof
from confirmation.session_schemas import SessionOut
from service.i18n import gettext
from service.schemas import RowId, Strict, Text


def _text_only(value: object) -> object:
    # A time is an ISO 8601 string in JSON; a number would be taken for a Unix timestamp.
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "a date and time in ISO 8601 is needed")
    return value


# With its UTC offset (2026-12-20T23:59:59+08:00): a time without one would be ambiguous.
Due = Annotated[AwareDatetime, BeforeValidator(_text_only)]


class ApplicationIn(Strict):
    court_id: RowId


class AcceptIn(Strict):
    accept: StrictBool
    reason: Annotated[str, Text(max_length=1000)] | None = None


class DecisionIn(Strict):
    outcome: Outcome
    grounds: list[Ground] = Field(default_factory=list, max_length=6)
    reason: Annotated[str, Text(max_length=2000)] = ""
    notes: Annotated[str, Text(max_length=20000)] = ""
    supplement_due: Due | None = None


class NoteIn(Strict):
    reason: Annotated[str, Text(max_length=1000)] = ""


class SupplementIn(Strict):
    note: Annotated[str, Text(min_length=1, max_length=4000)]


class CourtOut(BaseModel):
    id: int
    name: str
    region_code: str | None
    basis: Basis
    basis_label: str


class DeadlineOut(BaseModel):
    code: str
    label: str
    due: datetime
    who: str
    rule: str
    overdue: bool
    remaining_seconds: int

    @classmethod
    def of(cls, deadline: clock.Deadline, at: datetime, language: str) -> DeadlineOut:
        """The deadline as shown at ``at``, its label in the reader's language."""
        return cls(
            code=deadline.code,
            label=gettext(language, deadline.label),
            due=deadline.due,
            who=deadline.who,
            rule=deadline.rule,
            overdue=deadline.overdue(at),
            remaining_seconds=int(deadline.remaining(at).total_seconds()),
        )


class ServiceOut(BaseModel):
    """The ruling served on one party: on their case page (``delivered_at``), received when
    they first opened it (``opened_at``), and their objection deadline, from receipt."""

    party_id: int
    delivered_at: datetime
    opened_at: datetime | None
    objection: DeadlineOut | None

    @classmethod
    def of(cls, proof: ServiceProof, at: datetime, language: str) -> ServiceOut:
        deadline = clock.objection_of(proof.opened_at)
        return cls(
            party_id=proof.party_id,
            delivered_at=proof.delivered_at,
            opened_at=proof.opened_at,
            objection=DeadlineOut.of(deadline, at, language) if deadline else None,
        )


class ConsentOut(BaseModel):
    party_id: int
    at: datetime


class DecisionOut(BaseModel):
    id: int
    outcome: Outcome
    grounds: list[Ground]
    reason: str
    supplement_due: datetime | None
    at: datetime
    ruling_sha256: str | None


class HistoryOut(BaseModel):
    at: datetime
    action: str
    label: str
    actor: str
    # What was said with the step: a party's supplement, the reason for a refusal or a
    # withdrawal (a supplement request's own text is in ``decisions``).
    note: str | None = None


class ApplicationOut(BaseModel):
    id: int
    case_id: int
    case_number: str
    agreement_id: int
    court_id: int
    court_name: str
    basis: Basis
    status: ApplicationStatus
    status_label: str
    number: str | None
    created_at: datetime
    effective_at: datetime
    queued_at: datetime | None
    accepted_at: datetime | None
    claimed_by: int | None
    claimed_at: datetime | None
    supplement_due: datetime | None
    decided_at: datetime | None
    refusal_reason: str | None
    record_sha256: str | None
    ruling_sha256: str | None
    agreement_sha256: str | None
    consents: list[ConsentOut]
    awaiting_consent: list[int]  # party ids still to join
    deadlines: list[DeadlineOut]
    admissibility: list[str]  # the agreement's check warnings (Interp. 357), translated
    decisions: list[DecisionOut]
    history: list[HistoryOut]
    session: SessionOut | None = None  # the judge's session record, once opened
    service: list[ServiceOut] = Field(default_factory=list)  # the ruling's, per party


class QueueItem(BaseModel):
    id: int
    case_number: str
    number: str | None
    status: ApplicationStatus
    status_label: str
    queued_at: datetime | None
    accepted_at: datetime | None
    claimed_by: int | None
    deadline: DeadlineOut | None


class QueuePage(BaseModel):
    items: list[QueueItem]
    total: int
    offset: int
    limit: int
