"""Court systems' bearer tokens: issued from the command line (``mediation court token``),
shown once, stored as a SHA-256, scoped to one court's queue API, revocable."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from confirmation.models import CourtToken
from service import audit
from service.clock import now
from service.db import SessionDep
from service.errors import MediationError, NotAuthenticated, NotFound
from service.i18n import N_
from service.models import Organisation, OrgKind
from service.security import new_token, token_hash
from service.settings import Settings

PREFIX = "mct_"  # recognisable in a court system's configuration (and by secret scanners)


async def issue(session: AsyncSession, *, court_id: int, name: str) -> tuple[CourtToken, str]:
    """A new token for the court; the plain token is returned only here."""
    court = await session.get(Organisation, court_id)
    if court is None or court.kind != OrgKind.court:
        raise NotFound("No such court.")
    plain = PREFIX + new_token()
    row = CourtToken(court_id=court_id, name=name.strip()[:100], token_hash=token_hash(plain))
    session.add(row)
    await session.flush()
    return row, plain


async def revoke(session: AsyncSession, *, token_id: int) -> CourtToken:
    row = await session.get(CourtToken, token_id)
    if row is None:
        raise NotFound("No such token.")
    if row.revoked_at is None:
        row.revoked_at = now()
        session.add(row)
        await session.flush()
    return row


async def court_of(session: AsyncSession, plain: str) -> CourtToken | None:
    row = (
        await session.exec(select(CourtToken).where(CourtToken.token_hash == token_hash(plain)))
    ).first()
    return row if row is not None and row.revoked_at is None else None


async def _court_token(request: Request, session: SessionDep) -> CourtToken:
    """The court system calling: a live court token in ``Authorization: Bearer``. A staff
    or party session token is not one (401 too: this API knows no other caller)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticated("A court token is required (Authorization: Bearer).")
    row = await court_of(session, value.strip())
    if row is None:
        raise NotAuthenticated("This court token is not valid or has been revoked.")
    return row


CourtSystem = Annotated[CourtToken, Depends(_court_token)]


def actor_of(token: CourtToken) -> audit.Actor:
    return audit.Actor("court_system", token.id, f"court system {token.name or token.id}")


# -- the command line (wired through the Domain's cli hook) --------------------------------


def _run(settings: Settings, work: Any) -> Any:
    from service.cli import _in_transaction  # the CLI's own unit of work

    return asyncio.run(_in_transaction(settings, work))


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    if args.revoke is not None:
        return cmd_revoke(argparse.Namespace(id=args.revoke), settings)
    if args.court is None:
        raise MediationError("Name the court: --court ID.")

    async def work(session: AsyncSession) -> tuple[int, str]:
        row, plain = await issue(session, court_id=args.court, name=args.name or "")
        await audit.record(
            session,
            actor=audit.CLI,
            action="court_token.issued",
            data={"token": row.id, "court": row.court_id},
        )
        return row.id or 0, plain

    token_id, plain = _run(settings, work)
    # The token itself only on stdout, once; the id to revoke it with on stderr.
    print(plain)
    print(
        f"court token {token_id} for court {args.court}: shown once, stored hashed;"
        f" revoke with `mediation court token-revoke {token_id}`",
        file=sys.stderr,
    )
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: AsyncSession) -> int:
        row = await revoke(session, token_id=args.id)
        await audit.record(
            session,
            actor=audit.CLI,
            action="court_token.revoked",
            data={"token": row.id, "court": row.court_id},
        )
        return row.id or 0

    print(f"court token {_run(settings, work)} revoked")
    return 0


def add_commands(sub: Any) -> None:
    """``mediation court token --court ID [--name N] | --revoke ID`` and ``token-revoke ID``."""
    court = sub.add_parser("court", help="courts' case systems").add_subparsers(
        dest="court_cmd", required=True
    )
    token = court.add_parser("token", help="a new bearer token for a court's queue API")
    token.add_argument("--court", type=int, help="the court's organisation id")
    token.add_argument("--name", help="which system it is for, e.g. 审判流程管理系统")
    token.add_argument("--revoke", type=int, metavar="ID", help="revoke token ID instead")
    token.set_defaults(func=cmd_token)
    revoke_cmd = court.add_parser("token-revoke", help="revoke a court token")
    revoke_cmd.add_argument("id", type=int)
    revoke_cmd.set_defaults(func=cmd_revoke)


ACTION_LABELS = {
    "court_token.issued": N_("Court system token issued"),
    "court_token.revoked": N_("Court system token revoked"),
}
