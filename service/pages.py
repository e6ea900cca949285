"""Server-rendered pages (Jinja2, autoescaped) for staff and parties.

Pages only read; every change goes through the JSON API from the page's ES module, with the
CSRF token from the page's meta tag.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from service import cases, venue
from service.auth import (
    CurrentMediator,
    CurrentParty,
    CurrentStaff,
    MediatorCase,
    OptionalPrincipal,
    PartyPrincipal,
    StaffPrincipal,
    viewer_of,
)
from service.clock import now
from service.db import SessionDep
from service.domain import Audience, CaseViewer, Domain
from service.errors import MediationError
from service.history import case_history
from service.i18n import HTML_LANG, LANGUAGES, gettext, translations
from service.invitations import (
    INVITATION_STATE_LABELS,
    invitation_state,
    list_invitations,
    redeem_invitation,
)
from service.models import Case, DisputeType, Party, PartyKind, PartyRole, Role
from service.personal import mask_id_number
from service.queries import CaseQuery
from service.router import REFUSALS, client_address, set_session_cookie
from service.schemas import PartyOut

router = APIRouter(include_in_schema=False)

_SERVICE_TEMPLATES = Path(__file__).resolve().parent / "templates"
_ROOT = Path(__file__).resolve().parent.parent


def make_environment(domains: Sequence[Domain]) -> Environment:
    """The app's templates: service/'s own by bare name ("base.html"), each domain's under its
    name ("rooms/room.html"), so no domain's template can silently hide another's, or
    service/'s. Domain pages extend "base.html"."""
    prefixed = {d.name: FileSystemLoader(str(d.templates)) for d in domains if d.templates}
    env = Environment(
        loader=ChoiceLoader([PrefixLoader(prefixed), FileSystemLoader(str(_SERVICE_TEMPLATES))]),
        autoescape=select_autoescape(default=True),
        enable_async=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["mask"] = mask_id_number
    env.globals["module_preloads"] = module_preloads
    return env


_STATIC_JS = _ROOT / "static" / "js"
_IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*)["'](\.{1,2}/[^"']+)["']""")


@functools.cache
def module_graph(entry: str) -> tuple[str, ...]:
    """URLs of an ES module under static/js and of everything it imports statically.

    Announced as <link rel="modulepreload"> in the head, so the browser fetches the whole
    graph at once instead of discovering the imports one round trip at a time: on a phone
    on a mobile network each round trip is a visible wait.
    """
    seen: dict[Path, None] = {}
    todo = [(_STATIC_JS / entry).resolve()]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_relative_to(_STATIC_JS) or not path.is_file():
            continue
        seen[path] = None
        for spec in _IMPORT.findall(path.read_text(encoding="utf-8")):
            todo.append((path.parent / spec).resolve())
    return tuple(f"/static/js/{p.relative_to(_STATIC_JS).as_posix()}" for p in seen)


def module_preloads(entry: str) -> Markup:
    links = (f'<link rel="modulepreload" href="{url}">' for url in module_graph(entry))
    return Markup("\n".join(links))  # noqa: S704 (paths of our own files, no user input)


# Strings the browser scripts show; rendered into each page in the caller's language.
SCRIPT_STRINGS = [
    "Something went wrong. Please try again.",
    "Copied",
    "Withdraw the link? The party will be signed out.",
    "Remove",
    "Active",
    "Expired",
    "Revoked",
    "Revoke",
    "Party {n}",
    "Say why the mediation ended.",
    "Signing in…",
    "No network connection. Check your connection and try again.",
]


def local_time(value: datetime) -> str:
    """Times are shown in Beijing time, which is what every user of the service lives in."""
    return value.astimezone(cases.CHINA).strftime("%Y-%m-%d %H:%M")


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    script_strings: list[str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page; ``script_strings`` are the msgids its ES modules show, in addition to
    the common ones, delivered translated in the page."""
    language: str = request.state.language
    tr = translations(language)

    def _(message: str, **params: Any) -> str:
        text = tr.gettext(message)
        return text.format(**params) if params else text

    # A domain's page also carries the strings that domain's scripts show.
    owner = template.partition("/")[0] if "/" in template else None
    domain_strings = request.app.state.script_strings.get(owner, ())
    wanted = [*SCRIPT_STRINGS, *domain_strings, *(script_strings or [])]
    strings = {s: tr.gettext(s) for s in wanted}
    viewer = viewer_of(request)
    page = templates_of(request).get_template(template)
    html = page.render(
        request=request,
        viewer=viewer,
        csrf=viewer.csrf if viewer else "",
        local_time=local_time,
        language=language,
        html_lang=HTML_LANG[language],
        languages=LANGUAGES,
        script_strings=json.dumps(strings, ensure_ascii=False).replace("</", "<\\/"),
        status_labels=cases.STATUS_LABELS,
        dispute_labels=cases.DISPUTE_LABELS,
        role_labels=cases.PARTY_ROLE_LABELS,
        party_kind_labels=cases.PARTY_KIND_LABELS,
        staff_role_labels=cases.STAFF_ROLE_LABELS,
        invitation_labels=INVITATION_STATE_LABELS,
        _=_,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def fragment(request: Request, template: str, **context: Any) -> Markup:
    """Render part of a page (a domain's section of the case page) in the caller's language."""
    tr = translations(request.state.language)

    def _(message: str, **params: Any) -> str:
        text = tr.gettext(message)
        return text.format(**params) if params else text

    part = templates_of(request).get_template(template)
    html = part.render(
        request=request, viewer=viewer_of(request), local_time=local_time, _=_, **context
    )
    return Markup(html)  # noqa: S704 (rendered by our autoescaping environment)


def templates_of(request: Request) -> Environment:
    env: Environment = request.app.state.templates
    return env


def _domains(request: Request) -> list[Domain]:
    domains: list[Domain] = request.app.state.domains
    return domains


def slot_strings(request: Request, slot: str) -> list[str]:
    """The strings shown by the modules other domains put in a page's slot
    (``Domain.page_modules``), for that page to carry translated."""
    return [s for d in _domains(request) if d.page_modules.get(slot) for s in d.script_strings]


async def case_sections(
    request: Request, session: AsyncSession, case: Case, viewer: CaseViewer
) -> list[Markup]:
    """Each domain's part of a case page, in the order the domains were registered."""
    sections = []
    for domain in _domains(request):
        for section in domain.case_sections:
            if (html := await section(request, session, case, viewer)) is not None:
                sections.append(html)
    return sections


async def party_landing(request: Request, session: AsyncSession, party: Party) -> str:
    """Where a party's join link leads: the first domain with something live right now (an
    open meeting) takes the person straight there; otherwise their case page."""
    for domain in _domains(request):
        hook = domain.party_landing
        if hook is not None and (url := await hook(session, party)) is not None:
            return url
    return "/my-case"


def error_page(request: Request, exc: MediationError) -> HTMLResponse:
    message = gettext(request.state.language, exc.message, **exc.params)
    return render(request, "error.html", status_code=exc.status_code, message=message)


def _staff_home(principal: StaffPrincipal) -> str:
    return "/cases" if principal.user.role == Role.mediator else "/home"


@router.get("/", response_class=HTMLResponse)
async def sign_in_page(request: Request, principal: OptionalPrincipal) -> Response:
    if isinstance(principal, StaffPrincipal):
        return RedirectResponse(_staff_home(principal), status_code=303)
    if isinstance(principal, PartyPrincipal):
        return RedirectResponse("/my-case", status_code=303)
    return render(request, "login.html", next=request.query_params.get("next", ""))


@router.get("/home", response_class=HTMLResponse)
async def staff_home(request: Request, staff: CurrentStaff) -> Response:
    if staff.user.role == Role.mediator:
        return RedirectResponse("/cases", status_code=303)
    return render(request, "home.html")


@router.get("/cases", response_class=HTMLResponse)
async def case_list_page(
    request: Request, mediator: CurrentMediator, filters: CaseQuery, session: SessionDep
) -> Response:
    rows, total = await cases.list_cases(
        session,
        org_id=mediator.user.org_id,
        status=filters.status,
        dispute_type=filters.dispute_type,
        query=filters.q,
        page=filters.page,
        per_page=filters.per_page,
    )
    grouped = await cases.parties_of(session, [c.id or 0 for c in rows])
    return render(
        request,
        "cases.html",
        rows=rows,
        parties=grouped,
        total=total,
        page=filters.page,
        pages=max(1, -(-total // filters.per_page)),
        status=filters.status,
        dtype=filters.dispute_type,
        query=filters.q or "",
    )


@router.get("/cases/new", response_class=HTMLResponse)
async def intake_page(
    request: Request, _mediator: CurrentMediator, session: SessionDep
) -> Response:
    return render(
        request,
        "intake.html",
        party_roles=list(PartyRole),
        party_kinds=list(PartyKind),
        dispute_types=list(DisputeType),
        courts=await venue.courts(session),
    )


async def _case_context(session: SessionDep, case: Case) -> dict[str, Any]:
    grouped = await cases.parties_of(session, [case.id or 0])
    return {"case": case, "parties": grouped[case.id or 0]}


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, case: MediatorCase, session: SessionDep) -> Response:
    invitations = await list_invitations(session, case=case)
    labels = request.app.state.action_labels
    events = await case_history(session, case=case, action_labels=labels)
    return render(
        request,
        "case.html",
        ended=cases.is_ended(case),
        invitations=invitations,
        invitation_state=invitation_state,
        events=events,
        sections=await case_sections(request, session, case, CaseViewer(Audience.staff)),
        transitions=cases.mediator_moves(case),
        courts=await venue.courts(session),
        **await _case_context(session, case),
    )


@router.get("/join/{token}", response_class=HTMLResponse)
async def join(token: str, request: Request, session: SessionDep) -> Response:
    result = await redeem_invitation(session, token=token[:200], address=client_address(request))
    if isinstance(result, str):
        message = gettext(request.state.language, REFUSALS[result])
        # Returned, not raised: the refused attempt's audit event must be committed.
        return render(request, "error.html", status_code=401, message=message)
    landing = await party_landing(request, session, result.party)
    response = RedirectResponse(landing, status_code=303)
    remaining = int((result.invitation.expires_at - now()).total_seconds())
    set_session_cookie(request, response, result.session_token, remaining)
    return response


@router.get("/my-case", response_class=HTMLResponse)
async def party_case_page(request: Request, me: CurrentParty, session: SessionDep) -> Response:
    viewer = CaseViewer(Audience.party, party=me.party)
    sections = await case_sections(request, session, me.case, viewer)
    context = await _case_context(session, me.case)
    context["parties"] = [
        PartyOut.seen_by(p, viewer_party_id=me.party.id) for p in context["parties"]
    ]
    return render(request, "party_case.html", me=me.party, sections=sections, **context)
