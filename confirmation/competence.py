"""Which courts may confirm a case's agreement (CPL 205), and on what basis.

The parties choose among these when they apply (confirmation/service.py ``apply``); the
case's venue is fixed once an application is under way (``venue_fixed`` there).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from confirmation.models import Basis
from service import cases
from service.i18n import N_
from service.models import Case, Organisation, OrgKind

BASIS_LABELS = {
    Basis.committee_location: N_("The court where the mediation committee is"),
    Basis.party_domicile: N_("The court where a party is domiciled"),
    Basis.subject_matter: N_("The court where the subject matter is"),
    Basis.invited_by_court: N_("The court that referred the case for mediation"),
}
# The province part of a court's region code (晋0403) and of an ID number's region (140403).
PROVINCES = {
    "京": "11", "津": "12", "冀": "13", "晋": "14", "蒙": "15", "辽": "21", "吉": "22",
    "黑": "23", "沪": "31", "苏": "32", "浙": "33", "皖": "34", "闽": "35", "赣": "36",
    "鲁": "37", "豫": "41", "鄂": "42", "湘": "43", "粤": "44", "桂": "45", "琼": "46",
    "渝": "50", "川": "51", "贵": "52", "云": "53", "藏": "54", "陕": "61", "甘": "62",
    "青": "63", "宁": "64", "新": "65",
}  # fmt: skip


@dataclass(frozen=True)
class Competent:
    court: Organisation
    basis: Basis


def court_region(court: Organisation) -> str | None:
    """晋0403 -> 140403, the region part of the ID numbers of people domiciled there."""
    code = court.region_code or ""
    province = PROVINCES.get(code[:1])
    return province + code[1:] if province and len(code) == 5 else None


async def competent_courts(session: AsyncSession, case: Case) -> list[Competent]:
    """The courts to which the parties may apply (CPL 205). A case a court referred to the
    committee goes back to that court alone. Otherwise: the committee's basic-level court,
    the courts where a party (a person, by the ID number's region) is domiciled, and those
    where the subject matter is (the case's ``subject_region``); each court once, under the
    first of these that names it."""
    if case.referred_by_court_id is not None:
        referring = await session.get(Organisation, case.referred_by_court_id)
        return [Competent(referring, Basis.invited_by_court)] if referring is not None else []
    found: dict[int, Competent] = {}
    committee = await session.get(Organisation, case.org_id)
    if committee is not None and committee.court_id is not None:
        court = await session.get(Organisation, committee.court_id)
        if court is not None:
            found[court.id or 0] = Competent(court, Basis.committee_location)
    parties = (await cases.parties_of(session, [case.id or 0]))[case.id or 0]
    domiciles = {p.id_number[:6] for p in parties if p.kind == "person" and p.id_number}
    by_region = [(domiciles, Basis.party_domicile)]
    if case.subject_region:
        by_region.append(({case.subject_region}, Basis.subject_matter))
    if domiciles or case.subject_region:
        courts = (
            await session.exec(select(Organisation).where(Organisation.kind == OrgKind.court))
        ).all()
        for regions, basis in by_region:
            for court in courts:
                if court_region(court) in regions and (court.id or 0) not in found:
                    found[court.id or 0] = Competent(court, basis)
    return list(found.values())
