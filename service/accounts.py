"""Organisations, staff accounts, sign-in and sessions."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import audit
from service.clock import now
from service.errors import Conflict, Invalid, NotFound, TooManyAttempts
from service.models import (
    AuthSession,
    CommitteeLevel,
    Industry,
    LoginAttempt,
    Organisation,
    OrgKind,
    Role,
    User,
)
from service.security import hash_password, needs_rehash, new_token, token_hash, verify_password
from service.settings import AuthSettings

# A default short name leaves out what the case number says anyway (调字 is a committee's,
# 民特 a court's) and a province or city above a county, which say where, not who.
_KIND_SUFFIXES = ("人民调解委员会", "调解委员会", "调委会", "人民法院", "法院")
# The places a name may start with, from the top down, each optional; what is left after
# them is the name's own part (an industry, a court's level).
_PLACES = re.compile(
    r"(?P<province>.+?(?:省|自治区|特别行政区))?"
    r"(?P<city>.+?(?:市|自治州|地区|盟))?"
    r"(?P<county>.+?(?:(?<![社小])区|县|旗|市))?"
    r"(?P<town>.+?(?:街道|镇|乡|苏木))?"
    r"(?P<village>.+?(?:社区|村|嘎查))?"
)
_UNIT_WORD = re.compile(
    r"(?:省|自治区|特别行政区|市|自治州|地区|盟|区|县|旗|街道|镇|乡|苏木|社区|村|嘎查)$"
)


def default_short_name(kind: OrgKind, name: str) -> str:
    """The 简称 an organisation gets when none is given: the lowest two places in its name
    without their unit words, then the rest of the name, less the kind of body it is.

    长治市潞州区东街街道人民调解委员会 → 潞州东街; 长治市潞州区人民调解委员会 → 潞州;
    晋城市高平市米山镇人民调解委员会 → 高平米山; 长治市潞州区物业纠纷人民调解委员会 →
    潞州物业纠纷; 长治市潞州区人民法院 → 潞州法院; 长治市中级人民法院 → 长治中级法院. A
    one-character stem keeps its unit word (沁县, 城区); a name with no place stays whole.
    The short name people actually use (潞东) cannot be derived: give it as ``short_name``.
    """
    core = name.strip()
    suffix = next((s for s in _KIND_SUFFIXES if core.endswith(s)), "")
    core = core[: len(core) - len(suffix)]
    found = _PLACES.match(core)  # every group is optional: it always matches
    levels: dict[str, str | None] = found.groupdict() if found else {}
    if levels.get("county"):
        levels["province"] = levels["city"] = None
    elif levels.get("city"):
        levels["province"] = None
    places = [p for p in levels.values() if p][-2:]
    stems = [_UNIT_WORD.sub("", p) for p in places]
    short = "".join(s if len(s) > 1 else p for s, p in zip(stems, places, strict=True))
    short += core[found.end() if found else 0 :]
    if not short:
        return name.strip()
    return short + "法院" if kind == OrgKind.court and suffix else short


async def create_organisation(
    session: AsyncSession,
    *,
    actor: audit.Actor,
    kind: OrgKind,
    name: str,
    short_name: str | None = None,
    level: CommitteeLevel | None = None,
    industry: Industry | None = None,
    parent_id: int | None = None,
    region_code: str | None = None,
) -> Organisation:
    if kind == OrgKind.committee:
        if level is None:
            raise Invalid("A committee needs a level.", field="level")
        if region_code:
            raise Invalid("Only courts have a region code.", field="region_code")
        if (level == CommitteeLevel.industry) != (industry is not None):
            raise Invalid(
                "An industry committee names its industry; other levels do not.",
                field="industry",
            )
    else:
        if not region_code:
            raise Invalid("A court needs a region code such as 晋0403.", field="region_code")
        if level is not None or industry is not None:
            raise Invalid("Courts have no committee level.", field="level")
    short_name = await _free_short_name(session, short_name or default_short_name(kind, name))
    if parent_id is not None:
        parent = await session.get(Organisation, parent_id)
        if parent is None:
            raise NotFound("No such parent organisation.")
        if parent.kind != kind:
            raise Invalid("A committee's parent is a committee, a court's a court.", field="parent")
    org = Organisation(
        kind=kind,
        name=name,
        short_name=short_name,
        level=level,
        industry=industry,
        parent_id=parent_id,
        region_code=region_code,
    )
    session.add(org)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="organisation.created",
        data={
            "organisation_id": org.id,
            "name": name,
            "short_name": short_name,
            "kind": kind,
        },
    )
    return org


async def _free_short_name(
    session: AsyncSession, short_name: str, *, keep: int | None = None
) -> str:
    short_name = short_name.strip()
    if not short_name or len(short_name) > 60:
        raise Invalid(
            "Give a short name (at most 60 characters) to use in case numbers.",
            field="short_name",
        )
    # Case numbers carry the short name, so two organisations may not share one.
    taken = select(Organisation.id).where(Organisation.short_name == short_name)
    if keep is not None:
        taken = taken.where(Organisation.id != keep)
    if (await session.exec(taken)).first():
        raise Conflict(
            "Another organisation already uses the short name '{short_name}'; give this one"
            " a short name of its own.",
            short_name=short_name,
        )
    return short_name


async def set_short_name(
    session: AsyncSession, *, actor: audit.Actor, org_id: int, short_name: str
) -> Organisation:
    """A new 简称 for the case numbers given from now on; numbers already given stay as they
    are (they are legal references). An install upgraded from full-name numbering uses this
    to move to short numbers."""
    org = await session.get(Organisation, org_id)
    if org is None:
        raise NotFound("No such organisation.")
    before = org.short_name
    org.short_name = await _free_short_name(session, short_name, keep=org_id)
    session.add(org)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="organisation.short_name_changed",
        data={"organisation_id": org.id, "from": before, "to": org.short_name},
    )
    return org


async def set_court(
    session: AsyncSession, *, actor: audit.Actor, org_id: int, court_id: int | None
) -> Organisation:
    """A committee's basic-level court, the court "where the committee is" (CPL 205): one
    of the courts competent to confirm its agreements. ``None`` clears it."""
    org = await session.get(Organisation, org_id)
    if org is None:
        raise NotFound("No such organisation.")
    if org.kind != OrgKind.committee:
        raise Invalid("Only a committee has a court of its own.", field="court_id")
    if court_id is not None:
        court = await session.get(Organisation, court_id)
        if court is None or court.kind != OrgKind.court:
            raise Invalid("{court_id} is not a court.", field="court_id", court_id=court_id)
    before = org.court_id
    org.court_id = court_id
    session.add(org)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="organisation.court_changed",
        data={"organisation_id": org.id, "from": before, "to": court_id},
    )
    return org


_ROLE_ORG_KIND = {
    Role.mediator: OrgKind.committee,
    Role.judge: OrgKind.court,
    Role.clerk: OrgKind.court,
}


async def create_user(
    session: AsyncSession,
    *,
    actor: audit.Actor,
    username: str,
    password: str,
    role: Role,
    org_id: int,
    name: str | None = None,
) -> User:
    org = await session.get(Organisation, org_id)
    if org is None:
        raise NotFound("No such organisation.")
    wanted = _ROLE_ORG_KIND.get(role)
    if wanted is not None and org.kind != wanted:
        raise Invalid(
            "A {role} belongs to a {kind}.", field="org_id", role=role.value, kind=wanted.value
        )
    if len(password) < 10:
        raise Invalid("Passwords have at least 10 characters.", field="password")
    taken = (await session.exec(select(User.id).where(User.username == username))).first()
    if taken is not None:
        raise Conflict("That username is taken.")
    user = User(
        username=username,
        password_hash=await asyncio.to_thread(hash_password, password),
        role=role,
        org_id=org_id,
        name=name or username,
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="user.created",
        data={"user_id": user.id, "username": username, "role": role, "org_id": org_id},
    )
    return user


@dataclass(frozen=True)
class SignIn:
    user: User
    token: str


async def _recent_failures(session: AsyncSession, *, column: str, value: str, since: object) -> int:
    field = col(getattr(LoginAttempt, column))
    count = await session.exec(
        select(func.count())
        .select_from(LoginAttempt)
        .where(field == value, col(LoginAttempt.at) >= since, col(LoginAttempt.success).is_(False))
    )
    return int(count.one())


async def sign_in(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    address: str,
    limits: AuthSettings,
) -> SignIn | None:
    """Check a password; return a new session, or None (the failure is recorded, not raised).

    Returning rather than raising lets the caller commit the failed attempt, which is what
    the limit counts.
    """
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # Count and record under one lock per username, so a burst of guesses sent at once
        # cannot all be counted before any is recorded (SQLite's write lock does this).
        lock = text("SELECT pg_advisory_xact_lock(hashtext(:k))").bindparams(k=f"login:{username}")
        await session.exec(lock)  # type: ignore[call-overload]
    since = now() - timedelta(minutes=limits.failure_window_minutes)
    if (
        await _recent_failures(session, column="username", value=username, since=since)
        >= limits.max_failures_per_user
        or await _recent_failures(session, column="address", value=address, since=since)
        >= limits.max_failures_per_address
    ):
        raise TooManyAttempts(
            "Too many failed sign-ins. Wait {minutes} minutes and try again.",
            retry_after=limits.failure_window_minutes * 60,
            minutes=limits.failure_window_minutes,
        )
    user = (await session.exec(select(User).where(User.username == username))).first()
    # Argon2 is deliberately slow; off the event loop, which also carries the video.
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(username=username, address=address, success=ok))
    if not ok or user is None:
        await audit.record(
            session,
            actor=audit.Actor("anonymous", None, address),
            action="auth.login_failed",
            data={"username": username, "address": address},
        )
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(hash_password, password)
    token = new_token()
    session.add(
        AuthSession(
            token_hash=token_hash(token),
            user_id=user.id,
            expires_at=now() + timedelta(hours=limits.staff_session_hours),
        )
    )
    await audit.record(
        session,
        actor=audit.Actor("user", user.id, user.username),
        action="auth.login",
        data={"address": address},
    )
    return SignIn(user=user, token=token)


async def sign_out(session: AsyncSession, *, auth_session: AuthSession, actor: audit.Actor) -> None:
    auth_session.revoked_at = now()
    session.add(auth_session)
    await audit.record(session, actor=actor, action="auth.logout")


async def list_organisations(session: AsyncSession) -> list[Organisation]:
    return list((await session.exec(select(Organisation).order_by(col(Organisation.id)))).all())


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.exec(select(User).order_by(col(User.id)))).all())
