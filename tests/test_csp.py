"""Every response carries the Content-Security-Policy (service/security.py), and no template
needs what it forbids. tests/browser checks that real pages run under it without violations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.security import csp
from service.settings import Settings
from tests.conftest import Factory, Made

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(
    p
    for folder in ("service", "rooms", "agreements", "confirmation")
    # A domain's pages: templates/*.html, or templates/<domain>/*.html (agreements' pages).
    for pattern in ("templates/*.html", f"templates/{folder}/*.html")
    for p in ROOT.glob(f"{folder}/{pattern}")
)


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (d.split() for d in policy.split(";") if d.strip())}


def test_the_policy_forbids_inline_scripts_and_framing() -> None:
    policy = directives(csp("https://mediation.example.cn"))
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    # The signalling socket, named for browsers whose 'self' does not cover wss: (old Safari).
    assert policy["connect-src"] == ["'self'", "wss://mediation.example.cn"]
    assert directives(csp("http://127.0.0.1:8000"))["connect-src"] == [
        "'self'",
        "ws://127.0.0.1:8000",
    ]
    assert not [v for values in policy.values() for v in values if v.startswith("'unsafe-")]


@pytest.mark.parametrize(
    "path",
    [
        "/",  # the sign-in page
        "/healthz",
        "/openapi.json",
        "/api/cases",  # 401, JSON
        "/no-such-page",  # 404, a page
        "/static/js/room.js",
        "/static/js/room/early.js",
        "/join/not-a-token",
    ],
)
async def test_every_response_carries_the_policy(client, settings: Settings, path: str) -> None:
    r = await client.get(path)
    assert r.headers["content-security-policy"] == csp(settings.public_url), (path, r.status_code)


async def test_signed_in_pages_and_the_api_carry_the_policy(
    client, settings: Settings, factory: Factory, world: Made
) -> None:
    headers = await factory.login(client, world.mediator)
    for path in ("/cases", f"/cases/{world.case.id}", "/cases/new", f"/api/cases/{world.case.id}"):
        r = await client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.text[:300])
        assert r.headers["content-security-policy"] == csp(settings.public_url), path
    token = await factory.invite(world.mediator, world.case, world.applicant)
    party = await factory.party_headers(client, token)
    r = await client.get("/my-case", headers=party)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-security-policy"] == csp(settings.public_url)


# A <script> that would execute: no src, and not a data block (type="application/json").
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
_STYLE = re.compile(r"<[^>]*\sstyle\s*=", re.I)
_JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_no_template_needs_inline_script_or_style(template: Path) -> None:
    """What the policy would refuse, were it in a page: inline scripts, event handler
    attributes, javascript: addresses, style attributes."""
    text = template.read_text(encoding="utf-8")
    for pattern in (_INLINE_SCRIPT, _HANDLER, _STYLE, _JS_URL):
        assert not pattern.search(text), (template.name, pattern.search(text))


def test_the_template_check_sees_what_it_looks_for() -> None:
    assert _INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert _INLINE_SCRIPT.search('<script type="module">import "./x.js"</script>')
    assert not _INLINE_SCRIPT.search('<script type="module" src="/static/js/a.js"></script>')
    assert not _INLINE_SCRIPT.search('<script type="application/json" id="x">{}</script>')
    assert _HANDLER.search('<button type="button" onclick="go()">')
    assert _STYLE.search('<p class="x" style="color: red">')
    assert _JS_URL.search('<a href="javascript:void(0)">')
    assert TEMPLATES, "no templates found"
