"""The ``mediation`` command (API.md): serve, demo, org add, user add, db upgrade, audit verify."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError
from pydantic_settings import SettingsError
from sqlmodel.ext.asyncio.session import AsyncSession

from service import accounts, audit, demo, logs
from service.db import make_engine, make_sessionmaker, unit_of_work
from service.errors import Invalid, MediationError, SchemaOutOfDate
from service.migrate import ensure_current, upgrade
from service.models import CommitteeLevel, Industry, OrgKind, Role
from service.schemas import Line, OrganisationIn
from service.settings import Settings, get_settings


async def _in_transaction(
    settings: Settings, work: Callable[[AsyncSession], Awaitable[Any]]
) -> Any:
    engine = make_engine(settings.db.url)
    try:
        await ensure_current(engine)
        async with unit_of_work(make_sessionmaker(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str, indent=2))


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from service.app import Server, create_app

    upgrade(settings.db.url)
    config = uvicorn.Config(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        # The app writes one line per request, with join links cut out (service/app.py);
        # uvicorn's access line would repeat it with the full URL, a join token in clear.
        access_log=False,
        ws_max_size=64 * 1024 + 1024,
    )
    # What the imports and the app made lives as long as the process: out of the collector's
    # way, a full collection no longer walks it (about 80 ms, on the loop that carries the
    # video, each time a join's allocations trigger one).
    gc.collect()
    gc.freeze()
    server = Server(config)

    def stop(_signal: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    # While it serves, uvicorn handles SIGINT and SIGTERM itself (a graceful shutdown, the
    # rooms closed first: service.app.Server); then it puts back the handlers it found and
    # raises the signal again. Python's own would make that a KeyboardInterrupt traceback
    # (SIGINT) or a death by SIGTERM. Ours take it quietly (and stop a server that is still
    # starting): a stop someone asked for, done cleanly, is a success, so the status is 0
    # for both. 130 would make `make run` end a Ctrl-C with "Error 130"; make still dies of
    # the SIGINT it got itself, so a script around it learns of the interrupt.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def cmd_db_upgrade(_: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.db.url)
    print("database is at the newest schema")
    return 0


def cmd_demo(_: argparse.Namespace, settings: Settings) -> int:
    async def work(session: AsyncSession) -> demo.DemoLinks | str | None:
        if await demo.is_empty(session):
            await demo.seed(session)
        else:
            found = await demo.fresh_links(session, settings.public_url)
            return found or "not-demo"
        return await demo.fresh_links(session, settings.public_url)

    result = asyncio.run(_in_transaction(settings, work))
    if not isinstance(result, demo.DemoLinks):
        print("The database already holds data that is not the demo; nothing was added.")
        return 0
    print(f"\nDemo case {result.case_number}")
    print("Staff sign-in at", settings.public_url + "/")
    for username, password, role in result.users:
        print(f"  {role:9s} {username} / {password}")
    print("Join links (new ones each run; valid 7 days):")
    for name, url in result.links:
        print(f"  {name}: {url}")
    print()
    return 0


def cmd_org_add(args: argparse.Namespace, settings: Settings) -> int:
    # The API's own checks (lengths, no control characters), so both ways in agree.
    try:
        body = OrganisationIn(
            kind=args.kind,
            name=args.name,
            short_name=args.short_name,
            level=args.level,
            industry=args.industry,
            parent_id=args.parent,
            region_code=args.region,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise MediationError(
            "The value of {option} is not valid: {problem}",
            option=_ORG_OPTIONS.get(str(first["loc"][0]), f"--{first['loc'][0]}"),
            problem=first["msg"],
        ) from None

    async def work(session: AsyncSession) -> dict[str, Any]:
        org = await accounts.create_organisation(session, actor=audit.CLI, **body.model_dump())
        return org.model_dump()

    _print_json(asyncio.run(_in_transaction(settings, work)))
    return 0


_SHORT_NAME: TypeAdapter[str] = TypeAdapter(Annotated[str, Line(min_length=1, max_length=60)])


def cmd_org_set(args: argparse.Namespace, settings: Settings) -> int:
    if args.short_name is None and args.court is None:
        raise MediationError("Give --short-name, --court or both.")
    short_name: str | None = None
    if args.short_name is not None:
        try:  # the API's own rule for the field: one line, no control characters
            short_name = _SHORT_NAME.validate_python(args.short_name)
        except ValidationError as exc:
            raise MediationError(
                "The value of {option} is not valid: {problem}",
                option="--short-name",
                problem=exc.errors()[0]["msg"],
            ) from None

    async def work(session: AsyncSession) -> dict[str, Any]:
        org = None
        if short_name is not None:
            org = await accounts.set_short_name(
                session, actor=audit.CLI, org_id=args.id, short_name=short_name
            )
        if args.court is not None:  # 0 clears it
            org = await accounts.set_court(
                session, actor=audit.CLI, org_id=args.id, court_id=args.court or None
            )
        return org.model_dump() if org is not None else {}

    _print_json(asyncio.run(_in_transaction(settings, work)))
    return 0


_ORG_OPTIONS = {"parent_id": "--parent", "region_code": "--region", "short_name": "--short-name"}


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    if not args.password_stdin:
        raise Invalid(
            "Give the password on standard input with --password-stdin.", field="password"
        )
    password = sys.stdin.readline().rstrip("\r\n")

    async def work(session: AsyncSession) -> dict[str, Any]:
        user = await accounts.create_user(
            session,
            actor=audit.CLI,
            username=args.username,
            password=password,
            role=Role(args.role),
            org_id=args.org,
            name=args.name,
        )
        return user.model_dump(exclude={"password_hash"})

    _print_json(asyncio.run(_in_transaction(settings, work)))
    return 0


def cmd_audit_verify(_: argparse.Namespace, settings: Settings) -> int:
    async def work(session: AsyncSession) -> tuple[int, audit.Break | None]:
        return await audit.verify(session)

    count, broken = asyncio.run(_in_transaction(settings, work))
    if broken is not None:
        print(
            f"audit chain BROKEN at event {broken.seq}: {broken.reason}"
            f" ({count} events before it hold)",
            file=sys.stderr,
        )
        return 1
    print(f"audit chain intact: {count} events")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mediation", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate the database, then serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("demo", help="seed an empty database with the demo").set_defaults(func=cmd_demo)

    org = sub.add_parser("org", help="organisations").add_subparsers(dest="org_cmd", required=True)
    org_add = org.add_parser("add", help="add a committee or court")
    org_add.add_argument("--name", required=True)
    org_add.add_argument("--kind", required=True, choices=[k.value for k in OrgKind])
    org_add.add_argument("--level", choices=[v.value for v in CommitteeLevel])
    org_add.add_argument("--industry", choices=[v.value for v in Industry])
    org_add.add_argument("--parent", type=int)
    org_add.add_argument("--region", help="a court's region code, e.g. 晋0403")
    org_add.add_argument(
        "--short-name",
        help="简称 used in case numbers, e.g. 潞东 (default: derived from the name, e.g."
        " 长治市潞州区东街街道人民调解委员会 gets 潞州东街)",
    )
    org_add.set_defaults(func=cmd_org_add)
    org_set = org.add_parser(
        "set", help="change an organisation's short name (简称) or a committee's court"
    )
    org_set.add_argument("id", type=int)
    org_set.add_argument("--short-name")
    org_set.add_argument(
        "--court", type=int, help="the committee's basic-level court (CPL 205); 0 clears it"
    )
    org_set.set_defaults(func=cmd_org_set)

    user = sub.add_parser("user", help="staff accounts").add_subparsers(
        dest="user_cmd", required=True
    )
    user_add = user.add_parser("add", help="add a staff account")
    user_add.add_argument("--username", required=True)
    user_add.add_argument("--password-stdin", action="store_true")
    user_add.add_argument("--role", required=True, choices=[r.value for r in Role])
    user_add.add_argument("--org", type=int, required=True)
    user_add.add_argument("--name")
    user_add.set_defaults(func=cmd_user_add)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_cmd", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    aud = sub.add_parser("audit", help="audit log").add_subparsers(dest="audit_cmd", required=True)
    aud.add_parser("verify", help="walk the hash chain").set_defaults(func=cmd_audit_verify)

    from service.app import default_domains  # the composition root knows the domains

    for domain in default_domains():
        if domain.commands is not None:
            domain.commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = get_settings()
    except (ValidationError, SettingsError) as exc:
        print("error: the settings (MEDIATION_* variables) are not valid:", file=sys.stderr)
        problems = (
            [
                f"{'.'.join(map(str, e['loc'])) or 'settings'}: "
                + e["msg"].removeprefix("Value error, ")
                for e in exc.errors()
            ]
            if isinstance(exc, ValidationError)
            else [str(exc)]
        )
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, json_lines=settings.log_json)
    try:
        code: int = args.func(args, settings)
    except SchemaOutOfDate as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except MediationError as exc:
        print(f"error: {exc.message.format(**exc.params)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C before serving began, or during another command: an interrupted command
        # (the shells' 128 + SIGINT), not a traceback. A transaction under way rolled back.
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
