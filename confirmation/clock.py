"""The statutory clock: every deadline of judicial confirmation (LEGAL.md), computed from the
dates on record, shown to whoever must act, and refusing a step the law says is too late.

Periods are counted in days as the Civil Procedure Law counts them (art. 85): not from the
day of the event but from the next, ending at the end (24:00, Beijing time) of the last day.
A period whose last day is a public holiday would run to the next working day; the service
does not know the holiday calendar, so it shows the earlier date, which never lets a party
miss a deadline by trusting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from service.clock import CHINA, end_of_period
from service.errors import InvalidTransition
from service.i18n import N_

APPLY_DAYS = 30  # the joint application, from the agreement taking effect (CPL 205)
ACCEPT_DAYS = 3  # accept or refuse, from the application reaching the court (JCP 4)
DECIDE_TARGET_DAYS = 15  # decide, from acceptance: the working target (JCP 5)
DECIDE_LIMIT_DAYS = 30  # the statutory maximum (CPL 187)
OBJECTION_DAYS = 15  # a party's objection, from receiving the ruling (Interp. 374)

Who = Literal["parties", "court", "judge"]


@dataclass(frozen=True)
class Deadline:
    code: str
    label: str  # msgid
    due: datetime  # UTC
    who: Who  # who must act by then
    rule: str

    def remaining(self, at: datetime) -> timedelta:
        return self.due - at

    def overdue(self, at: datetime) -> bool:
        return at > self.due


def application_window(effective_at: datetime) -> Deadline:
    return Deadline(
        "apply",
        N_("Apply for confirmation (jointly)"),
        end_of_period(effective_at, APPLY_DAYS),
        "parties",
        "CPL 205",
    )


def acceptance(queued_at: datetime) -> Deadline:
    return Deadline(
        "accept",
        N_("Accept or refuse the application"),
        end_of_period(queued_at, ACCEPT_DAYS),
        "court",
        "JCP 4",
    )


def decision_target(accepted_at: datetime) -> Deadline:
    return Deadline(
        "decide",
        N_("Decide (working target)"),
        end_of_period(accepted_at, DECIDE_TARGET_DAYS),
        "judge",
        "JCP 5",
    )


def decision_limit(accepted_at: datetime) -> Deadline:
    return Deadline(
        "decide_limit",
        N_("Decide (statutory limit)"),
        end_of_period(accepted_at, DECIDE_LIMIT_DAYS),
        "judge",
        "CPL 187",
    )


def objection(received_at: datetime) -> Deadline:
    """One party's 15 days to object to the ruling, from the day they received it: opened it
    on their case page (ServiceProof.opened_at), not the day it reached the page."""
    return Deadline(
        "objection",
        N_("Object to the ruling"),
        end_of_period(received_at, OBJECTION_DAYS),
        "parties",
        "Interp. 374",
    )


def objection_of(received_at: datetime | None) -> Deadline | None:
    """A party's objection deadline, or None while they have not received the ruling (the
    15 days do not run yet)."""
    return objection(received_at) if received_at is not None else None


def supplement(due: datetime) -> Deadline:
    return Deadline(
        "supplement",
        N_("Hand in the supplement (missing it counts as withdrawal)"),
        due,
        "parties",
        "Interp. 359",
    )


def open_deadlines(
    *,
    status: str,
    effective_at: datetime,
    queued_at: datetime | None,
    accepted_at: datetime | None,
    supplement_due: datetime | None,
) -> list[Deadline]:
    """The deadlines that bind someone now, given the application's state and dates."""
    if status == "awaiting_consent":
        return [application_window(effective_at)]
    if status == "queued" and queued_at is not None:
        return [acceptance(queued_at)]
    if status in ("accepted", "claimed") and accepted_at is not None:
        return [decision_target(accepted_at), decision_limit(accepted_at)]
    if status == "supplement_requested" and supplement_due is not None:
        found = [supplement(supplement_due)]
        if accepted_at is not None:
            found.append(decision_limit(accepted_at))
        return found
    return []


class Dated(Protocol):
    """An application's state and the dates its deadlines run from (a row or a queue row)."""

    @property
    def status(self) -> str: ...
    @property
    def effective_at(self) -> datetime: ...
    @property
    def queued_at(self) -> datetime | None: ...
    @property
    def accepted_at(self) -> datetime | None: ...
    @property
    def supplement_due(self) -> datetime | None: ...


def of(application: Dated) -> list[Deadline]:
    """The deadlines that bind someone now for this application."""
    return open_deadlines(
        status=application.status,
        effective_at=application.effective_at,
        queued_at=application.queued_at,
        accepted_at=application.accepted_at,
        supplement_due=application.supplement_due,
    )


def refuse_if_past(deadline: Deadline, at: datetime, message: str, **params: object) -> None:
    """409 naming the deadline's date (Beijing) when ``at`` is past it."""
    if deadline.overdue(at):
        raise InvalidTransition(
            message, due=deadline.due.astimezone(CHINA).strftime("%Y-%m-%d"), **params
        )
