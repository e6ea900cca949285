"""Who may call what: every /api endpoint and every staff page against every kind of caller.

The tables below are the executable form of the "who" column of API.md and of the users
table of DESIGN.md. ``test_every_api_route_has_a_matrix_row`` fails when an /api route is
added without a row, so no endpoint ships without its denials being tested.

Callers (the columns, in this order):

    anon    nobody signed in
    admin   an administrator (organisations and staff; no case content)
    med     a mediator of the case's committee
    med2    a mediator of ANOTHER committee
    judge   a judge of a court, holding the case's application for confirmation (accepted by
            the court, claimed by this judge: the court's judges read the case's record)
    clerk   a clerk of that court
    party   the case's applicant, signed in through a join link
    party2  a party of ANOTHER case (of the same committee: a party's scope is its case)

Matrix calls use bearer tokens, so CSRF (tested at the end) does not get in the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import websockets
from fastapi import routing
from starlette.routing import WebSocketRoute

from agreements import service as agreements_service
from confirmation import queue
from confirmation.models import Application, ApplicationStatus, Basis
from rooms import service as rooms_service
from rooms.models import RoomKind
from service import audit
from service.auth import CSRF_HEADER, SESSION_COOKIE
from service.clock import now
from service.documents import service as documents_service
from service.documents.models import DocumentKind
from service.models import AuthSession, Party, PartyKind, PartyRole, Role, User
from service.personal import mask_id_number
from service.schemas import PartyOut
from service.security import new_token, token_hash
from tests.conftest import PASSWORD, Factory, Made, Server, unique, valid_id

CALLERS = ("anon", "admin", "med", "med2", "judge", "clerk", "party", "party2")
# May see the case under test; nobody else may read a word of it. The court's judge and clerk
# see what of it the court was given (the application, the queue; the judge its record).
ENTITLED = {"med", "party", "judge", "clerk"}
NO_SUCH_CASE = 2_000_000_000


@dataclass
class Cast:
    """One world per test: the case under test, every kind of caller, and their sessions."""

    world: Made
    tokens: dict[str, str | None]
    staff: dict[str, Any]
    joins: dict[str, str]  # party -> its join token, to open fresh sessions
    spare_join: str  # the respondent's join token, for POST /api/auth/party
    spare_invitation_id: int  # the respondent's invitation, for the revoke row
    room_id: int = 0
    recording_id: int = 0
    document_sha256: str = ""  # a document issued in the case
    agreement_id: int = 0
    agreement_sha256: str = ""
    application_id: int = 0
    secrets: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return path.format(
            case_id=self.world.case.id,
            invitation_id=self.spare_invitation_id,
            room_id=self.room_id,
            recording_id=self.recording_id,
            sha256=self.document_sha256,
            agreement_id=self.agreement_id,
            application_id=self.application_id,
            court_id=self.world.court.id,
            number=1,
            seq=1,
        )


async def make_cast(client: httpx.AsyncClient, factory: Factory) -> Cast:
    world = await factory.world()
    elsewhere = await factory.committee()
    other_case, (other_applicant, _) = await factory.case(world.other_mediator)
    staff = {
        "admin": world.admin,
        "med": world.mediator,
        "med2": await factory.user(Role.mediator, elsewhere),
        "judge": world.judge,
        "clerk": world.clerk,
    }
    joins = {
        "party": await factory.invite(world.mediator, world.case, world.applicant),
        "party2": await factory.invite(world.other_mediator, other_case, other_applicant),
    }
    tokens: dict[str, str | None] = {"anon": None}
    for name, user in staff.items():
        tokens[name] = await staff_session(factory, user)
    for name, join in joins.items():
        tokens[name] = bearer_token(await factory.party_headers(client, join))
    spare = await client.post(
        f"/api/cases/{world.case.id}/invitations",
        json={"party_id": world.respondent.id},
        headers=bearer(tokens["med"]),
    )
    assert spare.status_code == 201, spare.text
    client.cookies.clear()
    room_id, recording_id = await recorded_room(factory, world)
    document_sha256 = await issued_document(factory, world)
    async with factory.uow() as s:
        agreement, version = await agreements_service.create(
            s,
            case=world.case,
            template_id="debt",
            content=None,
            user_id=world.mediator.id or 0,
            actor=audit.SYSTEM,
        )
    application_id = await claimed_application(
        factory, world, agreement.id or 0, record_sha256=document_sha256
    )
    return Cast(
        application_id=application_id,
        room_id=room_id,
        recording_id=recording_id,
        document_sha256=document_sha256,
        agreement_id=agreement.id or 0,
        agreement_sha256=version.content_sha256,
        world=world,
        tokens=tokens,
        staff=staff,
        joins=joins,
        spare_join=spare.json()["url"].rsplit("/", 1)[-1],
        spare_invitation_id=spare.json()["id"],
        secrets=[world.case.title, world.case.number, world.applicant.name, world.respondent.name],
    )


async def recorded_room(factory: Factory, world: Made) -> tuple[int, int]:
    """A room of the case with one stored recording segment, for the rooms rows."""
    async with factory.uow() as s:
        room = await rooms_service.create_room(
            s,
            case=world.case,
            kind=RoomKind.mediation,
            auto_admit=False,
            created_by=world.mediator.id or 0,
            actor=audit.SYSTEM,
        )
        # Set for tomorrow, so the calendar rows answer 200 to those entitled.
        room.scheduled_for = now() + timedelta(days=1)
        recording = await rooms_service.start_recording(
            s,
            room=room,
            participant=f"party-{world.applicant.id}",
            participant_name=world.applicant.name,
        )
        sha256 = await factory.app.state.store.put_bytes_async(b"not really a webm " * 10)
        await rooms_service.add_segment(
            s,
            recording_id=recording.id or 0,
            seq=1,
            sha256=sha256,
            size=180,
            duration=1.0,
            media_type="video/webm",
        )
    return room.id or 0, recording.id or 0


async def claimed_application(
    factory: Factory, world: Made, agreement_id: int, *, record_sha256: str | None = None
) -> int:
    """The case's application for confirmation to the world's court, accepted and claimed by
    its judge (written directly: the agreement is a draft here; tests/confirmation has the
    flow that gets there)."""
    at = now()
    async with factory.uow() as s:
        application = Application(
            case_id=world.case.id or 0,
            agreement_id=agreement_id,
            court_id=world.court.id or 0,
            basis=Basis.committee_location,
            status=ApplicationStatus.claimed,
            created_by_user=world.mediator.id,
            effective_at=at,
            queued_at=at,
            accepted_at=at,
            number=unique("（2026）晋0403民特"),
            claimed_by=world.judge.id,
            claimed_at=at,
            due_at=at + timedelta(days=15),
            record_sha256=record_sha256,  # the case's issued document stands in for it
        )
        s.add(application)
        await s.flush()
        # The queue's counts, as the moves keep them (written directly, so kept here too).
        await queue.moved(
            s, court_id=application.court_id, before=None, after=ApplicationStatus.claimed
        )
        return application.id or 0


async def issued_document(factory: Factory, world: Made) -> str:
    """A document issued in the case (its bytes need not be a sealed agreement here)."""
    async with factory.uow() as s:
        document = await documents_service.issue(
            s,
            pdf=f"%PDF-1.7 {unique('matrix')}".encode(),
            case_id=world.case.id or 0,
            kind=DocumentKind.agreement,
            source_id=1,
            version=1,
            code=documents_service.new_code(),
            org_id=world.committee.id or 0,
            store=factory.app.state.store,
        )
    return document.sha256


async def staff_session(factory: Factory, user: User) -> str:
    """A session row as accounts.sign_in writes one, without another Argon2 verification.

    Sign-in itself is a matrix row and is exercised by the CSRF tests; the matrix only needs
    signed-in callers, eight per test.
    """
    token = new_token()
    async with factory.uow() as s:
        s.add(
            AuthSession(
                token_hash=token_hash(token),
                user_id=user.id,
                expires_at=now() + timedelta(hours=1),
            )
        )
    return token


def bearer_token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def visible_text(response: httpx.Response) -> str:
    """The body as a reader sees it (JSON without \\u escapes hiding Chinese names)."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return json.dumps(response.json(), ensure_ascii=False)
    return response.text


