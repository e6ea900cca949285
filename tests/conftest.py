"""Shared fixtures: one real database per run (SQLite or PostgreSQL), the app over ASGI,
and factories that make organisations, staff, cases and signed-in clients.

``TEST_DATABASE=postgresql`` runs the suite on PostgreSQL: a fresh database is created from
the admin connection ``TEST_POSTGRES_URL`` and dropped at the end. Tests never share rows:
each makes its own organisations and users, so they do not depend on order.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import uvicorn
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from rooms.peers import use_host_addresses
from service import accounts, audit, cases, invitations
from service.app import Server as AppServer
from service.app import create_app
from service.db import unit_of_work
from service.migrate import upgrade
from service.models import (
    Case,
    CommitteeLevel,
    Organisation,
    OrgKind,
    Party,
    PartyKind,
    PartyRole,
    Role,
    User,
)
from service.personal import id_check_char
from service.settings import PdfSettings, RtcSettings, Settings

DEFAULT_PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "correct horse battery"


def backend() -> str:
    return os.environ.get("TEST_DATABASE", "sqlite")


async def create_pg_database(admin_url: str) -> str:
    name = f"mediation_test_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {admin_url} ({exc}). Start it, or point"
            " TEST_POSTGRES_URL at an admin connection."
        ) from exc
    finally:
        await engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


@dataclass
class Database:
    """A fresh, empty database for one purpose; ``url`` is an async SQLAlchemy URL."""

    url: str
    kind: str


class Databases:
    """Makes fresh databases on the backend under test, and drops them all at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.admin_url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG_ADMIN)
        self.made: list[str] = []

    async def new(self) -> Database:
        if backend() == "postgresql":
            url = await create_pg_database(self.admin_url)
            self.made.append(url)
            return Database(url, "postgresql")
        path = self.root / f"{uuid.uuid4().hex[:8]}.db"
        return Database(f"sqlite+aiosqlite:///{path}", "sqlite")

    async def drop_all(self) -> None:
        for url in self.made:
            await drop_pg_database(self.admin_url, url)


@pytest.fixture(scope="session")
async def databases(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Databases]:
    made = Databases(tmp_path_factory.mktemp("db"))
    yield made
    await made.drop_all()


@pytest.fixture(scope="session")
async def database(databases: Databases) -> Database:
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url)
    return db


# Media between the tests' peers (the server's, aiortc clients', Chromium's) only on loopback.
LOOPBACK_ONLY = ["127.0.0.1"]
use_host_addresses(LOOPBACK_ONLY)  # (the in-process peers made before any app starts, too)


def make_settings(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=db_url,
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        public_url="http://testserver",
        log_json=False,
        **{  # type: ignore[arg-type]
            "rtc": RtcSettings(host_addresses=LOOPBACK_ONLY),
            # Most test apps never make a PDF: their workers start on first use.
            "pdf": PdfSettings(prestart=False),
            **overrides,
        },
    )


