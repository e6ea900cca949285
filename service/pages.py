"""Server-rendered pages (Jinja2, autoescaped) for staff and parties.

Pages only read; every change goes through the JSON API from the page's ES module, with the
CSRF token from the page's meta tag.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from service import cases
from service.auth import (
    OptionalPrincipal,
    PartyPrincipal,
    StaffPrincipal,
    viewer_of,
)
from service.clock import now
from service.db import SessionDep
from service.errors import Forbidden, MediationError, NotAuthenticated, NotFound
from service.i18n import HTML_LANG, LANGUAGES, gettext, translations
from service.models import Case, CaseStatus, DisputeType, Party, PartyKind, PartyRole, Role
from service.personal import mask_id_number
from service.router import REFUSALS, client_address, set_session_cookie
from service.schemas import MAX_ID

router = APIRouter(include_in_schema=False)

# Each domain keeps its pages beside its code; they all extend service/templates/base.html.
_ROOT = Path(__file__).resolve().parent.parent
_TEMPLATE_DIRS = [
    _ROOT / "service" / "templates",
    _ROOT / "rooms" / "templates",
    _ROOT / "agreements" / "templates",
    _ROOT / "confirmation" / "templates",
]
_env = Environment(
    loader=ChoiceLoader([FileSystemLoader(str(d)) for d in _TEMPLATE_DIRS if d.is_dir()]),
    autoescape=select_autoescape(default=True),
    enable_async=False,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["mask"] = mask_id_number

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


_env.globals["module_preloads"] = module_preloads

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

    strings = {s: tr.gettext(s) for s in [*SCRIPT_STRINGS, *(script_strings or [])]}
    viewer = viewer_of(request)
    html = _env.get_template(template).render(
        request=request,
        viewer=viewer,
        csrf=viewer.csrf if viewer else "",
        local_time=local_time,
        action_labels=cases.ACTION_LABELS,
        language=language,
        html_lang=HTML_LANG[language],
        languages=LANGUAGES,
        script_strings=json.dumps(strings, ensure_ascii=False).replace("</", "<\\/"),
        status_labels=cases.STATUS_LABELS,
        dispute_labels=cases.DISPUTE_LABELS,
        role_labels=cases.PARTY_ROLE_LABELS,
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

    html = _env.get_template(template).render(
        request=request, viewer=viewer_of(request), local_time=local_time, _=_, **context
    )
    return Markup(html)  # noqa: S704 (rendered by our autoescaping environment)


# A domain adds to the case pages without service/ importing it: create_app registers
# async functions (request, session, case, party or None) -> Markup on app.state.
CaseSection = Callable[[Request, AsyncSession, Case, Party | None], Awaitable[Markup]]


async def case_sections(
    request: Request, session: AsyncSession, case: Case, party: Party | None
) -> list[Markup]:
    sections: list[CaseSection] = getattr(request.app.state, "case_sections", [])
    return [await section(request, session, case, party) for section in sections]


# Where a party's join link leads: a domain may name a page that is live right now (an open
# video meeting) so that the link takes the person straight there; otherwise /my-case.
PartyLanding = Callable[[AsyncSession, Party], Awaitable[str | None]]


async def party_landing(request: Request, session: AsyncSession, party: Party) -> str:
    hooks: list[PartyLanding] = getattr(request.app.state, "party_landings", [])
    for hook in hooks:
        if (url := await hook(session, party)) is not None:
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


def _require_staff(principal: Any) -> StaffPrincipal:
    if principal is None:
        raise NotAuthenticated("Sign in first (or open your join link again).")
    if not isinstance(principal, StaffPrincipal):
        raise Forbidden("Only staff may do this.")
    return principal


def _require_mediator(principal: Any) -> StaffPrincipal:
    staff = _require_staff(principal)
    if staff.user.role != Role.mediator:
        raise Forbidden("Your role may not do this.")
    return staff


@router.get("/home", response_class=HTMLResponse)
async def staff_home(request: Request, principal: OptionalPrincipal) -> Response:
    staff = _require_staff(principal)
    if staff.user.role == Role.mediator:
        return RedirectResponse("/cases", status_code=303)
    return render(request, "home.html")


@router.get("/cases", response_class=HTMLResponse)
async def case_list_page(
    request: Request, principal: OptionalPrincipal, session: SessionDep
) -> Response:
    staff = _require_mediator(principal)
    params = request.query_params
    status = params.get("status") if params.get("status") in set(CaseStatus) else None
    dtype = params.get("type") if params.get("type") in set(DisputeType) else None
    try:
        page = max(1, min(int(params.get("page", "1")), 10_000))
    except ValueError:
        page = 1
    query = (params.get("q") or "").strip()[:100] or None
    per_page = 20
    rows, total = await cases.list_cases(
        session,
        org_id=staff.user.org_id,
        status=CaseStatus(status) if status else None,
        dispute_type=DisputeType(dtype) if dtype else None,
        query=query,
        page=page,
        per_page=per_page,
    )
    grouped = await cases.parties_of(session, [c.id or 0 for c in rows])
    return render(
        request,
        "cases.html",
        rows=rows,
        parties=grouped,
        total=total,
        page=page,
        pages=max(1, -(-total // per_page)),
        status=status,
        dtype=dtype,
        query=query or "",
    )


@router.get("/cases/new", response_class=HTMLResponse)
async def intake_page(request: Request, principal: OptionalPrincipal) -> Response:
    _require_mediator(principal)
    return render(
        request,
        "intake.html",
        party_roles=list(PartyRole),
        party_kinds=list(PartyKind),
        dispute_types=list(DisputeType),
    )


async def _case_context(session: SessionDep, case: Case) -> dict[str, Any]:
    grouped = await cases.parties_of(session, [case.id or 0])
    return {"case": case, "parties": grouped[case.id or 0]}


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(
    case_id: int, request: Request, principal: OptionalPrincipal, session: SessionDep
) -> Response:
    staff = _require_mediator(principal)
    if not 1 <= case_id <= MAX_ID:
        raise NotFound("No such case.")
    case = await cases.case_in_org(session, case_id=case_id, org_id=staff.user.org_id)
    invitations = await cases.list_invitations(session, case=case)
    events = await cases.case_events(session, case=case)
    return render(
        request,
        "case.html",
        invitations=invitations,
        invitation_state=cases.invitation_state,
        events=[(e, json.loads(e.data)) for e in events],
        sections=await case_sections(request, session, case, None),
        transitions=[
            s
            for s in CaseStatus
            if s in cases.TRANSITIONS[CaseStatus(case.status)] and s != CaseStatus.agreed
        ],
        **await _case_context(session, case),
    )


@router.get("/join/{token}", response_class=HTMLResponse)
async def join(token: str, request: Request, session: SessionDep) -> Response:
    result = await cases.redeem_invitation(
        session, token=token[:200], address=client_address(request)
    )
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
async def party_case_page(
    request: Request, principal: OptionalPrincipal, session: SessionDep
) -> Response:
    if not isinstance(principal, PartyPrincipal):
        if principal is None:
            message = gettext(request.state.language, "Open the join link your mediator sent you.")
            return render(request, "error.html", status_code=401, message=message)
        raise Forbidden("This page is for the parties of a case.")
    context = await _case_context(session, principal.case)
    sections = await case_sections(request, session, principal.case, principal.party)
    return render(request, "party_case.html", me=principal.party, sections=sections, **context)