def leaked(cast: Cast, response: httpx.Response) -> list[str]:
    text = visible_text(response)
    return [s for s in cast.secrets if s in text]


# -- the JSON API ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # the route's own path template, filled in by Cast.url
    expect: tuple[int, ...]  # one status per caller, in CALLERS order
    body: Callable[[Cast], dict[str, Any]] | None = None
    public: bool = False  # answers from the body, not the caller (sign-in, the API docs)
    ends_session: bool = False  # each caller gets a fresh session to spend
    query: str = ""  # appended to the path ("?from=1&to=1")

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def new_case(_: Cast) -> dict[str, Any]:
    return {
        "dispute_type": "debt",
        "title": unique("借款纠纷"),
        "parties": [
            {"role": "applicant", "name": unique("甲")},
            {"role": "respondent", "name": unique("乙")},
        ],
    }


# fmt: off
MATRIX = [
    #                                                anon adm  med  med2 judg clrk pty  pty2
    Row("GET",  "/api/docs",                        (200, 200, 200, 200, 200, 200, 200, 200),
        public=True),
    Row("POST", "/api/auth/login",                  (200, 200, 200, 200, 200, 200, 200, 200),
        public=True,
        body=lambda c: {"username": c.world.other_mediator.username, "password": PASSWORD}),
    Row("POST", "/api/auth/party",                  (200, 200, 200, 200, 200, 200, 200, 200),
        public=True, body=lambda c: {"token": c.spare_join}),
    Row("POST", "/api/auth/logout",                 (401, 204, 204, 204, 204, 204, 204, 204),
        ends_session=True),
    Row("GET",  "/api/me",                          (401, 200, 200, 200, 200, 200, 200, 200)),
    Row("GET",  "/api/organisations",               (401, 200, 403, 403, 403, 403, 403, 403)),
    Row("POST", "/api/organisations",               (401, 201, 403, 403, 403, 403, 403, 403),
        body=lambda c: {"kind": "committee", "name": unique("调委会"), "level": "village"}),
    Row("GET",  "/api/users",                       (401, 200, 403, 403, 403, 403, 403, 403)),
    Row("POST", "/api/users",                       (401, 201, 403, 403, 403, 403, 403, 403),
        body=lambda c: {"username": unique("staff"), "password": PASSWORD, "role": "mediator",
                        "org_id": c.world.committee.id}),
    Row("POST", "/api/cases",                       (401, 403, 201, 201, 403, 403, 403, 403),
        body=new_case),
    Row("GET",  "/api/cases",                       (401, 403, 200, 200, 403, 403, 200, 200)),
    Row("GET",  "/api/cases/{case_id}",             (401, 403, 200, 404, 403, 403, 200, 404)),
    # Mediator-only case routes refuse parties by role (403) before looking at the case.
    Row("POST", "/api/cases/{case_id}/status",      (401, 403, 200, 404, 403, 403, 403, 403),
        body=lambda c: {"status": "mediating"}),
    # 409 for its mediator: the world's application under way fixes the venue (the 200 is
    # in tests/confirmation/test_competence.py); everyone else is refused first.
    Row("PATCH", "/api/cases/{case_id}",            (401, 403, 409, 404, 403, 403, 403, 403),
        body=lambda c: {"subject_region": "140403"}),
    # The court's judges read the case's record (audit, rooms, recordings) once their court
    # has accepted its application (tests/confirmation/test_readers.py: not before, and a
    # judge of another court never); they enter no mediation room nor run it.
    Row("GET",  "/api/cases/{case_id}/audit",       (401, 403, 200, 404, 200, 403, 403, 403)),
    Row("POST", "/api/cases/{case_id}/invitations", (401, 403, 201, 404, 403, 403, 403, 403),
        body=lambda c: {"party_id": c.world.applicant.id}),
    Row("GET",  "/api/cases/{case_id}/invitations", (401, 403, 200, 404, 403, 403, 403, 403)),
    Row("POST", "/api/cases/{case_id}/invitations/{invitation_id}/revoke",
                                                    (401, 403, 200, 404, 403, 403, 403, 403)),
    # The case has a meeting already (the cast's room): the mediator, let through, meets the
    # one-meeting rule (tests/rooms/test_lifecycle.py has the 201s).
    Row("POST", "/api/cases/{case_id}/rooms",       (401, 403, 409, 404, 403, 403, 403, 403),
        body=lambda _: {"kind": "mediation"}),
    Row("GET",  "/api/cases/{case_id}/rooms",       (401, 403, 200, 404, 200, 403, 200, 404)),
    Row("GET",  "/api/cases/{case_id}/consents",    (401, 403, 200, 404, 403, 403, 403, 403)),
    Row("GET",  "/api/rooms/{room_id}",             (401, 403, 200, 404, 200, 403, 200, 404)),
    Row("POST", "/api/rooms/{room_id}/recording",   (401, 403, 200, 404, 403, 403, 403, 404),
        body=lambda _: {"action": "stop"}),
    Row("GET",  "/api/rooms/{room_id}/recordings",  (401, 403, 200, 404, 200, 403, 403, 404)),
    Row("GET",  "/api/rooms/{room_id}/recordings/{recording_id}/segments/{seq}",
                                                    (401, 403, 200, 404, 200, 403, 403, 404)),
    Row("PUT",  "/api/rooms/{room_id}/schedule",    (401, 403, 200, 404, 403, 403, 403, 404),
        body=lambda _: {"scheduled_for": (now() + timedelta(days=1)).isoformat()}),
    Row("GET",  "/api/rooms/{room_id}/calendar.ics",
                                                    (401, 403, 200, 404, 403, 403, 200, 404)),
    Row("POST", "/api/rooms/{room_id}/close",       (401, 403, 200, 404, 403, 403, 403, 404)),
    Row("GET",  "/api/templates",                   (401, 403, 200, 200, 403, 403, 403, 403)),
    # The cast's case has an agreement (a draft) and is still in intake: the mediator, let
    # through, meets the one-agreement rule and, sending it for signing, the case's state;
    # a signature meets the draft (tests/agreements has the 201s).
    Row("POST", "/api/cases/{case_id}/agreement",   (401, 403, 409, 404, 403, 403, 403, 403),
        body=lambda _: {"template": "debt"}),
    Row("GET",  "/api/cases/{case_id}/agreement",   (401, 403, 200, 404, 403, 403, 200, 404)),
    Row("GET",  "/api/agreements/{agreement_id}",   (401, 403, 200, 404, 403, 403, 200, 404)),
    Row("PUT",  "/api/agreements/{agreement_id}",   (401, 403, 200, 404, 403, 403, 403, 403),
        body=lambda c: {"base_version": 1, "content": {"facts": "改写的事实"}}),
    Row("GET",  "/api/agreements/{agreement_id}/versions",
                                                    (401, 403, 200, 404, 403, 403, 200, 404)),
    Row("GET",  "/api/agreements/{agreement_id}/versions/{number}",
                                                    (401, 403, 200, 404, 403, 403, 200, 404)),
    Row("GET",  "/api/agreements/{agreement_id}/diff",
                                                    (401, 403, 200, 404, 403, 403, 200, 404),
        query="?from=1&to=1"),
    Row("POST", "/api/agreements/{agreement_id}/send-for-signing",
                                                    (401, 403, 409, 404, 403, 403, 403, 403)),
    Row("POST", "/api/agreements/{agreement_id}/signatures",
                                                    (401, 403, 409, 404, 403, 403, 409, 404),
        body=lambda c: {"version": 1, "content_sha256": c.agreement_sha256,
                        "method": "typed", "typed_name": "签名"}),
    Row("POST", "/api/agreements/{agreement_id}/void",
                                                    (401, 403, 200, 404, 403, 403, 403, 403),
        body=lambda _: {"reason": "双方另行协商"}),
    Row("GET",  "/api/agreements/{agreement_id}/pdf",
                                                    (401, 403, 200, 404, 403, 403, 200, 404)),
    # Anyone may verify: no PDF in the body is the same 422 for every caller.
    Row("POST", "/api/documents/verify",            (422, 422, 422, 422, 422, 422, 422, 422),
        public=True),
    Row("GET",  "/api/documents/{sha256}",          (401, 403, 200, 404, 403, 403, 200, 404)),
    # Confirmation. The cast's application is accepted and claimed by the judge, while the
    # agreement is a draft: a new application meets the draft (409), consents and
    # acceptance the application's state, the claim its holder, a confirmation the missing
    # session record (tests/confirmation has the 200s).
    Row("GET",  "/api/cases/{case_id}/courts",      (401, 403, 200, 404, 403, 403, 200, 404)),
    Row("POST", "/api/cases/{case_id}/confirmation",
                                                    (401, 403, 409, 404, 403, 403, 409, 404),
        body=lambda c: {"court_id": c.world.court.id}),
    Row("GET",  "/api/confirmations/{application_id}",
                                                    (401, 403, 200, 404, 200, 200, 200, 404)),
    # The application's materials: the court's judges and clerks too (the cast's issued
    # document stands in for its mediation record).
    Row("GET",  "/api/confirmations/{application_id}/documents/{sha256}",
                                                    (401, 403, 200, 404, 200, 200, 200, 404)),
    Row("POST", "/api/confirmations/{application_id}/consent",
                                                    (401, 403, 403, 403, 403, 403, 409, 404)),
    Row("POST", "/api/confirmations/{application_id}/accept",
                                                    (401, 403, 403, 403, 409, 409, 403, 403),
        body=lambda _: {"accept": True}),
    Row("POST", "/api/confirmations/{application_id}/claim",
                                                    (401, 403, 403, 403, 409, 403, 403, 403)),
    Row("POST", "/api/confirmations/{application_id}/decision",
                                                    (401, 403, 403, 403, 409, 403, 403, 403),
        body=lambda _: {"outcome": "confirmed"}),
    Row("POST", "/api/confirmations/{application_id}/withdraw",
                                                    (401, 403, 403, 403, 403, 403, 200, 404),
        body=lambda _: {"reason": "撤回"}),
    Row("POST", "/api/confirmations/{application_id}/supplement",
                                                    (401, 403, 403, 403, 403, 403, 409, 404),
        body=lambda _: {"note": "补充材料"}),
    Row("GET",  "/api/courts/{court_id}/queue",     (401, 403, 403, 403, 200, 200, 403, 403)),
    # The claiming judge opens the joint session (its room, the parties' links); the record
    # needs the session first, a party's confirmation a record.
    Row("POST", "/api/confirmations/{application_id}/session",
                                                    (401, 403, 403, 403, 201, 403, 403, 403)),
    Row("PUT",  "/api/confirmations/{application_id}/session/record",
                                                    (401, 403, 403, 403, 409, 403, 403, 403),
        body=lambda _: {"notes": "笔录"}),
    Row("POST", "/api/confirmations/{application_id}/session/record/confirm",
                                                    (401, 403, 403, 403, 403, 403, 409, 404),
        body=lambda _: {"notes_sha256": "0" * 64}),
    # The court systems' queue API answers only a court token (tests/confirmation/test_ecf.py:
    # its own court's filings, 404 for another's, 401 once revoked): no caller here has one,
    # and a staff or party session token, as bearer or cookie, is no court token (401).
    Row("GET",  "/api/ecf/courts/{court_id}/filings",
                                                    (401, 401, 401, 401, 401, 401, 401, 401)),
    Row("GET",  "/api/ecf/filings/{application_id}",
                                                    (401, 401, 401, 401, 401, 401, 401, 401)),
    Row("GET",  "/api/ecf/filings/{application_id}/documents/{sha256}",
                                                    (401, 401, 401, 401, 401, 401, 401, 401)),
    Row("POST", "/api/ecf/filings/{application_id}/review",
                                                    (401, 401, 401, 401, 401, 401, 401, 401),
        body=lambda _: {"accepted": True}),
    Row("POST", "/api/ecf/filings/{application_id}/decision",
                                                    (401, 401, 401, 401, 401, 401, 401, 401),
        body=lambda _: {"outcome": "confirmed"}),
]
# A socket answers with a close code: 4401 not signed in, 4403 wrong role, 4404 not theirs.
SOCKETS = [
    Row("WS",   "/api/rooms/{room_id}/signal",      (4401, 4403, 0, 4404, 4403, 4403, 0, 4404)),
]
# fmt: on


