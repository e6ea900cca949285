"""Alembic migrations on the backend under test: from empty to head, back to base and up
again, and the service refusing a schema it does not know."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import service.documents.models  # (registers the issued documents and seals)
import service.inbox  # (registers the in-app notices)
import service.models  # noqa: F401  (registers every table on the metadata)
from service.app import create_app
from service.db import make_engine
from service.errors import SchemaOutOfDate
from service.migrate import alembic_config, current_revision, head_revision, upgrade
from tests.cli_runner import run_cli
from tests.conftest import Databases, make_settings


async def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def revision_of(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()


def model_tables() -> set[str]:
    return set(SQLModel.metadata.tables)


async def test_head_is_known() -> None:
    assert head_revision() == "0011"
    assert {"organisation", "user_account", "audit_event"} <= model_tables()


async def test_upgrade_from_empty_creates_every_table(databases: Databases) -> None:
    db = await databases.new()
    assert await revision_of(db.url) is None
    await asyncio.to_thread(upgrade, db.url)

    tables = await table_names(db.url)
    missing = model_tables() - tables
    assert not missing, f"tables in the models but not in the migrated database: {missing}"
    assert "alembic_version" in tables
    assert await revision_of(db.url) == head_revision()


async def test_documents_schema_is_the_models(databases: Databases) -> None:
    """0006 builds document and seal_key exactly as service/documents/models.py says (types,
    constraints, indexes), so neither drifts from the other."""
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url)
    engine = make_engine(db.url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), SQLModel.metadata
                )
            )
    finally:
        await engine.dispose()
    ours = {"document", "seal_key"}
    mentioned = [d for d in differences if ours & set(_tables_in(d))]
    assert mentioned == []


def _tables_in(difference: object) -> list[str]:
    """The table names an autogenerate difference (a tuple, or a list of them) mentions."""
    found: list[str] = []
    items = difference if isinstance(difference, list) else [difference]
    for item in items:
        for part in item if isinstance(item, tuple) else (item,):
            name = getattr(part, "name", None) if not isinstance(part, str) else part
            table = getattr(part, "table", None)
            if isinstance(name, str):
                found.append(name)
            if table is not None and isinstance(getattr(table, "name", None), str):
                found.append(table.name)
    return found


async def test_upgrade_twice_is_a_no_op(databases: Databases) -> None:
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url)
    await asyncio.to_thread(upgrade, db.url)
    assert await revision_of(db.url) == head_revision()
    assert model_tables() <= await table_names(db.url)


async def test_app_refuses_an_empty_database(databases: Databases, tmp_path: Path) -> None:
    db = await databases.new()
    app = create_app(make_settings(db.url, tmp_path))
    with pytest.raises(SchemaOutOfDate) as caught:
        async with app.router.lifespan_context(app):
            pytest.fail("the app started on an empty database")
    message = str(caught.value)
    assert "mediation db upgrade" in message
    assert "empty" in message
    # It refused without creating anything.
    assert not (model_tables() & await table_names(db.url))


async def test_app_refuses_an_unknown_revision(databases: Databases, tmp_path: Path) -> None:
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url)
    engine = make_engine(db.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_unknown'"))
    finally:
        await engine.dispose()

    app = create_app(make_settings(db.url, tmp_path))
    with pytest.raises(SchemaOutOfDate) as caught:
        async with app.router.lifespan_context(app):
            pytest.fail("the app started on a schema it does not know")
    message = str(caught.value)
    assert "mediation db upgrade" in message
    assert "ffff_unknown" in message


async def test_app_starts_on_a_migrated_database(databases: Databases, tmp_path: Path) -> None:
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url)
    app = create_app(make_settings(db.url, tmp_path))
    async with app.router.lifespan_context(app):
        assert app.state.sessionmaker is not None


async def test_cli_refuses_an_unmigrated_database(databases: Databases, tmp_path: Path) -> None:
    db = await databases.new()
    result = await run_cli(db.url, tmp_path, "audit", "verify")
    assert result.returncode != 0, result.stdout
    assert "mediation db upgrade" in result.stderr
    assert "intact" not in result.stdout


async def test_downgrade_to_base_and_upgrade_again(databases: Databases) -> None:
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url)

    await asyncio.to_thread(command.downgrade, alembic_config(db.url), "base")
    assert await revision_of(db.url) is None
    left = model_tables() & await table_names(db.url)
    assert not left, f"downgrade to base left tables behind: {left}"

    await asyncio.to_thread(upgrade, db.url)
    assert await revision_of(db.url) == head_revision()
    assert model_tables() <= await table_names(db.url)

    # The append-only triggers came back with the tables.
    engine = make_engine(db.url)
    try:
        async with engine.connect() as conn:
            if db.kind == "postgresql":
                rows = await conn.execute(
                    text(
                        "SELECT tgname FROM pg_trigger"
                        " WHERE tgrelid = 'audit_event'::regclass AND NOT tgisinternal"
                    )
                )
                assert {r[0] for r in rows} == {
                    "audit_event_append_only",
                    "audit_event_no_truncate",
                }
            else:
                rows = await conn.execute(
                    text(
                        "SELECT name FROM sqlite_master"
                        " WHERE type = 'trigger' AND tbl_name = 'audit_event'"
                    )
                )
                assert {r[0] for r in rows} == {"audit_event_no_update", "audit_event_no_delete"}
    finally:
        await engine.dispose()
