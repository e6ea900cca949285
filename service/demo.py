"""The demo: a court and committees of Changzhi's Luzhou district, staff, and one debt case.

Realistic shapes for a first look (DESIGN.md): a business owner who cannot repay a loan at
once and a lender who would rather be paid by instalments than sue. The names and ID numbers
are made up; the ID numbers have valid check digits so they pass the same checks as real ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import accounts, audit, cases, invitations
from service.models import (
    Case,
    CommitteeLevel,
    DisputeType,
    Organisation,
    OrgKind,
    Party,
    PartyKind,
    PartyRole,
    Role,
    User,
)
from service.personal import id_check_char

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105  (printed for the demo on purpose)
DEMO_USERS = [
    ("admin", Role.admin, "系统管理员", "district"),
    ("mediator", Role.mediator, "张调解", "township"),
    ("judge", Role.judge, "李法官", "court"),
    ("clerk", Role.clerk, "赵书记员", "court"),
]
DEMO_CASE_TITLE = "王某与李某民间借贷纠纷"


def _id(first17: str) -> str:
    return first17 + id_check_char(first17)


@dataclass
class DemoLinks:
    users: list[tuple[str, str, str]]
    case_number: str
    links: list[tuple[str, str]]


async def is_empty(session: AsyncSession) -> bool:
    count = (await session.exec(select(func.count()).select_from(Organisation))).one()
    return int(count) == 0


async def seed(session: AsyncSession) -> None:
    actor = audit.CLI
    # Short names: the court's and the district's are derived from their names (潞州法院,
    # 潞州); the township's is the one people use, given (its cases are （2026）潞东调字第N号);
    # the community's is derived again (东街英雄中路).
    court = await accounts.create_organisation(
        session,
        actor=actor,
        kind=OrgKind.court,
        name="长治市潞州区人民法院",
        region_code="晋0403",
    )
    district = await accounts.create_organisation(
        session,
        actor=actor,
        kind=OrgKind.committee,
        name="长治市潞州区人民调解委员会",
        level=CommitteeLevel.district,
    )
    township = await accounts.create_organisation(
        session,
        actor=actor,
        kind=OrgKind.committee,
        name="长治市潞州区东街街道人民调解委员会",
        short_name="潞东",
        level=CommitteeLevel.township,
        parent_id=district.id,
    )
    await accounts.create_organisation(
        session,
        actor=actor,
        kind=OrgKind.committee,
        name="长治市潞州区东街街道英雄中路社区人民调解委员会",
        level=CommitteeLevel.village,
        parent_id=township.id,
    )
    # The district court is where these committees are: competent to confirm their agreements.
    for committee in (district, township):
        await accounts.set_court(session, actor=actor, org_id=committee.id or 0, court_id=court.id)
    orgs = {"district": district.id or 0, "township": township.id or 0, "court": court.id or 0}
    users: dict[str, User] = {}
    for username, role, name, org_kind in DEMO_USERS:
        users[username] = await accounts.create_user(
            session,
            actor=actor,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            org_id=orgs[org_kind],
            name=name,
        )
    await cases.create_case(
        session,
        mediator=users["mediator"],
        dispute_type=DisputeType.debt,
        title=DEMO_CASE_TITLE,
        summary=(
            "2025年3月，王某向李某借款人民币五万元用于经营，约定一年内归还。到期后王某因经营困难"
            "无力一次性还款，双方发生纠纷。李某同意先行调解。"
        ),
        parties=[
            cases.NewParty(
                role=PartyRole.applicant,
                kind=PartyKind.person,
                name="李某",
                id_number=_id("14040319680512003"),
                phone="13800000001",
                address="长治市潞州区英雄中路2号",
            ),
            cases.NewParty(
                role=PartyRole.respondent,
                kind=PartyKind.person,
                name="王某",
                id_number=_id("14040319790823005"),
                phone="13800000002",
                address="长治市潞州区太行东街15号",
            ),
        ],
    )


async def fresh_links(session: AsyncSession, public_url: str) -> DemoLinks | None:
    """New join links for the demo case (tokens are shown once, so each run mints new ones)."""
    case = (
        await session.exec(select(Case).where(Case.title == DEMO_CASE_TITLE).order_by(col(Case.id)))
    ).first()
    mediator = (await session.exec(select(User).where(User.username == "mediator"))).first()
    if case is None or mediator is None:
        return None
    parties = (
        await session.exec(select(Party).where(Party.case_id == case.id).order_by(col(Party.id)))
    ).all()
    links = []
    for party in parties:
        _, token = await invitations.create_invitation(
            session, case=case, party=party, mediator=mediator, valid_for=timedelta(days=7)
        )
        links.append((party.name, f"{public_url}/join/{token}"))
    return DemoLinks(
        users=[(u, DEMO_PASSWORD, r.value) for u, r, _, _ in DEMO_USERS],
        case_number=case.number,
        links=links,
    )