def api_routes(app: Any) -> set[str]:
    """Every route under /api as "METHOD /path" ("WS /path" for sockets); HEAD is implied.

    FastAPI >= 0.16x keeps included routers as lazy ``_IncludedRouter`` entries in
    ``app.routes``, so the effective routes are flattened with ``iter_route_contexts``.
    """
    iterate = getattr(routing, "iter_route_contexts", None)
    contexts = list(iterate(app.routes)) if iterate else list(app.routes)
    found: set[str] = set()
    for ctx in contexts:
        route = getattr(ctx, "original_route", ctx)
        path = ctx.path or ""
        if not (path == "/api" or path.startswith("/api/")):
            continue
        if isinstance(route, WebSocketRoute | routing.APIWebSocketRoute):
            found.add(f"WS {path}")
            continue
        methods = ctx.methods
        assert methods, f"{path}: a route under /api without methods ({type(route).__name__})"
        found.update(f"{m} {path}" for m in methods - {"HEAD"})
    return found


def test_every_api_route_has_a_matrix_row(app: Any) -> None:
    """A new /api route without a row here fails; so does a row for a route that is gone."""
    routes = api_routes(app)
    rows = {str(row) for row in MATRIX + SOCKETS}
    assert any(r.startswith("POST /api/") for r in routes), "found no API routes at all"
    assert routes - rows == set(), "routes without a matrix row"
    assert rows - routes == set(), "matrix rows for routes that do not exist"
    assert len(rows) == len(MATRIX + SOCKETS), "duplicate matrix rows"
    assert all(len(row.expect) == len(CALLERS) for row in MATRIX + SOCKETS)


