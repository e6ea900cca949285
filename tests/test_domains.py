"""The domain seam: a domain plugs in with one ``Domain`` record and no edit to service/.

A toy domain, written here as a later domain (agreements, confirmation) would be, adds a
JSON route, a page, a case-page section per audience, a party landing, audit labels, script
strings and start-up and shutdown hooks; its templates cannot shadow anyone else's.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, BackgroundTasks, FastAPI, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from service import pages
from service.app import create_app, default_domains
from service.auth import MediatorCase
from service.domain import Audience, CaseViewer, Domain, check_domains
from service.models import Case, Party
from service.settings import Settings
from tests.conftest import Factory, Made

TEMPLATES = {
    # A domain's own base.html must not replace service/'s for anyone, itself included.
    "base.html": "TOY BASE: shadowing attempt",
    "page.html": (
        '{% extends "base.html" %}{% block main %}<p id="toy">toy page for {{ case.number }}'
        "</p>{% endblock %}"
    ),
    "section.html": '<section id="toy-section">toy section for {{ who }}</section>',
}


class Toy:
    """The toy domain and what its hooks saw."""

    def __init__(self, folder: Path) -> None:
        self.calls: list[str] = []
        self.landing: str | None = None
        router = APIRouter()

        @router.get("/api/toy/cases/{case_id}")
        async def toy_api(case: MediatorCase) -> dict[str, Any]:
            return {"case": case.number}

        @router.get("/api/toy/boom")
        async def boom() -> None:
            raise RuntimeError("a bug in a domain")

        @router.get("/api/toy/late")
        async def late(background: BackgroundTasks) -> dict[str, bool]:
            def fail() -> None:
                raise RuntimeError("a background task's bug, after the answer")

            background.add_task(fail)
            return {"ok": True}

        @router.get("/toy/cases/{case_id}", response_class=HTMLResponse)
        async def toy_page(request: Request, case: MediatorCase) -> HTMLResponse:
            return pages.render(request, "toy/page.html", case=case)

        async def section(
            request: Request, session: AsyncSession, case: Case, viewer: CaseViewer
        ) -> Markup | None:
            if viewer.audience == Audience.judge:
                return None
            who = viewer.party.name if viewer.party is not None else "staff"
            return pages.fragment(request, "toy/section.html", who=who)

        async def landing(session: AsyncSession, party: Party) -> str | None:
            return self.landing

        async def start(app: FastAPI) -> None:
            self.calls.append("start")
            app.state.toy = "ready"

        async def stop(app: FastAPI) -> None:
            self.calls.append("stop")

        self.domain = Domain(
            name="toy",
            router=router,
            templates=folder,
            action_labels={"toy.done": "Toy done"},
            script_strings=("Copied", "A toy's room panel"),
            case_sections=(section,),
            party_landing=landing,
            startup=start,
            shutdown=stop,
            page_modules={"room": ("/static/js/toy/panel.js",)},
        )


@pytest.fixture
async def toy(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[Toy, FastAPI]]:
    for name, text in TEMPLATES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    toy = Toy(tmp_path)
    app = create_app(settings, domains=[*default_domains(), toy.domain])
    async with app.router.lifespan_context(app):
        assert toy.calls == ["start"]
        assert app.state.toy == "ready"
        yield toy, app
    assert toy.calls[-1] == "stop"


@pytest.fixture
async def toy_client(toy: tuple[Toy, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=toy[1]), base_url="http://testserver"
    ) as c:
        yield c


async def test_a_domain_adds_routes_sections_and_templates(
    toy: tuple[Toy, FastAPI], toy_client: httpx.AsyncClient
) -> None:
    _, app = toy
    world: Made = await Factory(app).world()
    await Factory(app).login(toy_client, world.mediator)
    case_id = world.case.id

    r = await toy_client.get(f"/api/toy/cases/{case_id}")
    assert r.status_code == 200, r.text
    assert r.json() == {"case": world.case.number}

    # The domain's page extends service/'s base.html, not the toy's own "base.html".
    r = await toy_client.get(f"/toy/cases/{case_id}")
    assert r.status_code == 200, r.text
    assert 'id="toy"' in r.text and "TOY BASE" not in r.text
    assert 'id="strings"' in r.text  # service/'s base.html

    # Its page carries its script strings (as the rooms' page carries the room's).
    strings = json.loads(r.text.split('id="strings">', 1)[1].split("</script>", 1)[0])
    assert "Copied" in strings

    # The staff case page shows its section beside the rooms'.
    r = await toy_client.get(f"/cases/{case_id}")
    assert r.status_code == 200
    assert "toy section for staff" in r.text
    assert r.text.index('id="rooms"') < r.text.index('id="toy-section"')  # registration order

    # The toy's typed dependency is the API's: another committee's mediator gets 404.
    stranger = await Factory(app).user(world.mediator.role, await Factory(app).committee())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as other:
        headers = await Factory(app).login(other, stranger)
        assert (await other.get(f"/api/toy/cases/{case_id}", headers=headers)).status_code == 404


async def test_a_domain_decides_where_a_party_lands(
    toy: tuple[Toy, FastAPI], toy_client: httpx.AsyncClient
) -> None:
    domain_toy, app = toy
    factory = Factory(app)
    world = await factory.world()
    token = await factory.invite(world.mediator, world.case, world.applicant)

    r = await toy_client.get(f"/join/{token}")
    assert r.status_code == 303 and r.headers["location"] == "/my-case"
    r = await toy_client.get("/my-case")
    assert f"toy section for {world.applicant.name}" in r.text

    domain_toy.landing = "/toy/somewhere"
    token = await factory.invite(world.mediator, world.case, world.respondent)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as fresh:
        r = await fresh.get(f"/join/{token}")
    assert r.status_code == 303 and r.headers["location"] == "/toy/somewhere"


async def test_a_domain_puts_its_module_in_the_room_page(
    toy: tuple[Toy, FastAPI], toy_client: httpx.AsyncClient
) -> None:
    """The room page loads the modules of its "room" slot, each domain's, with the strings
    those modules show, without rooms/ knowing whose they are."""
    _, app = toy
    world: Made = await Factory(app).world()
    headers = await Factory(app).login(toy_client, world.mediator)
    r = await toy_client.post(f"/api/cases/{world.case.id}/rooms", json={}, headers=headers)
    assert r.status_code == 201, r.text
    r = await toy_client.get(f"/rooms/{r.json()['id']}", headers=headers)
    assert r.status_code == 200, r.text
    for module in ("/static/js/agreement/panel.js", "/static/js/toy/panel.js"):
        assert f'<script type="module" src="{module}"></script>' in r.text
    strings = json.loads(r.text.split('id="strings">', 1)[1].split("</script>", 1)[0])
    assert "A toy's room panel" in strings


async def test_audit_labels_of_a_domain_reach_the_case_history(
    toy: tuple[Toy, FastAPI],
) -> None:
    _, app = toy
    assert app.state.action_labels["toy.done"] == "Toy done"
    assert app.state.action_labels["room.created"]  # the rooms domain's, through its record


def test_two_domains_may_not_share_a_name_or_an_audit_action() -> None:
    rooms = default_domains()[0]
    with pytest.raises(ValueError, match="taken"):
        check_domains([rooms, Domain(name="rooms")])
    with pytest.raises(ValueError, match="labelled by two domains"):
        check_domains([rooms, Domain(name="other", action_labels={"room.created": "x"})])
    with pytest.raises(ValueError, match="labelled by two domains"):
        check_domains(
            [Domain(name="other", action_labels={"case.created": "x"})],
            service_actions=["case.created"],
        )


def test_no_file_in_service_names_a_domain_but_the_composition_root() -> None:
    service = Path(__file__).resolve().parent.parent / "service"
    for path in service.glob("*.py"):
        if path.name == "app.py":
            continue
        text = path.read_text(encoding="utf-8")
        for domain in ("rooms", "agreements", "confirmation"):
            assert f"from {domain}" not in text and f"import {domain}" not in text, (
                f"{path.name} imports {domain}/"
            )


async def test_a_domain_gives_the_rooms_its_host_rule_at_composition_time(
    settings: Settings,
) -> None:
    """Confirmation will pass the rule for its judges' rooms this way, editing no rooms/."""
    from rooms.domain import domain as rooms_domain
    from rooms.hosts import MEDIATION_HOST, HostRule

    async def judge_of_the_court(*_: Any) -> bool:
        return True

    rule = HostRule(frozenset({"judge"}), judge_of_the_court)
    app = create_app(settings, domains=[rooms_domain(host_rules={"confirmation": rule})])
    async with app.router.lifespan_context(app):
        rules = app.state.rooms.services.host_rules
        assert rules == {"mediation": MEDIATION_HOST, "confirmation": rule}


async def test_a_bug_in_a_domain_is_logged_and_answered_with_the_usual_headers(
    toy: tuple[Toy, FastAPI], toy_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="mediation.http"):
        r = await toy_client.get("/api/toy/boom")
    assert r.status_code == 500
    assert r.json() == {"detail": "操作没有成功，请稍后再试。"}
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-request-id"]
    failed = [rec for rec in caplog.records if rec.getMessage().startswith("unhandled error")]
    assert failed and (failed[0].exc_info is not None or failed[0].exc_text)
    lines = [rec.getMessage() for rec in caplog.records]
    assert "GET /api/toy/boom 500" in lines  # the one request line, as for any answer


async def test_a_failure_after_the_answer_keeps_its_request_line(
    toy: tuple[Toy, FastAPI], toy_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # The answer (200) is out when the background task fails: the server can only end the
    # connection, and the error goes on to it (here: to the test's transport).
    with caplog.at_level("INFO", logger="mediation.http"), pytest.raises(RuntimeError):
        await toy_client.get("/api/toy/late")
    lines = [rec.getMessage() for rec in caplog.records]
    assert "GET /api/toy/late 200" in lines
