"""A saved agreement version reaches the case's meeting through the hub (service/hub.py):
the host and the people let in hear of it; someone waiting in the lobby does not. rooms/
knows nothing of agreements: it forwards the hub's message as signalling."""

from __future__ import annotations

from typing import Any

from agreements import service as agreements_service
from service import audit
from tests.rooms.conftest import Meeting, eventually


async def test_a_saved_version_reaches_the_meeting_not_the_lobby(
    meeting: Meeting, app: Any
) -> None:
    mediator = await meeting.join("mediator")
    applicant = await meeting.join("applicant")
    respondent = await meeting.join("respondent")
    await mediator.send(type="admit", participant_id=applicant.participant_id)
    await eventually(
        lambda: any(
            p["id"] == applicant.participant_id and p["admitted"]
            for m in mediator.of_type("participants")
            for p in m["participants"]
        ),
        what="applicant admitted",
    )

    case_id = meeting.world.case.id
    r = await meeting.api("POST", f"/api/cases/{case_id}/agreement", json={"template": "debt"})
    assert r.status_code == 201, r.text
    agreement = r.json()
    content = agreement["version"]["content"]
    content["facts"] = "改写后的事实。"
    r = await meeting.api(
        "PUT",
        f"/api/agreements/{agreement['id']}",
        json={"base_version": 1, "content": content},
    )
    assert r.status_code == 200, r.text

    def heard(client: object, version: int) -> bool:
        return any(
            m == {"type": "agreement", "agreement_id": agreement["id"], "version": version}
            for m in client.of_type("agreement")  # type: ignore[attr-defined]
        )

    await eventually(lambda: heard(mediator, 2) and heard(applicant, 2), what="version 2 news")
    assert heard(applicant, 1)  # the agreement's start was news too
    await app.state.hub.drain()  # every delivery done: the lobby's socket had none
    assert respondent.of_type("agreement") == []


async def test_news_of_another_case_stays_out(meeting: Meeting, app: Any) -> None:
    mediator = await meeting.join("mediator")
    elsewhere = await meeting.factory.world()
    async with meeting.factory.uow() as s:
        agreement, _ = await agreements_service.create(
            s,
            case=elsewhere.case,
            template_id="labour",
            content=None,
            user_id=elsewhere.mediator.id or 0,
            actor=audit.SYSTEM,
        )
    hub = app.state.hub
    await hub.publish(
        "agreement_version",
        {"case_id": elsewhere.case.id, "agreement_id": agreement.id, "version": 1},
    )
    await hub.drain()
    assert mediator.of_type("agreement") == []
