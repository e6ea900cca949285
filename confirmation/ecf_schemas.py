"""The court-queue API's JSON shapes, after OASIS ECF's filing review: a filing (our joint
application) with its status and materials, a review (accepted with the court's own number,
or refused with reasons), and a decision pushed from the court's case system."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictBool

from confirmation.models import ApplicationStatus, Ground, Outcome
from confirmation.schemas import DeadlineOut, Due
from service.schemas import Line, Strict, Text


class FilingParty(BaseModel):
    id: int
    role: str
    kind: str
    name: str
    id_number: str | None = Field(description="masked, as everywhere")
    phone: str | None
    address: str | None


class FilingDocument(BaseModel):
    kind: str = Field(description="agreement, record or ruling")
    sha256: str
    href: str = Field(description="GET it with the same court token")


class FilingSummary(BaseModel):
    id: int
    case_number: str
    number: str | None = Field(description="the court's case number once accepted")
    status: ApplicationStatus
    queued_at: datetime | None
    accepted_at: datetime | None
    claimed_by: int | None
    due_at: datetime | None = Field(description="the nearest statutory deadline")
    href: str


class FilingPage(BaseModel):
    items: list[FilingSummary]
    total: int
    offset: int
    limit: int


class FilingOut(FilingSummary):
    court_id: int
    court_name: str
    effective_at: datetime
    decided_at: datetime | None
    refusal_reason: str | None
    supplement_due: datetime | None
    parties: list[FilingParty]
    documents: list[FilingDocument]
    deadlines: list[DeadlineOut]


class ReviewIn(Strict):
    """Review complete (ECF ReviewFiling's callback): accepted, with the court's own case
    number or, without one, a number from our counter; or refused with the reasons."""

    accepted: StrictBool
    number: Annotated[str, Line(min_length=1, max_length=60)] | None = None
    reasons: Annotated[str, Text(max_length=1000)] | None = None


class DecisionPush(Strict):
    """The decision of the judge who holds the filing, recorded in the court's own system."""

    outcome: Outcome
    grounds: list[Ground] = Field(default_factory=list, max_length=6)
    reason: Annotated[str, Text(max_length=2000)] = ""
    supplement_due: Due | None = None
