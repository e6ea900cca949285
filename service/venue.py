"""What a case records about the courts that may confirm its agreement (CPL 205): the court
that referred it to the committee, and where its subject matter is.

The confirmation domain decides competence from these (confirmation/competence.py
``competent_courts``); this module only checks and changes them, at intake and later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import audit
from service.clock import now
from service.errors import Invalid
from service.i18n import N_
from service.models import Case, Organisation, OrgKind

# The provinces' codes (GB/T 2260), the first two digits of a mainland region code.
MAINLAND_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
    ]
)
_REGION = re.compile(r"[0-9]{6}")  # ASCII digits only: no full-width ones
FIELDS = ("referred_by_court_id", "subject_region")


def region_problem(code: str) -> str | None:
    """Why ``code`` is not a county-level mainland region code (140403), or None if it is.
    A basic court serves a county or district, so a province's or a city's own code (140000,
    140400) names no one court."""
    if not _REGION.fullmatch(code):
        return N_("A region code has six digits, such as 140403.")
    if code[:2] not in MAINLAND_PROVINCES:
        return N_("No province's region code starts with {prefix}.")
    if code[2:4] == "00" or code[4:] == "00":
        return N_(
            "Give the code of the county or district (such as 140403), not of a province or a city."
        )
    return None


def check_region(code: str | None) -> None:
    if code is not None and (problem := region_problem(code)):
        raise Invalid(problem, field="subject_region", prefix=code[:2])


async def check_court(session: AsyncSession, court_id: int | None) -> None:
    if court_id is None:
        return
    court = await session.get(Organisation, court_id)
    if court is None or court.kind != OrgKind.court:
        raise Invalid("{court_id} is not a court.", field="referred_by_court_id", court_id=court_id)


async def courts(session: AsyncSession) -> list[Organisation]:
    """The courts a mediator may name as the one that referred a case, by name."""
    statement = select(Organisation).where(Organisation.kind == OrgKind.court)
    return list((await session.exec(statement.order_by(col(Organisation.name)))).all())


async def check(session: AsyncSession, changes: Mapping[str, Any]) -> None:
    """422 naming the field when what ``changes`` sets is not a court or not a region."""
    if "subject_region" in changes:
        check_region(changes["subject_region"])
    if "referred_by_court_id" in changes:
        await check_court(session, changes["referred_by_court_id"])


async def change(
    session: AsyncSession, *, case: Case, actor: audit.Actor, changes: Mapping[str, Any]
) -> Case:
    """Set what ``changes`` names (either field; None clears it), checked first so that
    nothing is written when one is wrong; one audit event names each change. The caller
    holds the case's row lock (cases.update_case)."""
    await check(session, changes)
    changed = {
        name: {"from": getattr(case, name), "to": changes[name]}
        for name in FIELDS
        if name in changes and getattr(case, name) != changes[name]
    }
    if not changed:
        return case
    for name, values in changed.items():
        setattr(case, name, values["to"])
    case.updated_at = now()
    session.add(case)
    await session.flush()
    await audit.record(session, actor=actor, action="case.updated", case_id=case.id, data=changed)
    return case
