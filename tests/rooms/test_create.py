"""Opening a room: a case that has ended takes none (the case state machine's rule, asked
through service.cases.refuse_if_ended like every domain that adds to a case)."""

from __future__ import annotations

import httpx

from service import i18n
from tests.conftest import Factory, Made


async def test_an_ended_case_takes_no_new_room(
    client: httpx.AsyncClient, factory: Factory, world: Made
) -> None:
    headers = await factory.login(client, world.mediator)
    client.cookies.clear()
    case_url = f"/api/cases/{world.case.id}"
    r = await client.post(
        f"{case_url}/status", json={"status": "withdrawn", "reason": "settled"}, headers=headers
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"{case_url}/rooms?lang=en", json={}, headers=headers)
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == i18n.gettext(
        "en",
        "A case in state '{state}' ({state_label}) takes no new rooms.",
        state="withdrawn",
        state_label="Withdrawn",
    )
