"""Join links: a mediator makes one per party (the token is shown once; only its hash is
kept) or withdraws it, ending the sessions opened through it; a party opens a session by one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import audit
from service.cases import party_actor, refuse_if_ended, staff_actor
from service.clock import now
from service.errors import NotFound
from service.i18n import N_
from service.models import AuthSession, Case, Invitation, Party, User
from service.security import new_token, token_hash

# What invitation_state() answers.
INVITATION_STATE_LABELS = {
    "active": N_("Active"),
    "expired": N_("Expired"),
    "revoked": N_("Revoked"),
}


async def create_invitation(
    session: AsyncSession,
    *,
    case: Case,
    party: Party,
    mediator: User,
    valid_for: timedelta,
) -> tuple[Invitation, str]:
    """A fresh link for one party. The token is returned once and only its hash is kept."""
    refuse_if_ended(case, N_("A case in state '{state}' ({state_label}) takes no new join links."))
    token = new_token()
    invitation = Invitation(
        case_id=case.id or 0,
        party_id=party.id or 0,
        token_hash=token_hash(token),
        created_by=mediator.id or 0,
        expires_at=now() + valid_for,
    )
    session.add(invitation)
    await session.flush()
    await audit.record(
        session,
        actor=staff_actor(mediator),
        action="invitation.created",
        case_id=case.id,
        data={
            "invitation_id": invitation.id,
            "party_id": party.id,
            "expires_at": invitation.expires_at.isoformat(),
        },
    )
    return invitation, token


async def list_invitations(session: AsyncSession, *, case: Case) -> list[Invitation]:
    rows = await session.exec(
        select(Invitation).where(Invitation.case_id == case.id).order_by(col(Invitation.id))
    )
    return list(rows.all())


async def revoke_invitation(
    session: AsyncSession, *, case: Case, invitation_id: int, mediator: User
) -> Invitation:
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or invitation.case_id != case.id:
        raise NotFound("No such join link.")
    if invitation.revoked_at is None:
        invitation.revoked_at = now()
        session.add(invitation)
        # Sessions opened through the link end with it.
        await session.exec(
            update(AuthSession)
            .where(
                col(AuthSession.invitation_id) == invitation.id,
                col(AuthSession.revoked_at).is_(None),
            )
            .values(revoked_at=invitation.revoked_at)
        )
        await audit.record(
            session,
            actor=staff_actor(mediator),
            action="invitation.revoked",
            case_id=case.id,
            data={"invitation_id": invitation.id, "party_id": invitation.party_id},
        )
    return invitation


def invitation_state(invitation: Invitation, at: datetime | None = None) -> str:
    at = at or now()
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= at:
        return "expired"
    return "active"


@dataclass(frozen=True)
class Redeemed:
    party: Party
    case: Case
    invitation: Invitation
    session_token: str


async def redeem_invitation(session: AsyncSession, *, token: str, address: str) -> Redeemed | str:
    """Open a party session from a join link, or say why not: 'unknown', 'expired', 'revoked'.

    Refusals are returned, not raised, so the caller commits the audit event for the attempt.
    """
    invitation = (
        await session.exec(select(Invitation).where(Invitation.token_hash == token_hash(token)))
    ).first()
    if invitation is None:
        return "unknown"
    state = invitation_state(invitation)
    # Foreign keys guarantee both; were one broken, fail loudly (NoResultFound).
    party = await session.get_one(Party, invitation.party_id)
    case = await session.get_one(Case, invitation.case_id)
    if state != "active":
        await audit.record(
            session,
            actor=audit.Actor("anonymous", None, address),
            action="invitation.refused",
            case_id=case.id,
            data={"invitation_id": invitation.id, "party_id": party.id, "why": state},
        )
        return state
    at = now()
    invitation.last_used_at = at
    invitation.use_count += 1
    session.add(invitation)
    session_token = new_token()
    session.add(
        AuthSession(
            token_hash=token_hash(session_token),
            party_id=party.id,
            invitation_id=invitation.id,
            expires_at=invitation.expires_at,
        )
    )
    await audit.record(
        session,
        actor=party_actor(party),
        action="invitation.used",
        case_id=case.id,
        data={"invitation_id": invitation.id, "address": address},
    )
    return Redeemed(party=party, case=case, invitation=invitation, session_token=session_token)
