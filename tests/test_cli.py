"""The ``mediation`` command, run as a real subprocess against a fresh database."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from service.app import create_app
from service.db import make_engine, make_sessionmaker, unit_of_work
from service.migrate import current_revision, head_revision, upgrade
from service.models import Invitation, Organisation, User
from service.security import verify_password
from service.settings import Settings
from tests.cli_runner import MEDIATION, TIMEOUT, cli_env, run_cli
from tests.conftest import PASSWORD, Databases, make_settings, unique

JOIN_LINK = re.compile(r"https?://[^\s/]+(?::\d+)?/join/[A-Za-z0-9_\-]+")


@dataclass
class Target:
    url: str
    kind: str
    data_dir: Path

    async def run(self, *args: str, stdin: str | None = None) -> Any:
        return await run_cli(self.url, self.data_dir, *args, stdin=stdin)

    async def count(self, model: type) -> int:
        engine = make_engine(self.url)
        try:
            async with unit_of_work(make_sessionmaker(engine)) as s:
                return int((await s.exec(select(func.count()).select_from(model))).one())
        finally:
            await engine.dispose()

    async def user(self, username: str) -> User | None:
        engine = make_engine(self.url)
        try:
            async with unit_of_work(make_sessionmaker(engine)) as s:
                return (await s.exec(select(User).where(User.username == username))).first()
        finally:
            await engine.dispose()


@pytest.fixture
async def target(databases: Databases, tmp_path: Path) -> Target:
    """A fresh, migrated, empty database and a data folder of its own."""
    db = await databases.new()
    await asyncio.to_thread(upgrade, db.url)
    return Target(db.url, db.kind, tmp_path / "data")


def parse_json(stdout: str) -> dict[str, Any]:
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError:
        pytest.fail(f"the command did not print JSON: {stdout!r}")
    assert isinstance(data, dict)
    return data


async def add_org(target: Target, *args: str) -> dict[str, Any]:
    result = await target.run("org", "add", *args)
    assert result.returncode == 0, result.stderr
    return parse_json(result.stdout)


async def add_committee(target: Target) -> dict[str, Any]:
    return await add_org(
        target, "--name", unique("调委会"), "--kind", "committee", "--level", "township"
    )


async def test_org_add_committee_prints_json(target: Target) -> None:
    name = unique("英雄中路调委会")
    org = await add_org(target, "--name", name, "--kind", "committee", "--level", "township")
    assert isinstance(org["id"], int)
    assert org["name"] == name
    assert org["kind"] == "committee"
    assert org["level"] == "township"
    assert org["region_code"] is None
    assert org["short_name"] == name  # no place in it: the name is its own short name
    assert await target.count(Organisation) == 1


async def test_org_add_court_with_region(target: Target) -> None:
    org = await add_org(target, "--name", "潞州区人民法院", "--kind", "court", "--region", "晋0403")
    assert isinstance(org["id"], int)
    assert org["kind"] == "court"
    assert org["region_code"] == "晋0403"
    assert org["level"] is None


async def test_org_add_takes_a_short_name_for_case_numbers(target: Target) -> None:
    name = "长治市潞州区东街街道人民调解委员会"
    org = await add_org(
        target, "--name", name, "--kind", "committee", "--level", "township", "--short-name", "潞东"
    )
    assert (org["name"], org["short_name"]) == (name, "潞东")


async def test_org_add_derives_a_short_name_from_a_full_name(target: Target) -> None:
    """Without --short-name, a township committee's numbers do not carry its full name."""
    name = "长治市潞州区东街街道人民调解委员会"
    org = await add_org(target, "--name", name, "--kind", "committee", "--level", "township")
    assert org["short_name"] == "潞州东街"
    court = await add_org(
        target, "--name", "长治市潞州区人民法院", "--kind", "court", "--region", "晋0403"
    )
    assert court["short_name"] == "潞州法院"


async def test_org_set_gives_an_upgraded_committee_a_short_name(target: Target) -> None:
    """An install upgraded from full-name numbering moves to short numbers with org set."""
    name = "长治市潞州区东街街道人民调解委员会"
    org = await add_org(target, "--name", name, "--kind", "committee", "--level", "township")
    result = await target.run("org", "set", str(org["id"]), "--short-name", "潞东")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["short_name"] == "潞东"
    other = await add_org(target, "--name", "英雄中路社区调委会", "--kind", "committee",
                          "--level", "village")  # fmt: skip
    taken = await target.run("org", "set", str(other["id"]), "--short-name", "潞东")
    assert taken.returncode != 0 and "潞东" in taken.stderr and "Traceback" not in taken.stderr
    bad = await target.run("org", "set", str(other["id"]), "--short-name", "潞\x01东")
    assert bad.returncode == 2 and "--short-name" in bad.stderr
    missing = await target.run("org", "set", "999999", "--short-name", "新名")
    assert missing.returncode != 0 and "Traceback" not in missing.stderr


