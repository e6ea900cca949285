"""How a domain (rooms, agreements, confirmation) plugs into the app: one record each.

``service/app.py`` takes a list of these and is the only place that knows which domains
exist. Adding a domain means writing its ``Domain`` and adding it to that list; nothing else
in ``service/`` changes. The hooks here are the only ways service/ calls into a domain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Case, Party, User

if TYPE_CHECKING:
    from fastapi import FastAPI


class Audience(StrEnum):
    """Who is looking at a case page: each section decides what that person may see."""

    staff = "staff"  # the mediators of the case's committee
    party = "party"  # one party of the case, through their join link
    judge = "judge"  # a judge or clerk of a court the case was brought to


@dataclass(frozen=True)
class CaseViewer:
    audience: Audience
    party: Party | None = None  # set when audience is party


# A domain's part of a case page; None when it has nothing to show this viewer.
CaseSection = Callable[[Request, AsyncSession, Case, CaseViewer], Awaitable[Markup | None]]
# Where a party's join link leads when the domain has something live right now (an open
# meeting, an agreement waiting for a signature); None to let the next domain decide.
PartyLanding = Callable[[AsyncSession, Party], Awaitable[str | None]]
# Start-up runs inside the app's lifespan once the database is ready (app.state.engine,
# sessionmaker, store and settings are set); shutdown runs before uvicorn closes the sockets
# and again at the end of the lifespan, so it must be idempotent.
Hook = Callable[["FastAPI"], Awaitable[None]]
# What a domain knows of how a party was identified before signing (the consent ledger's
# identity check and consents): plain values, recorded with the party's signature.
SigningEvidence = Callable[[AsyncSession, Case, Party], Awaitable[dict[str, Any]]]
# Whether a staff member who is not the case's mediator may read its record (audit events,
# rooms, recordings): a judge of a court that accepted the case's application, say. Asked by
# service/auth.py; any one saying yes lets them read, none lets them write.
CaseReader = Callable[[AsyncSession, User, Case], Awaitable[bool]]
# Raises a domain error (409) when what the case records about its competent courts may no
# longer change: an application to a court is under way on them, say. Asked by PATCH
# /api/cases/{id} under the case's row lock.
VenueGuard = Callable[[AsyncSession, Case], Awaitable[None]]


@dataclass(frozen=True)
class Domain:
    """Everything the composition root needs to know of one domain."""

    name: str  # also the prefix of its templates: "rooms/room.html"
    router: APIRouter | None = None
    templates: Path | None = None  # its templates folder, loaded under ``name/``
    models: tuple[str, ...] = ()  # modules whose tables migrations/env.py must see
    action_labels: Mapping[str, str] = field(default_factory=dict)  # audit action -> msgid
    script_strings: tuple[str, ...] = ()  # msgids its pages' scripts show
    case_sections: tuple[CaseSection, ...] = ()
    party_landing: PartyLanding | None = None
    startup: Hook | None = None
    shutdown: Hook | None = None
    # ES modules another domain's page loads, by that page's slot name: the agreements'
    # panel in the room page ("room") without rooms/ knowing of agreements.
    page_modules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    signing_evidence: SigningEvidence | None = None
    # Adds the domain's subcommands to ``mediation``'s argparse subparsers (``court token``);
    # each sets ``func(args, settings) -> int`` like service/cli.py's own.
    commands: Callable[[Any], None] | None = None
    case_readers: tuple[CaseReader, ...] = ()
    venue_guards: tuple[VenueGuard, ...] = ()


def check_domains(domains: list[Domain], *, service_actions: Iterable[str] = ()) -> None:
    """Refuse a list in which two domains would shadow each other's templates or labels, or
    a domain would relabel one of service/'s own audit actions."""
    seen: set[str] = set()
    labels: dict[str, str] = dict.fromkeys(service_actions, "service")
    for domain in domains:
        if domain.name in seen or not domain.name.isidentifier():
            raise ValueError(f"domain name {domain.name!r} is taken or not an identifier")
        seen.add(domain.name)
        for action in domain.action_labels:
            if action in labels:
                raise ValueError(f"audit action {action!r} is labelled by two domains")
            labels[action] = domain.name