@pytest.mark.parametrize("row", SOCKETS, ids=str)
async def test_socket_matrix(
    client: httpx.AsyncClient, factory: Factory, server: Server, row: Row
) -> None:
    """Each caller is welcomed (0) or refused with its close code, and told nothing more."""
    cast = await make_cast(client, factory)
    problems = []
    for who, wanted in zip(CALLERS, row.expect, strict=True):
        headers = bearer(cast.tokens[who])
        url = server.ws_base + cast.url(row.path)
        async with websockets.connect(url, additional_headers=headers) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if wanted == 0:
                got = 0 if first["type"] == "welcome" else -1
            else:
                with contextlib.suppress(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 10)
                got = ws.close_code or -1
                if first["type"] != "error":
                    problems.append(f"{who}: first message {first['type']}, wanted error")
                if leaks := [s for s in cast.secrets if s in json.dumps(first, ensure_ascii=False)]:
                    problems.append(f"{who}: refusal leaks {leaks}")
        if got != wanted:
            problems.append(f"{who}: {got} (wanted {wanted})")
    assert not problems, f"{row}:\n" + "\n".join(problems)


@pytest.mark.parametrize("row", MATRIX, ids=str)
async def test_api_matrix(client: httpx.AsyncClient, factory: Factory, row: Row) -> None:
    """Each caller gets exactly its status; refusals and outsiders' answers hold no case data."""
    cast = await make_cast(client, factory)
    problems = []
    for who, wanted in zip(CALLERS, row.expect, strict=True):
        token = cast.tokens[who]
        if row.ends_session and token is not None:
            token = await fresh_session(client, factory, cast, who)
        client.cookies.clear()  # the bearer token (or nothing) is the only credential
        r = await client.request(
            row.method,
            cast.url(row.path) + row.query,
            headers=bearer(token),
            json=row.body(cast) if row.body else None,
        )
        if r.status_code != wanted:
            problems.append(f"{who}: {r.status_code} (wanted {wanted}) {r.text[:160]}")
        outsider = r.status_code >= 400 or who not in ENTITLED
        if outsider and not row.public and (leaks := leaked(cast, r)):
            problems.append(f"{who}: {r.status_code} body leaks {leaks}")
    assert not problems, f"{row}:\n" + "\n".join(problems)