async def test_org_add_refuses_control_characters_as_the_api_does(target: Target) -> None:
    result = await target.run(
        "org", "add", "--name", "东街\t调委会", "--kind", "committee", "--level", "township"
    )
    assert result.returncode == 2
    assert "error: The value of --name is not valid" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    result = await target.run(
        "org", "add", "--name", "东街", "--kind", "committee", "--level", "township",
        "--short-name", "潞\x01东",
    )  # fmt: skip
    assert result.returncode == 2
    assert "error: The value of --short-name is not valid" in result.stderr, result.stderr
    assert await target.count(Organisation) == 0


async def test_org_add_child_committee(target: Target) -> None:
    parent = await add_org(
        target, "--name", unique("区"), "--kind", "committee", "--level", "district"
    )
    child = await add_org(
        target,
        "--name", unique("村"),
        "--kind", "committee",
        "--level", "village",
        "--parent", str(parent["id"]),
    )  # fmt: skip
    assert child["parent_id"] == parent["id"]


async def test_court_without_region_is_refused(target: Target) -> None:
    result = await target.run("org", "add", "--name", "某法院", "--kind", "court")
    assert result.returncode != 0
    assert "region" in result.stderr.lower()
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: A court needs a region code such as 晋0403."], result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == ""
    assert await target.count(Organisation) == 0


async def test_committee_without_level_is_refused(target: Target) -> None:
    result = await target.run("org", "add", "--name", "某调委会", "--kind", "committee")
    assert result.returncode != 0
    assert "level" in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert await target.count(Organisation) == 0


async def test_unknown_kind_is_refused_by_the_parser(target: Target) -> None:
    result = await target.run("org", "add", "--name", "x", "--kind", "school")
    assert result.returncode != 0
    assert "invalid choice" in result.stderr


