"""The app factory: one process serves pages, the JSON API, signalling and (later) media."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse

from agreements.domain import domain as agreements_domain
from confirmation.domain import domain as confirmation_domain
from confirmation.hosts import CONFIRMATION_HOST
from rooms.domain import domain as rooms_domain
from rooms.models import RoomKind
from service import apidocs, cases, openapi, pages, security
from service.context import RequestContext
from service.db import make_engine, make_sessionmaker
from service.documents import router as documents_router
from service.documents.pdf import PdfWorkers
from service.domain import Domain, check_domains
from service.errors import Invalid, MediationError, NoPartySession, NotAuthenticated, NotFound
from service.hub import Hub
from service.i18n import N_, gettext
from service.migrate import ensure_current
from service.router import health_router, router
from service.settings import Settings, get_settings
from service.static import PreloadedStaticFiles
from service.storage import ContentStore

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
log = logging.getLogger("mediation.http")


_VALIDATION_MESSAGES = {
    "missing": N_("This field is required."),
    "string_too_long": N_("Too long: at most {max_length} characters."),
    "string_too_short": N_("Too short: at least {min_length} characters."),
    "string_pattern_mismatch": N_("Not in the expected format."),
    "enum": N_("Not one of the allowed choices."),
    "literal_error": N_("Not one of the allowed choices."),
    "int_parsing": N_("A whole number is needed here."),
    "int_type": N_("A whole number is needed here."),
    "string_type": N_("Text is needed here."),
    "json_invalid": N_("The request body is not valid JSON."),
    "extra_forbidden": N_("This field is not expected here."),
    "too_short": N_("At least {min_length} items are needed."),
    "too_long": N_("At most {max_length} items are allowed."),
    "greater_than_equal": N_("Must be at least {ge}."),
    "less_than_equal": N_("Must be at most {le}."),
    # Control characters, strict scalars and shapes (the types in service/schemas.py).
    "line_control_character": N_(
        "One line of text is needed here: no line breaks, tabs or other control characters."
    ),
    "text_control_character": N_(
        "Control characters such as NUL are not allowed here (line breaks and tabs are)."
    ),
    "string_unicode": N_("The text holds characters that are not valid Unicode."),
    "bool_type": N_("true or false is needed here."),
    "datetime_type": N_(
        "A date and time in ISO 8601 is needed, such as 2026-12-05T14:30:00+08:00."
    ),
    "date_type": N_("A date such as 2026-12-31 is needed here."),
    "timezone_aware": N_("Give the time with its offset, such as 2026-12-20T23:59:59+08:00."),
    "date_from_datetime_parsing": N_("Not a valid date: use the form 2026-12-31."),
    "date_parsing": N_("Not a valid date: use the form 2026-12-31."),
    "amount_type": N_('An amount in yuan is written as text, such as "3000.00".'),
    "amount_positive": N_("The amount must be more than zero."),
    "png_type": N_("The signature picture is needed here, as base64-encoded PNG."),
    "png_too_large": N_("The signature picture is too large."),
    "png_base64": N_("The signature picture is not valid base64."),
    "model_attributes_type": N_("An object is needed here."),
    "dict_type": N_("An object is needed here."),
    "list_type": N_("A list is needed here."),
}


def validation_message(language: str, error: Mapping[str, Any]) -> str:
    message = _VALIDATION_MESSAGES.get(error.get("type", ""), N_("This value is not valid."))
    context = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, int | str)}
    try:
        return gettext(language, message, **context)
    except (KeyError, IndexError):
        return gettext(language, "This value is not valid.")


def default_domains() -> list[Domain]:
    """The domains this service is made of, in the order their case-page sections show.
    The one place that names them (migrations/env.py reads their models from here)."""
    return [
        # The claiming judge hosts a confirmation room (confirmation/hosts.py).
        rooms_domain(host_rules={RoomKind.confirmation: CONFIRMATION_HOST}),
        agreements_domain(),
        confirmation_domain(),
    ]


async def shut_down_domains(app: Any) -> None:
    """Every domain's shutdown hook, last registered first. One failing does not keep the
    others from running (they hold recordings to store), and it is logged, not lost."""
    for domain in reversed(getattr(getattr(app, "state", None), "domains", [])):
        if domain.shutdown is None:
            continue
        try:
            await domain.shutdown(app)
        except Exception:
            logging.getLogger("mediation").exception(
                "shutting down a domain failed", extra={"domain": domain.name}
            )


class Server(uvicorn.Server):
    """uvicorn, letting the domains end their live work first on shutdown.

    uvicorn closes every open WebSocket (1012) before it runs the app's lifespan exit, so
    people in a meeting would see a dropped connection and retry against a server that is
    going away. The domains' shutdown hooks run first: the rooms tell each person why
    (``closed`` with ``server_shutdown``: the page offers to join again) and store the last
    recording segments while the database is still there.
    """

    async def shutdown(self, sockets: Any = None) -> None:
        await shut_down_domains(self.config.app)
        await super().shutdown(sockets)


def create_app(settings: Settings | None = None, domains: list[Domain] | None = None) -> FastAPI:
    settings = settings or get_settings()
    domains = default_domains() if domains is None else domains
    check_domains(domains, service_actions=cases.ACTION_LABELS)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.db.url, echo=settings.db.echo, pool_size=settings.db.pool_size
        )
        try:
            await ensure_current(engine)
        except BaseException:
            await engine.dispose()
            raise
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.store = ContentStore(settings.data_dir / "store")
        # Renders may read only our own files: the static folder and the templates.
        app.state.pdf = PdfWorkers(
            settings.pdf,
            allowed_dirs=[STATIC_DIR, *(d.templates for d in domains if d.templates)],
        )
        if settings.pdf.prestart:
            app.state.pdf.start()  # warming up in the background
        app.state.hub = Hub()  # domains subscribe to each other's news at start-up
        settings.secret()  # create the key now rather than inside the first request
        try:
            for domain in domains:
                if domain.startup is not None:
                    await domain.startup(app)
            yield
        finally:
            await app.state.hub.drain()
            # Live work ends first (peers, recorders storing their last segments, sockets),
            # while the database is still there; a domain that never started has nothing
            # to end, which its (idempotent) hook must allow.
            await shut_down_domains(app)
            await app.state.pdf.close()
            await engine.dispose()

    app = FastAPI(
        title="Online mediation and judicial confirmation",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # its CDN page breaks the CSP: service/apidocs.py serves ours
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.domains = domains
    app.state.templates = pages.make_environment(domains)
    app.state.action_labels = {
        **cases.ACTION_LABELS,
        **{k: v for d in domains for k, v in d.action_labels.items()},
    }
    app.state.script_strings = {d.name: d.script_strings for d in domains}
    app.state.page_modules = {
        slot: tuple(m for d in domains for m in d.page_modules.get(slot, ()))
        for slot in {slot for d in domains for slot in d.page_modules}
    }
    app.state.signing_evidence = tuple(
        d.signing_evidence for d in domains if d.signing_evidence is not None
    )
    app.state.case_readers = tuple(r for d in domains for r in d.case_readers)
    app.state.venue_guards = tuple(g for d in domains for g in d.venue_guards)
    app.include_router(health_router)
    app.include_router(router)
    app.include_router(pages.router)
    app.include_router(documents_router.api)  # issued documents and their verification
    app.include_router(documents_router.page_router)
    for domain in domains:
        if domain.router is not None:
            app.include_router(domain.router)
    apidocs.install(app)  # /api/docs and /static/swagger/, before /static
    app.mount("/static", PreloadedStaticFiles(directory=STATIC_DIR), name="static")
    openapi.install(app)  # the whole contract in /openapi.json; framework errors translated

    app.add_middleware(RequestContext, csp=security.csp(settings.public_url))

    @app.exception_handler(MediationError)
    async def domain_error(request: Request, exc: MediationError) -> Response:
        language = getattr(request.state, "language", "zh_Hans")
        if not request.url.path.startswith("/api/"):
            if isinstance(exc, NotAuthenticated) and not isinstance(exc, NoPartySession):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/?{urlencode({'next': target})}", status_code=303)
            return pages.error_page(request, exc)
        body: dict[str, object] = {"detail": gettext(language, exc.message, **exc.params)}
        if isinstance(exc, Invalid):
            body["detail"] = [
                {
                    # Same shape as FastAPI's own errors: list positions are integers.
                    "loc": ["body", *(int(p) if p.isdigit() else p for p in exc.field.split("."))],
                    "msg": body["detail"],
                    "type": "invalid",
                }
            ]
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's shape (loc names the field), with the message in the caller's language;
        # the echoed input is dropped because it may hold an ID number.
        language = getattr(request.state, "language", "zh_Hans")
        if not request.url.path.startswith("/api/"):
            # A page's address or filter a person mistyped: a page, not JSON. An id out of
            # range names nothing that exists.
            in_path = any(e.get("loc", ("",))[0] == "path" for e in exc.errors())
            refused = (
                NotFound("This page does not exist.")
                if in_path
                else MediationError("This address has a value the page cannot use.")
            )
            return pages.error_page(request, refused)
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": validation_message(language, e),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    return app
