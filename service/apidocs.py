"""The API's documentation page: Swagger UI, served from this server.

FastAPI's own docs page loads Swagger UI from a CDN (often out of reach in China) and starts it
with an inline script; the Content-Security-Policy (service/security.py) refuses both, and the
page stayed blank. Here Swagger UI's files come from the ``swagger-ui-bundle`` package under
``/static/swagger/``, and static/js/apidocs.js starts it, reading the schema's address from the
page. The app is made with ``docs_url=None`` and ``install()`` puts this page in its place.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # no py.typed

DOCS_PATH = "/api/docs"
ASSETS_PATH = "/static/swagger"
# What the page uses. The package also holds Swagger UI's demo page (which would fetch its
# example schema from another site) and an OAuth redirect page with an inline script.
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})


class SwaggerAssets(StaticFiles):
    """The package's Swagger UI files that the page uses, and nothing else of it."""

    def __init__(self) -> None:
        super().__init__(directory=Path(str(swagger_ui_path)))

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in ASSETS:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def docs_page(title: str, openapi_url: str) -> str:
    """The page: Swagger UI's files and its starter, all from this server, nothing inline."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · API</title>
<link rel="icon" href="{ASSETS_PATH}/favicon-32x32.png">
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="/static/js/apidocs.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """The docs page at /api/docs and Swagger UI's files under /static/swagger/.

    Call it before the app mounts /static: the first mount that matches a path answers it.
    """
    if app.openapi_url is None:
        return

    async def page(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return HTMLResponse(docs_page(app.title, f"{root}{app.openapi_url}"))

    app.add_route(DOCS_PATH, page, include_in_schema=False)
    app.mount(ASSETS_PATH, SwaggerAssets(), name="swagger")
