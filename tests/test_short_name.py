"""Organisations' short names (简称): what case numbers carry instead of the full name.

The command line's side is in tests/test_cli.py; a short name in use (409) and one too long
(422) in tests/test_cases.py.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel, select

from service.accounts import default_short_name
from service.app import default_domains
from service.db import make_engine
from service.migrate import alembic_config, upgrade
from service.models import AuditEvent, Organisation, OrgKind, Role
from tests.conftest import Databases, Factory, Made, unique


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("长治市潞州区东街街道人民调解委员会", "潞州东街"),
        ("长治市潞州区人民调解委员会", "潞州"),
        ("山西省长治市潞州区人民调解委员会", "潞州"),
        ("长治市潞州区东街街道英雄中路社区人民调解委员会", "东街英雄中路"),
        ("英雄中路社区人民调解委员会", "英雄中路"),
        ("长治市潞州区物业纠纷人民调解委员会", "潞州物业纠纷"),
        ("长治市潞州区市场监管人民调解委员会", "潞州市场监管"),
        ("晋城市高平市米山镇人民调解委员会", "高平米山"),  # a county-level city is who
        ("长治市沁县册村镇人民调解委员会", "沁县册村"),  # one-character stems keep their 县
        ("长治市城区人民调解委员会", "城区"),
        ("北京市朝阳区人民调解委员会", "朝阳"),
        ("内蒙古自治区呼和浩特市新城区人民调解委员会", "新城"),
        ("东莞市虎门镇人民调解委员会", "东莞虎门"),  # no county between: the city says who
        ("阳光小区调解委员会", "阳光小区"),
        ("长治市人民调解委员会", "长治"),
        ("新庄村调委会", "新庄"),
        ("人民调解委员会", "人民调解委员会"),  # nothing would be left
        ("东关调委会3f2a", "东关调委会3f2a"),  # no place in it: the name stays whole
    ],
)
def test_default_short_name_of_a_committee(name: str, short: str) -> None:
    assert default_short_name(OrgKind.committee, name) == short


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("长治市潞州区人民法院", "潞州法院"),
        ("长治市中级人民法院", "长治中级法院"),
        ("山西省高级人民法院", "山西高级法院"),
        ("最高人民法院", "最高法院"),
        ("潞州法院", "潞州法院"),
    ],
)
def test_default_short_name_of_a_court(name: str, short: str) -> None:
    assert default_short_name(OrgKind.court, name) == short


def this_year() -> int:
    return datetime.now(ZoneInfo("Asia/Shanghai")).year


async def test_a_committee_numbers_its_cases_with_its_short_name(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    admin = await factory.login(client, world.admin)
    short = unique("潞东")
    body = {
        "kind": "committee",
        "name": "长治市潞州区东街街道人民调解委员会" + unique(""),
        "level": "township",
        "short_name": f" {short} ",
    }
    r = await client.post("/api/organisations", json=body, headers=admin)
    assert r.status_code == 201, r.text
    org = r.json()
    assert org["short_name"] == short
    listed = await client.get("/api/organisations", headers=admin)
    assert {o["id"]: o["short_name"] for o in listed.json()}[org["id"]] == short

    async with factory.uow() as s:
        created = select(AuditEvent).where(AuditEvent.action == "organisation.created")
        events = (await s.exec(created)).all()
        data = [json.loads(e.data) for e in events]
    assert {"organisation_id": org["id"], "name": body["name"], "short_name": short} in [
        {k: d[k] for k in ("organisation_id", "name", "short_name")} for d in data
    ]

    async with factory.uow() as s:
        committee = await s.get(Organisation, org["id"])
    assert committee is not None
    mediator = await factory.user(Role.mediator, committee)
    case, _ = await factory.case(mediator)
    assert case.number == f"（{this_year()}）{short}调字第1号"


async def test_without_a_short_name_the_derived_one_is_used(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    admin = await factory.login(client, world.admin)
    county = unique("潞州")
    name = f"长治市{county}区东街街道人民调解委员会"
    body = {"kind": "committee", "name": name, "level": "township"}
    r = await client.post("/api/organisations", json=body, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["short_name"] == f"{county}东街"
    # An empty short name is no short name: the derived one, not an empty case number part.
    body = {**body, "name": f"长治市{unique('潞州')}区人民调解委员会", "short_name": "  "}
    r = await client.post("/api/organisations", json=body, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["short_name"] and r.json()["short_name"] in body["name"]


# -- the migration ---------------------------------------------------------------------------


def _load_every_model() -> None:
    for domain in default_domains():
        for module in domain.models:
            importlib.import_module(module)


async def test_migration_renames_code_keeping_values_and_references(
    databases: Databases,
) -> None:
    """0003 on a database with organisations that accounts refer to (ON DELETE RESTRICT):
    values are kept, the schema is then exactly the models', and it goes down and up again."""
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url, "0002")
    engine = make_engine(db.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO organisation (kind, name, code, level, created_at)"
                    " VALUES ('committee', '长治市潞州区东街街道人民调解委员会', '潞东',"
                    " 'township', CURRENT_TIMESTAMP)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO user_account (username, password_hash, role, name, org_id,"
                    " active, created_at) SELECT 'm', 'x', 'mediator', '张', id, true,"
                    " CURRENT_TIMESTAMP FROM organisation"
                )
            )
        await asyncio.to_thread(upgrade, db.url)
        _load_every_model()
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT name, short_name FROM organisation"))).all()
            assert [tuple(r) for r in rows] == [("长治市潞州区东街街道人民调解委员会", "潞东")]
            differences = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), SQLModel.metadata
                )
            )
            assert differences == []
            with pytest.raises(Exception, match=r"(?i)unique"):
                await conn.execute(
                    text(
                        "INSERT INTO organisation (kind, name, short_name, level, created_at)"
                        " VALUES ('committee', 'x', '潞东', 'village', CURRENT_TIMESTAMP)"
                    )
                )

        await asyncio.to_thread(command.downgrade, alembic_config(db.url), "0002")
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT code FROM organisation"))).all()
            assert [r[0] for r in rows] == ["潞东"]
        await asyncio.to_thread(upgrade, db.url)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT short_name FROM organisation"))).all()
            assert [r[0] for r in rows] == ["潞东"]
            if db.kind == "sqlite":
                check = (await conn.execute(text("PRAGMA integrity_check"))).scalar_one()
                assert check == "ok"
    finally:
        await engine.dispose()