async def fresh_session(client: httpx.AsyncClient, factory: Factory, cast: Cast, who: str) -> str:
    if who in cast.joins:
        return bearer_token(await factory.party_headers(client, cast.joins[who]))
    return await staff_session(factory, cast.staff[who])


@pytest.mark.parametrize(
    "path",
    [
        "/api/cases/{id}",
        "/api/cases/{id}/audit",
        "/api/cases/{id}/invitations",
    ],
)
@pytest.mark.parametrize("who", ["med2", "party2"])
async def test_refusals_do_not_reveal_that_a_case_exists(
    client: httpx.AsyncClient, factory: Factory, path: str, who: str
) -> None:
    """An outsider gets the very same answer for a real case as for one that does not exist."""
    cast = await make_cast(client, factory)
    headers = bearer(cast.tokens[who])
    real = await client.get(path.format(id=cast.world.case.id), headers=headers)
    missing = await client.get(path.format(id=NO_SUCH_CASE), headers=headers)
    assert real.status_code in (403, 404)
    assert (real.status_code, real.json()) == (missing.status_code, missing.json())


@pytest.mark.parametrize("case_id", [2**31, 2**63])
async def test_out_of_range_case_id_is_refused_not_a_crash(
    client: httpx.AsyncClient, factory: Factory, world: Made, case_id: int
) -> None:
    """An id no case can have is "no such case" (or malformed input), never a server error."""
    headers = bearer(await staff_session(factory, world.mediator))
    for path in (f"/api/cases/{case_id}", f"/api/cases/{case_id}/audit", f"/cases/{case_id}"):
        r = await client.get(path, headers=headers)
        assert r.status_code in (404, 422), path