async def test_user_add_reads_password_from_stdin(target: Target) -> None:
    org = await add_committee(target)
    username = unique("med")
    result = await target.run(
        "user", "add",
        "--username", username,
        "--password-stdin",
        "--role", "mediator",
        "--org", str(org["id"]),
        "--name", "张调解",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    user = parse_json(result.stdout)
    assert isinstance(user["id"], int)
    assert user["username"] == username
    assert user["role"] == "mediator"
    assert user["org_id"] == org["id"]
    assert user["name"] == "张调解"
    assert "password_hash" not in user
    assert "argon2" not in result.stdout
    assert PASSWORD not in result.stdout + result.stderr

    stored = await target.user(username)
    assert stored is not None
    assert verify_password(stored.password_hash, PASSWORD)


async def test_user_add_without_password_stdin_is_refused(target: Target) -> None:
    org = await add_committee(target)
    username = unique("med")
    result = await target.run(
        "user", "add", "--username", username, "--role", "mediator", "--org", str(org["id"]),
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.returncode != 0
    assert "password-stdin" in result.stderr
    assert await target.user(username) is None


async def test_mediator_on_a_court_is_refused(target: Target) -> None:
    court = await add_org(target, "--name", unique("法院"), "--kind", "court", "--region", "晋0403")
    username = unique("med")
    result = await target.run(
        "user", "add",
        "--username", username,
        "--password-stdin",
        "--role", "mediator",
        "--org", str(court["id"]),
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.returncode != 0
    assert "mediator belongs to a committee" in result.stderr
    assert "Traceback" not in result.stderr
    assert await target.user(username) is None


async def test_short_password_is_refused(target: Target) -> None:
    org = await add_committee(target)
    username = unique("med")
    result = await target.run(
        "user", "add", "--username", username, "--password-stdin", "--role", "mediator",
        "--org", str(org["id"]), stdin="short\n",
    )  # fmt: skip
    assert result.returncode != 0
    assert "10 characters" in result.stderr
    assert await target.user(username) is None


async def test_duplicate_username_is_refused(target: Target) -> None:
    org = await add_committee(target)
    args = ("user", "add", "--username", "dup", "--password-stdin", "--role", "admin",
            "--org", str(org["id"]))  # fmt: skip
    first = await target.run(*args, stdin=PASSWORD + "\n")
    assert first.returncode == 0, first.stderr
    second = await target.run(*args, stdin=PASSWORD + "\n")
    assert second.returncode != 0
    assert "taken" in second.stderr
    assert await target.count(User) == 1


async def test_demo_seeds_once_and_prints_fresh_links(target: Target) -> None:
    first = await target.run("demo")
    assert first.returncode == 0, first.stderr
    for username in ("admin", "mediator", "judge", "clerk"):
        assert re.search(rf"\b{username}\b\s*/\s*\S+", first.stdout), first.stdout
    links = JOIN_LINK.findall(first.stdout)
    assert len(links) == 2, first.stdout
    assert re.search(rf"Demo case （{date.today().year}）潞东调字第1号", first.stdout), first.stdout
    organisations = await target.count(Organisation)
    users = await target.count(User)
    assert organisations == 4
    assert users == 4
    assert await target.count(Invitation) == 2

    second = await target.run("demo")
    assert second.returncode == 0, second.stderr
    again = JOIN_LINK.findall(second.stdout)
    assert len(again) == 2, second.stdout
    assert set(again).isdisjoint(links)
    assert await target.count(Organisation) == organisations
    assert await target.count(User) == users
    assert await target.count(Invitation) == 4


async def test_demo_leaves_other_data_alone(target: Target) -> None:
    await add_committee(target)
    result = await target.run("demo")
    assert result.returncode == 0, result.stderr
    assert "nothing was added" in result.stdout
    assert not JOIN_LINK.search(result.stdout)
    assert await target.count(Organisation) == 1


async def test_demo_join_link_opens_the_case(target: Target) -> None:
    """A printed link really works: the app accepts its token for a party session."""
    first = await target.run("demo")
    assert first.returncode == 0, first.stderr
    token = JOIN_LINK.findall(first.stdout)[0].rsplit("/", 1)[1]
    app = create_app(make_settings(target.url, target.data_dir))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        r = await c.post("/api/auth/party", json={"token": token})
        assert r.status_code == 200, r.text


async def test_db_upgrade_is_idempotent(databases: Databases, tmp_path: Path) -> None:
    db = await databases.new()
    target = Target(db.url, db.kind, tmp_path)
    for _ in range(2):
        result = await target.run("db", "upgrade")
        assert result.returncode == 0, result.stderr
        assert "newest schema" in result.stdout

    engine = make_engine(db.url)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
    # And the upgraded database is usable by the other commands.
    verify = await target.run("audit", "verify")
    assert verify.returncode == 0, verify.stderr
    assert "0 events" in verify.stdout


async def test_commands_refuse_an_unmigrated_database(databases: Databases, tmp_path: Path) -> None:
    db = await databases.new()
    target = Target(db.url, db.kind, tmp_path)
    result = await target.run(
        "org", "add", "--name", "x", "--kind", "committee", "--level", "township"
    )
    assert result.returncode != 0
    assert "mediation db upgrade" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("MEDIATION_HOST_ADDRESSES", "127.0.0.1,nope", "'nope' is not an IP address"),
        ("MEDIATION_ICE_SERVERS", "[x", "MEDIATION_ICE_SERVERS is not valid JSON"),
        ("MEDIATION_RTC__VIDEO_CODEC", "AV1", "rtc.video_codec: Input should be 'VP8' or 'H264'"),
    ],
)
async def test_bad_settings_are_refused_in_words(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    env = {**cli_env(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", tmp_path), name: value}
    result = await asyncio.to_thread(
        subprocess.run,
        [str(MEDIATION), "db", "upgrade"],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 2
    assert "the settings (MEDIATION_* variables) are not valid" in result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "m.db").exists()  # nothing was done


def test_host_addresses_are_read_as_a_list() -> None:
    settings = Settings(host_addresses="127.0.0.1, ::1", data_dir=Path("unused"))
    assert settings.rtc.host_addresses == ["127.0.0.1", "::1"]
    assert Settings(data_dir=Path("unused")).rtc.host_addresses == []


async def test_org_set_gives_a_committee_its_court(target: Target) -> None:
    """The court "where the committee is", competent to confirm its agreements."""
    committee = await add_org(
        target, "--name", "东街街道人民调解委员会", "--kind", "committee", "--level", "township"
    )
    court = await add_org(
        target, "--name", "潞州区人民法院", "--kind", "court", "--region", "晋0403"
    )
    result = await target.run("org", "set", str(committee["id"]), "--court", str(court["id"]))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["court_id"] == court["id"]
    wrong = await target.run("org", "set", str(court["id"]), "--court", str(court["id"]))
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
    neither = await target.run("org", "set", str(committee["id"]))
    assert neither.returncode != 0 and "--court" in neither.stderr
