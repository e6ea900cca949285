"""Join links: how a party gets in without an account, and every way a link is refused.

A link is ``{public_url}/join/{token}``; the token is the only credential a party has, so it
must expire, be revocable (ending the sessions it opened), open exactly one party of one
case, be stored only as a hash, and leave a trace in the case's audit log when refused.
"""

from __future__ import annotations

import hashlib
import html
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine
from sqlmodel import col, select

from rooms import service as rooms_service
from rooms.models import RoomStatus
from service import audit
from service.auth import SESSION_COOKIE
from service.i18n import gettext
from service.models import AuditEvent, AuthSession, Invitation
from service.router import REFUSALS
from tests.conftest import Factory, Made

LANGUAGE = "zh_Hans"  # what a caller gets without ?lang= or a lang cookie


def refusal(why: str) -> str:
    return gettext(LANGUAGE, REFUSALS[why])


async def create_link(
    client: httpx.AsyncClient, headers: dict[str, str], case_id: int | None, party_id: int | None
) -> tuple[int, str]:
    """POST the link as the mediator; returns (invitation id, raw token)."""
    r = await client.post(
        f"/api/cases/{case_id}/invitations", json={"party_id": party_id}, headers=headers
    )
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    assert url.startswith("http://testserver/join/")
    return r.json()["id"], url.rsplit("/", 1)[-1]


async def mediator_headers(client: httpx.AsyncClient, factory: Factory, world: Made) -> dict:
    headers = await factory.login(client, world.mediator)
    client.cookies.clear()  # the mediator works by bearer token; cookies are the party's
    return headers


