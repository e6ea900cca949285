"""The app factory: one process serves pages, the JSON API, signalling and (later) media."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse

from rooms.pages import case_section as rooms_case_section
from rooms.pages import party_landing as rooms_party_landing
from rooms.peers import use_host_addresses
from rooms.router import router as rooms_router
from rooms.sfu import RoomRegistry, RoomServices
from service import logs, pages
from service.db import make_engine, make_sessionmaker
from service.errors import Invalid, MediationError, NotAuthenticated
from service.i18n import N_, gettext, pick_language
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
}


def validation_message(language: str, error: Mapping[str, Any]) -> str:
    message = _VALIDATION_MESSAGES.get(error.get("type", ""), N_("This value is not valid."))
    context = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, int | str)}
    try:
        return gettext(language, message, **context)
    except (KeyError, IndexError):
        return gettext(language, "This value is not valid.")


class Server(uvicorn.Server):
    """uvicorn, ending the live rooms first on shutdown.

    uvicorn closes every open WebSocket (1012) before it runs the app's lifespan exit, so
    people in a meeting would see a dropped connection and retry against a server that is
    going away. Closing the rooms first tells each of them why (``closed`` with
    ``server_shutdown``: the page offers to join again) and stores the last recording
    segments while the database is still there.
    """

    async def shutdown(self, sockets: Any = None) -> None:
        app = self.config.app
        rooms = getattr(getattr(app, "state", None), "rooms", None)
        if isinstance(rooms, RoomRegistry):
            try:
                await rooms.close_all()
            except Exception:  # shutting down regardless
                logging.getLogger("mediation").exception("closing the rooms failed")
        await super().shutdown(sockets)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.db.url, echo=settings.db.echo)
        try:
            await ensure_current(engine)
        except BaseException:
            await engine.dispose()
            raise
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.store = ContentStore(settings.data_dir / "store")
        app.state.rooms = RoomRegistry(
            RoomServices(
                sessionmaker=app.state.sessionmaker,
                store=app.state.store,
                ice_servers=settings.rtc.ice_servers,
                video_codec=settings.rtc.video_codec,
                workdir=settings.data_dir / "recording-tmp",
                segment_seconds=settings.rtc.recording_segment_seconds,
            )
        )
        use_host_addresses(settings.rtc.host_addresses)
        settings.secret()  # create the key now rather than inside the first request
        try:
            yield
        finally:
            # Every live room ends: peers, recorders (their last segments are stored), sockets.
            await app.state.rooms.close_all()
            await engine.dispose()

    app = FastAPI(
        title="Online mediation and judicial confirmation",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.case_sections = [rooms_case_section]
    app.state.party_landings = [rooms_party_landing]
    app.include_router(health_router)
    app.include_router(router)
    app.include_router(pages.router)
    app.include_router(rooms_router)
    app.mount("/static", PreloadedStaticFiles(directory=STATIC_DIR), name="static")

    @app.middleware("http")
    async def context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex[:16]
        token = logs.request_id.set(rid)
        request.state.language = pick_language(
            request.query_params.get("lang"), request.cookies.get("lang")
        )
        started = time.perf_counter()
        try:
            response = await call_next(request)
            log.info(
                "%s %s %s",
                request.method,
                # Join tokens are credentials: never in a log line.
                "/join/…" if request.url.path.startswith("/join/") else request.url.path,
                response.status_code,
                extra={"ms": round((time.perf_counter() - started) * 1000, 1)},
            )
        finally:
            logs.request_id.reset(token)
        response.headers["X-Request-ID"] = rid
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.query_params.get("lang") == request.state.language:
            response.set_cookie("lang", request.state.language, max_age=365 * 86400, samesite="lax")
        return response

    @app.exception_handler(MediationError)
    async def domain_error(request: Request, exc: MediationError) -> Response:
        language = getattr(request.state, "language", "zh_Hans")
        if not request.url.path.startswith("/api/"):
            if isinstance(exc, NotAuthenticated):
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
