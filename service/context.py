"""Every HTTP request's context: its id (in each log line), the reader's language, the one
request line in the log, and the security headers on every answer, 500s included.

Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs the
app in a task of its own and streams the answer through a memory channel, which cost more
than the court queue's page itself at 200 requests a second (bench/queue.py)."""

from __future__ import annotations

import logging
import time
import uuid

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import logs
from service.i18n import gettext, pick_language

log = logging.getLogger("mediation.http")


def internal_error(request: Request) -> Response:
    language = getattr(request.state, "language", "zh_Hans")
    message = gettext(language, "Something went wrong. Please try again.")
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=500)
    return HTMLResponse(
        f'<!doctype html><meta charset="utf-8"><title>500</title><p>{message}</p>',
        status_code=500,
    )


def _language_cookie(language: str) -> str:
    carrier = Response()
    carrier.set_cookie("lang", language, max_age=365 * 86400, samesite="lax")
    return carrier.headers["set-cookie"]


class RequestContext:
    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.csp = csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        rid = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex[:16]
        token = logs.request_id.set(rid)
        asked = request.query_params.get("lang")
        language = pick_language(asked, request.cookies.get("lang"))
        request.state.language = language
        started = time.perf_counter()
        # Join tokens are credentials: never in a log line.
        shown = "/join/…" if request.url.path.startswith("/join/") else request.url.path
        status = 500
        begun = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, begun
            if message["type"] == "http.response.start":
                begun, status = True, message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = rid
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Content-Security-Policy", self.csp)
                if asked == language:
                    headers.append("set-cookie", _language_cookie(language))
            await send(message)

        def request_line() -> None:
            ms = round((time.perf_counter() - started) * 1000, 1)
            log.info("%s %s %s", request.method, shown, status, extra={"ms": ms})

        try:
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception:
                if begun:
                    # Part of the answer is out (a stream, or a background task failed after
                    # it): its request line, then the error to uvicorn, which logs it with
                    # its traceback and ends the connection.
                    request_line()
                    raise
                # Logged here with its traceback and request id, then answered like any other
                # error, so that a 500 too has its one request line and its security headers.
                log.exception("unhandled error in %s %s", request.method, shown)
                await internal_error(request)(scope, receive, send_with_headers)
            request_line()
        finally:
            logs.request_id.reset(token)