async def audit_events(
    client: httpx.AsyncClient, headers: dict[str, str], case_id: int | None
) -> list[dict]:
    r = await client.get(f"/api/cases/{case_id}/audit", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_link_opens_the_party_page(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """Opening the link sets a party session cookie and lands on /my-case, which greets them."""
    headers = await mediator_headers(client, factory, world)
    _, token = await create_link(client, headers, world.case.id, world.applicant.id)

    opened = await client.get(f"/join/{token}", follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"] == "/my-case"
    set_cookie = opened.headers["set-cookie"].lower()
    assert set_cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie

    page = await client.get("/my-case")
    assert page.status_code == 200
    assert world.applicant.name in page.text
    assert world.case.title in page.text


async def test_link_leads_straight_into_a_meeting_that_is_on(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """While the mediator has a meeting open, the link skips the case page and opens the
    room; a room not yet opened, or closed again, leaves the case page as the landing."""
    headers = await mediator_headers(client, factory, world)
    r = await client.post(f"/api/cases/{world.case.id}/rooms", json={}, headers=headers)
    assert r.status_code == 201, r.text
    room_id = r.json()["id"]

    async def landing() -> str:
        _, token = await create_link(client, headers, world.case.id, world.applicant.id)
        opened = await client.get(f"/join/{token}", follow_redirects=False)
        assert opened.status_code == 303, opened.text
        return opened.headers["location"]

    assert await landing() == "/my-case"  # scheduled: nobody is there yet

    async with factory.uow() as s:
        room = await rooms_service.get_room(s, room_id)
        await rooms_service.set_status(s, room=room, to=RoomStatus.open, actor=audit.CLI)
    assert await landing() == f"/rooms/{room_id}"
    page = await client.get(f"/rooms/{room_id}")
    assert page.status_code == 200 and 'data-testid="prejoin"' in page.text

    r = await client.post(f"/api/rooms/{room_id}/close", headers=headers)
    assert r.status_code == 200, r.text
    assert await landing() == "/my-case"


async def test_api_clients_exchange_the_token_for_a_bearer(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """POST /api/auth/party returns a bearer token scoped to that party and case."""
    headers = await mediator_headers(client, factory, world)
    _, token = await create_link(client, headers, world.case.id, world.respondent.id)

    r = await client.post("/api/auth/party", json={"token": token})
    assert r.status_code == 200, r.text
    assert r.json()["party"]["id"] == world.respondent.id
    assert r.json()["case_id"] == world.case.id
    assert "set-cookie" not in r.headers

    me = await client.get("/api/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert me.status_code == 200
    assert me.json()["kind"] == "party"
    assert me.json()["party"]["name"] == world.respondent.name


async def test_expired_link_is_refused_and_its_sessions_end(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """Eight days on, a 7-day link gets the 401 page and 401 JSON; open sessions are over."""
    headers = await mediator_headers(client, factory, world)
    _, token = await create_link(client, headers, world.case.id, world.applicant.id)
    party = await factory.party_headers(client, token)

    with time_machine.travel(datetime.now(UTC) + timedelta(days=8), tick=True):
        page = await client.get(f"/join/{token}", follow_redirects=False)
        api = await client.post("/api/auth/party", json={"token": token})
        me = await client.get("/api/me", headers=party)

    assert page.status_code == 401
    assert html.escape(refusal("expired")) in page.text
    assert "set-cookie" not in page.headers
    assert api.status_code == 401
    assert api.json() == {"detail": refusal("expired")}
    assert me.status_code == 401


async def test_revoked_link_is_refused_and_ends_open_sessions(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """Revoking a link ends the bearer and cookie sessions it opened; the link stops working.

    The other party's link is untouched: revocation is per link.
    """
    headers = await mediator_headers(client, factory, world)
    invitation_id, token = await create_link(client, headers, world.case.id, world.applicant.id)
    _, other_token = await create_link(client, headers, world.case.id, world.respondent.id)
    bearer = await factory.party_headers(client, token)
    other = await factory.party_headers(client, other_token)
    assert (await client.get(f"/join/{token}")).status_code == 303  # a browser session too
    assert (await client.get("/api/me")).status_code == 200

    r = await client.post(
        f"/api/cases/{world.case.id}/invitations/{invitation_id}/revoke", headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "revoked"

    assert (await client.get("/api/me", headers=bearer)).status_code == 401
    assert (await client.get("/api/me")).status_code == 401  # the cookie session
    assert (await client.get("/my-case")).status_code == 401
    again = await client.get(f"/join/{token}", follow_redirects=False)
    assert again.status_code == 401
    assert html.escape(refusal("revoked")) in again.text
    api = await client.post("/api/auth/party", json={"token": token})
    assert (api.status_code, api.json()) == (401, {"detail": refusal("revoked")})
    assert (await client.get("/api/me", headers=other)).status_code == 200


async def test_unknown_token_is_refused(client: httpx.AsyncClient) -> None:
    """A token that was never issued opens nothing, on the page or the API."""
    page = await client.get("/join/not-a-real-token", follow_redirects=False)
    assert page.status_code == 401
    assert html.escape(refusal("unknown")) in page.text
    assert "set-cookie" not in page.headers
    api = await client.post("/api/auth/party", json={"token": "not-a-real-token"})
    assert (api.status_code, api.json()) == (401, {"detail": refusal("unknown")})


async def test_party_session_is_bound_to_its_own_case(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """A session from case A's link gets 404 on case B, even within the same committee."""
    case_b, _ = await factory.case(world.mediator)
    token = await factory.invite(world.mediator, world.case, world.applicant)
    party = await factory.party_headers(client, token)

    assert (await client.get(f"/api/cases/{world.case.id}", headers=party)).status_code == 200
    other = await client.get(f"/api/cases/{case_b.id}", headers=party)
    assert other.status_code == 404
    assert case_b.title not in other.text
    listed = await client.get("/api/cases", headers=party)
    assert [c["id"] for c in listed.json()["items"]] == [world.case.id]


async def test_only_a_hash_of_the_token_is_stored_or_logged(
    client: httpx.AsyncClient,
    factory: Factory,
    world: Made,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database keeps sha256(token), never the token; neither do the audit log or logs."""
    headers = await mediator_headers(client, factory, world)
    with caplog.at_level(logging.DEBUG):
        invitation_id, token = await create_link(client, headers, world.case.id, world.applicant.id)
        exchanged = await client.post("/api/auth/party", json={"token": token})
        assert (await client.get(f"/join/{token}")).status_code == 303

    async with factory.uow() as s:
        invitation = await s.get(Invitation, invitation_id)
        sessions = (
            await s.exec(select(AuthSession).where(AuthSession.invitation_id == invitation_id))
        ).all()
        events = (
            await s.exec(select(AuditEvent).where(col(AuditEvent.case_id) == world.case.id))
        ).all()
    assert invitation is not None
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(invitation.model_dump())
    assert len(sessions) == 2
    assert all(token not in repr(a.model_dump()) for a in sessions)
    assert all(exchanged.json()["token"] not in repr(a.model_dump()) for a in sessions)
    assert all(token not in e.data for e in events)
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert server_side, "nothing was logged; the check below would prove nothing"
    assert all(token not in r.getMessage() + repr(r.__dict__) for r in server_side)


async def test_refused_attempts_are_in_the_case_audit_log(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """Expired and revoked links that are tried show up as 'invitation.refused' events."""
    headers = await mediator_headers(client, factory, world)
    expired_id, expired = await create_link(client, headers, world.case.id, world.applicant.id)
    revoked_id, revoked = await create_link(client, headers, world.case.id, world.respondent.id)
    await client.post(
        f"/api/cases/{world.case.id}/invitations/{revoked_id}/revoke", headers=headers
    )

    assert (await client.post("/api/auth/party", json={"token": revoked})).status_code == 401
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8), tick=True):
        assert (await client.get(f"/join/{expired}")).status_code == 401

    refused = [
        (e["data"]["invitation_id"], e["data"]["why"], e["actor_kind"])
        for e in await audit_events(client, headers, world.case.id)
        if e["action"] == "invitation.refused"
    ]
    assert sorted(refused) == sorted(
        [(revoked_id, "revoked", "anonymous"), (expired_id, "expired", "anonymous")]
    )


async def test_no_link_for_a_party_of_another_case(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """party_id must belong to the case in the path: 404, and no link is made."""
    _, (stranger, _) = await factory.case(world.mediator)
    headers = await mediator_headers(client, factory, world)
    r = await client.post(
        f"/api/cases/{world.case.id}/invitations", json={"party_id": stranger.id}, headers=headers
    )
    assert r.status_code == 404
    listed = await client.get(f"/api/cases/{world.case.id}/invitations", headers=headers)
    assert listed.json() == []


async def test_revoke_needs_the_links_own_case(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    """A link of case B cannot be revoked through case A's path (404; it stays active)."""
    case_b, (b_applicant, _) = await factory.case(world.mediator)
    headers = await mediator_headers(client, factory, world)
    b_invitation, b_token = await create_link(client, headers, case_b.id, b_applicant.id)
    r = await client.post(
        f"/api/cases/{world.case.id}/invitations/{b_invitation}/revoke", headers=headers
    )
    assert r.status_code == 404
    assert (await client.post("/api/auth/party", json={"token": b_token})).status_code == 200


@pytest.mark.parametrize("ending", ["failed", "withdrawn"])
async def test_no_link_for_an_ended_case(
    client: httpx.AsyncClient, factory: Factory, world: Made, ending: str
) -> None:
    """A case that has ended takes no new links: 409, and the message names its state."""
    headers = await mediator_headers(client, factory, world)
    ended = await client.post(
        f"/api/cases/{world.case.id}/status",
        json={"status": ending, "reason": "双方不同意调解"},
        headers=headers,
    )
    assert ended.status_code == 200, ended.text
    r = await client.post(
        f"/api/cases/{world.case.id}/invitations",
        json={"party_id": world.applicant.id},
        headers=headers,
    )
    assert r.status_code == 409
    assert ending in r.json()["detail"]
