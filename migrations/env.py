"""Alembic environment: runs migrations through the service's own async engine setup."""

import asyncio
import importlib

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import service.documents.models  # (registers the issued documents and seals)
import service.inbox  # (registers the in-app notices)
import service.models  # noqa: F401  (registers the tables on the metadata)
from service.app import default_domains
from service.db import make_engine

# Each domain names the modules that hold its tables; importing them registers them.
for _domain in default_domains():
    for _module in _domain.models:
        importlib.import_module(_module)

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run them online.")
asyncio.run(_run_async())