# -- pages ----------------------------------------------------------------------------------

LOGIN = "/?next={path}"  # an anonymous visitor is sent to sign in, then back
PARTY = "/my-case"


@dataclass(frozen=True)
class Page:
    path: str
    expect: tuple[int | str, ...]  # a status, or a str: 303 to that location

    def __str__(self) -> str:
        return self.path


# fmt: off
PAGES = [
    #                        anon   admin    med       med2      judge    clerk    party  party2
    Page("/",               (200,   "/home", "/cases", "/cases", "/home", "/home", PARTY, PARTY)),
    Page("/home",           (LOGIN, 200,     "/cases", "/cases", 200,     200,     403,   403)),
    Page("/cases",          (LOGIN, 403,     200,      200,      403,     403,     403,   403)),
    Page("/cases/new",      (LOGIN, 403,     200,      200,      403,     403,     403,   403)),
    Page("/cases/{case_id}", (LOGIN, 403,    200,      404,      403,     403,     403,   403)),
    Page("/my-case",        (401,   403,     403,      403,      403,     403,     200,   200)),
    Page("/verify",         (200,   200,     200,      200,      200,     200,     200,   200)),
    Page("/cases/{case_id}/agreement",
                            (LOGIN, 403,     200,      404,      403,     403,     403,   403)),
    # A party signs on it; the mediator is sent on to the editor (303); no session: the way
    # back in is the join link (401).
    Page("/agreements/{agreement_id}/sign",
                            (401,   403,     303,      404,      403,     403,     200,   404)),
]
# fmt: on