@pytest.fixture(scope="session")
def settings(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(database.url, tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        yield c


_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}{uuid.uuid4().hex[:6]}"


def valid_id(birth: str = "19800101", region: str = "140403") -> str:
    """A resident ID number with a correct check digit and a random sequence number."""
    seq = f"{uuid.uuid4().int % 1000:03d}"
    first17 = region + birth + seq
    return first17 + id_check_char(first17)


@dataclass
class Made:
    committee: Organisation
    court: Organisation
    mediator: User
    other_mediator: User  # same committee
    judge: User
    clerk: User
    admin: User
    case: Case
    applicant: Party
    respondent: Party


class Factory:
    """Builds records through the real services, each call in its own committed transaction."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def uow(self) -> Any:
        return unit_of_work(self.app.state.sessionmaker)

    async def committee(self, **kw: Any) -> Organisation:
        async with self.uow() as s:
            return await accounts.create_organisation(
                s,
                actor=audit.SYSTEM,
                kind=OrgKind.committee,
                name=kw.pop("name", unique("调委会")),
                level=kw.pop("level", CommitteeLevel.township),
                **kw,
            )

    async def court(self, **kw: Any) -> Organisation:
        async with self.uow() as s:
            return await accounts.create_organisation(
                s,
                actor=audit.SYSTEM,
                kind=OrgKind.court,
                name=kw.pop("name", unique("法院")),
                region_code=kw.pop("region_code", "晋0403"),
                **kw,
            )

    async def user(self, role: Role, org: Organisation, **kw: Any) -> User:
        async with self.uow() as s:
            return await accounts.create_user(
                s,
                actor=audit.SYSTEM,
                username=kw.pop("username", unique(role.value)),
                password=kw.pop("password", PASSWORD),
                role=role,
                org_id=org.id or 0,
                **kw,
            )

    async def case(self, mediator: User, **kw: Any) -> tuple[Case, list[Party]]:
        parties = kw.pop(
            "parties",
            [
                cases.NewParty(
                    role=PartyRole.applicant,
                    kind=PartyKind.person,
                    name=unique("申请人"),
                    id_number=valid_id(),
                    phone="13800000001",
                ),
                cases.NewParty(
                    role=PartyRole.respondent,
                    kind=PartyKind.person,
                    name=unique("被申请人"),
                    id_number=valid_id("19750505"),
                ),
            ],
        )
        async with self.uow() as s:
            return await cases.create_case(
                s,
                mediator=mediator,
                dispute_type=kw.pop("dispute_type", "neighbour"),
                title=kw.pop("title", unique("邻里纠纷")),
                summary=kw.pop("summary", ""),
                parties=parties,
            )

    async def world(self) -> Made:
        """A committee with two mediators and a case, a court with a judge and a clerk."""
        committee = await self.committee()
        court = await self.court()
        mediator = await self.user(Role.mediator, committee)
        case, (applicant, respondent) = await self.case(mediator)
        return Made(
            committee=committee,
            court=court,
            mediator=mediator,
            other_mediator=await self.user(Role.mediator, committee),
            judge=await self.user(Role.judge, court),
            clerk=await self.user(Role.clerk, court),
            admin=await self.user(Role.admin, committee),
            case=case,
            applicant=applicant,
            respondent=respondent,
        )

    async def login(self, client: httpx.AsyncClient, user: User) -> dict[str, str]:
        """Sign in through the API; returns bearer headers (the cookie is set on the client)."""
        r = await client.post(
            "/api/auth/login", json={"username": user.username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    async def invite(self, mediator: User, case: Case, party: Party, **kw: Any) -> str:
        from datetime import timedelta

        async with self.uow() as s:
            _, token = await invitations.create_invitation(
                s,
                case=case,
                party=party,
                mediator=mediator,
                valid_for=kw.pop("valid_for", timedelta(days=7)),
            )
        return token

    async def party_headers(self, client: httpx.AsyncClient, token: str) -> dict[str, str]:
        r = await client.post("/api/auth/party", json={"token": token})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def factory(app: Any) -> Factory:
    return Factory(app)


@pytest.fixture
async def world(factory: Factory) -> Made:
    return await factory.world()


@pytest.fixture(scope="session")
def anyio_backend() -> Iterator[str]:
    yield "asyncio"


@dataclass
class Server:
    base_url: str
    ws_base: str


@dataclass
class Serving:
    """uvicorn running in this event loop (see ``serving``)."""

    server: Server
    instance: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self, within: float = 20) -> None:
        """Shut down the way uvicorn does on SIGTERM, waiting at most ``within`` seconds."""
        self.instance.should_exit = True
        await asyncio.wait_for(self.task, within)


@asynccontextmanager
async def serving(app: Any, *, lifespan: Literal["on", "off"] = "off") -> AsyncIterator[Serving]:
    """uvicorn serving ``app`` on a free port of 127.0.0.1, stopped when the block ends.

    With ``lifespan="on"`` uvicorn runs the app's lifespan too, so ``stop()`` is the
    production shutdown: connections closed first, then the lifespan's exit.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan=lifespan, log_level="warning"
    )
    instance = AppServer(config)  # as `mediation serve` runs it
    running = Serving(
        Server(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"),
        instance,
        asyncio.create_task(instance.serve()),
    )
    try:
        for _ in range(200):
            if instance.started or running.task.done():
                break
            await asyncio.sleep(0.05)
        assert instance.started, "uvicorn did not start"
        yield running
    finally:
        await running.stop()


@pytest.fixture(scope="session")
async def server(app: Any) -> AsyncIterator[Server]:
    # The app's lifespan already runs (the session's `app` fixture); uvicorn only serves it.
    async with serving(app) as running:
        yield running.server
