"""A committee's basic-level court ("where the committee is", CPL 205): set, refused for
what is not a committee or not a court, audited; the demo's committees have theirs."""

from __future__ import annotations

import pytest

from service import accounts, audit
from service.errors import Invalid
from service.models import Organisation
from tests.conftest import Factory


async def test_a_committee_gets_its_court(factory: Factory) -> None:
    committee = await factory.committee()
    court = await factory.court()
    async with factory.uow() as s:
        org = await accounts.set_court(
            s, actor=audit.CLI, org_id=committee.id or 0, court_id=court.id
        )
        assert org.court_id == court.id
    async with factory.uow() as s:
        stored = await s.get(Organisation, committee.id)
        assert stored is not None and stored.court_id == court.id


async def test_only_a_committee_and_only_a_court(factory: Factory) -> None:
    committee = await factory.committee()
    other = await factory.committee()
    court = await factory.court()
    for org_id, court_id in ((court.id, court.id), (committee.id, other.id)):
        with pytest.raises(Invalid):
            async with factory.uow() as s:
                await accounts.set_court(s, actor=audit.CLI, org_id=org_id or 0, court_id=court_id)
    async with factory.uow() as s:
        stored = await s.get(Organisation, committee.id)
        assert stored is not None and stored.court_id is None