@pytest.mark.parametrize("page", PAGES, ids=str)
async def test_page_matrix(client: httpx.AsyncClient, factory: Factory, page: Page) -> None:
    """Pages signed in by cookie: redirects, error pages and content, per caller."""
    cast = await make_cast(client, factory)
    path = cast.url(page.path)
    problems = []
    for who, wanted in zip(CALLERS, page.expect, strict=True):
        client.cookies.clear()
        token = cast.tokens[who]
        cookie = {"Cookie": f"{SESSION_COOKIE}={token}"} if token else {}
        r = await client.get(path, headers=cookie, follow_redirects=False)
        if isinstance(wanted, str):
            where = wanted.format(path=quote(path, safe=""))
            got = (r.status_code, r.headers.get("location"))
            if got != (303, where):
                problems.append(f"{who}: {got} (wanted 303 to {where})")
        elif r.status_code != wanted:
            problems.append(f"{who}: {r.status_code} (wanted {wanted})")
        elif wanted >= 400 and 'data-testid="error-message"' not in r.text:
            problems.append(f"{who}: {wanted} without the error page")
        if (r.status_code >= 400 or who not in ENTITLED) and (leaks := leaked(cast, r)):
            problems.append(f"{who}: {r.status_code} page leaks {leaks}")
    assert not problems, f"{page}:\n" + "\n".join(problems)


# -- CSRF -----------------------------------------------------------------------------------


async def test_cookie_post_needs_the_sessions_csrf_token(
    client: httpx.AsyncClient, world: Made
) -> None:
    """A cookie-signed POST is refused without X-CSRF-Token, or with another session's."""
    url = f"/api/cases/{world.case.id}/invitations"
    body = {"party_id": world.applicant.id}
    other = await client.post(
        "/api/auth/login",
        json={"username": world.other_mediator.username, "password": PASSWORD},
    )
    login = await client.post(
        "/api/auth/login", json={"username": world.mediator.username, "password": PASSWORD}
    )
    assert login.status_code == 200 and client.cookies.get(SESSION_COOKIE)

    missing = await client.post(url, json=body)
    stolen = await client.post(url, json=body, headers={CSRF_HEADER: other.json()["csrf_token"]})
    right = await client.post(url, json=body, headers={CSRF_HEADER: login.json()["csrf_token"]})

    assert missing.status_code == 403, missing.text
    assert stolen.status_code == 403, stolen.text
    assert right.status_code == 201, right.text
    listed = await client.get(url)  # a cookie GET needs no token
    assert len(listed.json()) == 1, "a refused POST still wrote"


