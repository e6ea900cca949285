"""The judge's joint session through the API: the room and the parties' links, the record
(checklist and notes), each party's confirmation bound to the notes' hash, and a
confirmation refused until all of that is complete."""

from __future__ import annotations

import httpx

from tests.confirmation.helpers import CHECKED, another_judge, claimed, staff_headers
from tests.conftest import Factory


async def test_the_claiming_judge_opens_the_session_with_links_for_every_party(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await claimed(client, factory)
    world = applied.signing.world
    other = await staff_headers(client, factory, await another_judge(factory, world.court))
    url = f"/api/confirmations/{applied.id}/session"
    assert (await client.post(url, headers=other)).status_code == 403
    assert (await client.post(url, headers=applied.signing.applicant)).status_code == 403
    assert (await client.post(url, headers=applied.clerk)).status_code == 403

    r = await client.post(url, headers=applied.judge)
    assert r.status_code == 201, r.text
    opened = r.json()
    room = opened["room"]
    assert room["kind"] == "confirmation" and room["case_id"] == world.case.id
    links = {link["party_id"]: link for link in opened["links"]}
    assert set(links) == {world.applicant.id, world.respondent.id}
    assert all("/join/" in link["url"] for link in links.values())
    assert opened["session"]["room_id"] == room["id"] and opened["session"]["notes"] == ""

    # The respondent opens their link; the applicant does not, before the judge reopens.
    token = links[world.respondent.id]["url"].rsplit("/", 1)[-1]
    unopened = links[world.applicant.id]["url"].rsplit("/", 1)[-1]
    client.cookies.clear()
    assert (await client.get(f"/join/{token}")).status_code == 303
    client.cookies.clear()

    again = await client.post(url, headers=applied.judge)
    assert again.status_code == 200 and again.json()["room"]["id"] == room["id"]
    assert again.json()["links"][0]["url"] != opened["links"][0]["url"], "fresh links"
    # The superseded link nobody opened is revoked; the opened one still leads in.
    r = await client.post("/api/auth/party", json={"token": unopened})
    assert r.status_code == 401, r.text
    fresh = {link["party_id"]: link for link in again.json()["links"]}
    r = await client.post(
        "/api/auth/party", json={"token": fresh[world.applicant.id]["url"].rsplit("/", 1)[-1]}
    )
    assert r.status_code == 200, r.text
    client.cookies.clear()

    # The link leads the party in; the judge hosts the room, another judge does not.
    assert (await client.get(f"/join/{token}")).status_code == 303
    heading = f'<p class="court" data-testid="room-heading">{world.court.name}</p>'
    r = await client.get(f"/rooms/{room['id']}")  # the party, by the link's session
    assert r.status_code == 200 and heading in r.text, r.text
    client.cookies.clear()
    r = await client.get(f"/rooms/{room['id']}", headers=applied.judge)
    assert r.status_code == 200 and heading in r.text, "the judge's view names the court"
    r = await client.get(f"/rooms/{room['id']}", headers=other)
    assert r.status_code == 404
    r = await client.post(f"/api/rooms/{room['id']}/close", headers=other)
    assert r.status_code == 404


async def test_the_record_is_strict_and_bound_to_what_the_parties_read(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    applied = await claimed(client, factory)
    world = applied.signing.world
    a, b = str(world.applicant.id), str(world.respondent.id)
    base = f"/api/confirmations/{applied.id}"
    decide = {"outcome": "confirmed"}
    r = await client.post(f"{base}/decision", json=decide, headers=applied.judge)
    assert r.status_code == 409 and ("session" in r.text.lower() or "笔录" in r.text), r.text
    r = await client.put(f"{base}/session/record", json={"notes": "x"}, headers=applied.judge)
    assert r.status_code == 409, r.text  # no session opened yet
    assert (await client.post(f"{base}/session", headers=applied.judge)).status_code == 201

    for bad, field in (
        ({"checklist": {a: {**CHECKED, "identity": "yes"}}}, "identity"),
        ({"checklist": {a: {**CHECKED, "extra": True}}}, "extra"),
        ({"checklist": {a: {"identity": True}}}, "capacity"),
        ({"checklist": {"999999": CHECKED}}, "999999"),
        ({"notes": "x" * 20001}, "notes"),
        ({"notes": 5}, "notes"),
        ({"notes": "a\x00b"}, "notes"),
    ):
        r = await client.put(f"{base}/session/record", json=bad, headers=applied.judge)
        assert r.status_code == 422, (bad, r.text)
        assert any(field in [str(p) for p in e["loc"]] for e in r.json()["detail"]), r.text
    other = await staff_headers(
        client, factory, await another_judge(factory, applied.signing.world.court)
    )
    r = await client.put(f"{base}/session/record", json={"checklist": {a: CHECKED}}, headers=other)
    assert r.status_code == 403

    r = await client.put(
        f"{base}/session/record",
        json={"checklist": {a: CHECKED, b: {**CHECKED, "sham_warning": False}}, "notes": "一"},
        headers=applied.judge,
    )
    assert r.status_code == 200, r.text
    first = r.json()["notes_sha256"]
    r = await client.post(f"{base}/decision", json=decide, headers=applied.judge)
    assert r.status_code == 409 and world.respondent.name in r.text, r.text

    r = await client.put(
        f"{base}/session/record",
        json={"checklist": {a: CHECKED, b: CHECKED}, "notes": "一"},
        headers=applied.judge,
    )
    assert r.json()["notes_sha256"] == first  # the same notes, the same hash
    for party in (applied.signing.applicant, applied.signing.respondent):
        r = await client.post(
            f"{base}/session/record/confirm", json={"notes_sha256": first}, headers=party
        )
        assert r.status_code == 200, r.text
    r = await client.post(
        f"{base}/session/record/confirm", json={"notes_sha256": first}, headers=applied.judge
    )
    assert r.status_code == 403

    # The judge changes the notes: the confirmations were of the old text.
    r = await client.put(
        f"{base}/session/record",
        json={"checklist": {a: CHECKED, b: CHECKED}, "notes": "一，二"},
        headers=applied.judge,
    )
    second = r.json()["notes_sha256"]
    assert second != first
    r = await client.post(f"{base}/decision", json=decide, headers=applied.judge)
    assert r.status_code == 409 and world.applicant.name in r.text, r.text
    r = await client.post(
        f"{base}/session/record/confirm",
        json={"notes_sha256": first},
        headers=applied.signing.applicant,
    )
    assert r.status_code == 409, "a confirmation of notes that have changed since"
    for party in (applied.signing.applicant, applied.signing.respondent):
        r = await client.post(
            f"{base}/session/record/confirm", json={"notes_sha256": second}, headers=party
        )
        assert r.status_code == 200, r.text

    shown = (await client.get(base, headers=applied.signing.respondent)).json()["session"]
    assert shown["notes"] == "一，二" and shown["notes_sha256"] == second
    assert shown["checklist"][a] == CHECKED
    assert [i["code"] for i in shown["items"]] == list(CHECKED)
    current = {(c["party_id"], c["current"]) for c in shown["confirmations"]}
    assert current == {
        (world.applicant.id, True),
        (world.respondent.id, True),
        (world.applicant.id, False),
        (world.respondent.id, False),
    }
    r = await client.post(f"{base}/decision", json=decide, headers=applied.judge)
    assert r.status_code == 200 and r.json()["status"] == "confirmed", r.text
    r = await client.put(f"{base}/session/record", json={"notes": "改"}, headers=applied.judge)
    assert r.status_code == 409, "the record is closed once decided"
