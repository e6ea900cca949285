"""The contract as served at ``/openapi.json``: how callers sign in, and every error.

FastAPI documents what a route declares: its success response, and 422 where it takes
parameters. The rest of API.md's contract follows from what kind of route it is, so it is
added here from each route's dependencies and parameters rather than written out on every
route (and forgotten on the next one):

- a signed-in route (it depends on ``require_principal``) names both security schemes and
  may answer 401 (not signed in) and 403 (role, organisation, or a cookie session's missing
  CSRF token);
- a route with a path parameter, or a signed-in route with a body (which names other
  records: a party, a parent organisation), may answer 404;
- a signed-in route that changes something and names a record (by path or body) may
  answer 409: the record's state does not allow it, and the message names that state;
- every error but 422 is ``ErrorOut``, ``{"detail": "<message in the caller's language>"}``.

Framework errors answer in the caller's language too: a body that is not UTF-8 (hence not
JSON) is the documented 422 of any malformed JSON, where FastAPI answers 400 in English.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException

from service.auth import CSRF_HEADER, SESSION_COOKIE, require_principal
from service.i18n import N_, gettext
from service.schemas import ErrorOut

SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "Set by POST /api/auth/login and by opening a join link. A request"
        f" that changes something also sends the {CSRF_HEADER} header (the csrf_token of"
        " the sign-in answer or of GET /api/me).",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The token of POST /api/auth/login (staff) or POST /api/auth/party"
        " (a party, for its own case only).",
    },
}
SIGNED_IN: list[dict[str, list[str]]] = [{"session": []}, {"bearer": []}]
ERRORS = {
    401: "Not signed in, or the session has ended",
    403: "Not allowed: the caller's role or organisation, or a cookie session without"
    f" its {CSRF_HEADER}",
    404: "No such record, or one the caller may not know of",
    409: "The record's current state does not allow this; the message names it",
    429: "Too many attempts; Retry-After says how many seconds to wait",
}
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What FastAPI's own errors on /api/ say instead of their English reason phrase.
FRAMEWORK_MESSAGES = {
    404: N_("There is nothing at this address."),
    405: N_("This address does not take this method."),
}


def _calls(dependant: Dependant) -> Iterator[Any]:
    yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def errors_of(operation: dict[str, Any], method: str, *, signed_in: bool) -> set[int]:
    """The error statuses an operation may answer with, by the rules of this module's doc."""
    in_path = any(p.get("in") == "path" for p in operation.get("parameters", []))
    names_a_record = in_path or (signed_in and "requestBody" in operation)
    statuses = set()
    if signed_in:
        statuses |= {401, 403}
    if names_a_record:
        statuses.add(404)
    if signed_in and names_a_record and method in UNSAFE:
        statuses.add(409)
    return statuses


def complete(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """Add the security schemes and the error responses to FastAPI's schema, in place."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    components.setdefault("schemas", {})["ErrorOut"] = ErrorOut.model_json_schema()
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    # Each route as included (its prefix and the router's dependencies with it).
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        signed_in = any(call is require_principal for call in _calls(route.dependant))
        for method in route.methods or ():
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            if signed_in:
                operation["security"] = SIGNED_IN
            responses = operation.setdefault("responses", {})
            for status in errors_of(operation, method, signed_in=signed_in):
                responses.setdefault(str(status), {})
            for status, response in responses.items():
                code = int(status) if status.isdigit() else 0
                if 400 <= code < 500 and code != 422:
                    if code in ERRORS and not response.get("description"):
                        response["description"] = ERRORS[code]
                    response["content"] = error_content
                if code == 429:
                    response["headers"] = {
                        "Retry-After": {"schema": {"type": "integer"}, "required": True}
                    }
    return schema


async def framework_error(request: Request, exc: HTTPException) -> Response:
    """FastAPI's and Starlette's own errors, in the caller's language under /api/."""
    if not request.url.path.startswith("/api/"):
        return await http_exception_handler(request, exc)
    language = getattr(request.state, "language", "zh_Hans")
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
        # FastAPI could not decode the body (not UTF-8, or nested past Python's limit)
        # before it ever got to JSON: the same answer as for any malformed JSON.
        detail = gettext(language, "The request body is not valid JSON.")
        return JSONResponse(
            {"detail": [{"loc": ["body"], "msg": detail, "type": "json_invalid"}]},
            status_code=422,
        )
    message = FRAMEWORK_MESSAGES.get(exc.status_code)
    if message is None:
        return await http_exception_handler(request, exc)
    return JSONResponse(
        {"detail": gettext(language, message)},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def install(app: FastAPI) -> None:
    """Serve the completed schema, and answer framework errors as the contract says."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(app, FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_exception_handler(HTTPException, framework_error)  # type: ignore[arg-type]