async def test_bearer_requests_need_no_csrf_token(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """API clients with a bearer token (and no cookie) write without any CSRF header."""
    headers = await factory.login(client, world.mediator)
    client.cookies.clear()
    r = await client.post(
        f"/api/cases/{world.case.id}/invitations",
        json={"party_id": world.applicant.id},
        headers=headers,
    )
    assert r.status_code == 201, r.text


async def test_party_cookie_session_is_csrf_protected(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """A party's browser session cannot be signed out cross-site; with its token it can."""
    join = await factory.invite(world.mediator, world.case, world.applicant)
    assert (await client.get(f"/join/{join}")).status_code == 303
    me = await client.get("/api/me")
    assert me.status_code == 200 and me.json()["kind"] == "party"

    refused = await client.post("/api/auth/logout")
    assert refused.status_code == 403
    assert (await client.get("/api/me")).status_code == 200, "a refused logout ended the session"

    done = await client.post("/api/auth/logout", headers={CSRF_HEADER: me.json()["csrf_token"]})
    assert done.status_code == 204
    assert (await client.get("/api/me")).status_code == 401


# -- what a party sees of the others ---------------------------------------------------------------


def test_one_view_decides_what_of_a_party_the_caller_sees() -> None:
    """PartyOut.seen_by: staff and the party themself see it all; another party of the case
    sees name and role only (API.md), never ID number, phone, address or who acts for them."""
    party = Party(
        id=7,
        case_id=1,
        role=PartyRole.respondent,
        kind=PartyKind.person,
        name="李四",
        id_number=valid_id(),
        phone="13800000007",
        address="英雄中路2号",
        agent_name="赵律师",
        representative="李总",
    )
    for viewer in (None, 7):
        seen = PartyOut.seen_by(party, viewer_party_id=viewer)
        assert seen.phone == party.phone and seen.address == party.address
        assert seen.id_number == mask_id_number(party.id_number)
    other = PartyOut.seen_by(party, viewer_party_id=8)
    assert (other.id_number, other.phone, other.address) == (None, None, None)
    assert (other.agent_name, other.representative) == (None, None)
    assert (other.name, other.role) == ("李四", PartyRole.respondent)
    assert PartyOut.seen_by(party, viewer_party_id=7).agent_name == "赵律师"


async def test_the_api_and_the_party_page_show_the_other_side_alike(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """The respondent, through the API and on their page: the applicant's name and role, but
    not their ID number or phone; their own ID number, masked."""
    client.cookies.clear()
    headers = await factory.party_headers(
        client, await factory.invite(world.mediator, world.case, world.respondent)
    )
    assert world.applicant.id_number and world.applicant.phone and world.respondent.id_number
    r = await client.get(f"/api/cases/{world.case.id}", headers=headers)
    assert r.status_code == 200, r.text
    parties = {p["id"]: p for p in r.json()["parties"]}
    applicant, me = parties[world.applicant.id], parties[world.respondent.id]
    assert applicant["name"] == world.applicant.name
    assert (applicant["id_number"], applicant["phone"], applicant["address"]) == (None, None, None)
    assert me["id_number"] == mask_id_number(world.respondent.id_number)

    page = await client.get("/my-case", headers=headers)
    assert page.status_code == 200, page.text
    assert world.applicant.name in page.text and world.respondent.name in page.text
    assert me["id_number"] in page.text
    assert page.text.count("*" * 8) == 1, "an ID number other than the party's own is shown"
    assert world.applicant.phone not in page.text
    assert world.applicant.id_number[-4:] not in page.text.replace(me["id_number"], "")

    staff = await factory.login(client, world.mediator)
    client.cookies.clear()
    r = await client.get(f"/api/cases/{world.case.id}", headers=staff)
    seen = {p["id"]: p for p in r.json()["parties"]}[world.applicant.id]
    assert seen["phone"] == world.applicant.phone
    assert seen["id_number"] == mask_id_number(world.applicant.id_number)
