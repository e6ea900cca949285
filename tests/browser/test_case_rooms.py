"""The case page's video rooms in Chromium: one meeting at a time.

While the meeting is on, the mediator's case page leads into it (no second room), and the
party's link leads into it (``party_opens`` waits for the room's address). Once it has
ended, the link leads to the case page, which says that none is on, and the mediator starts
a new session; a case page left open from before meets the 409 and shows the way in.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import Contexts, LiveServer, MakeStaff
from tests.browser.test_room import host_joins, party_opens, prepare

pytestmark = pytest.mark.browser


async def test_one_meeting_at_a_time_from_the_case_page(
    live_server: LiveServer, new_context: Contexts, make_mediator: MakeStaff
) -> None:
    setup = await prepare(live_server, make_mediator, auto_admit=True)
    host = await host_joins(new_context, live_server, setup)
    case_path = f"/cases/{setup.case_id}"

    case_page = await host.context.new_page()
    await case_page.goto(case_path)
    enter = case_page.get_by_test_id("enter-room")
    await expect(enter).to_have_attribute("href", f"/rooms/{setup.room_id}")
    await expect(enter).to_have_text("进入视频调解室")
    await expect(case_page.get_by_test_id("open-room")).to_have_count(0)
    # The party's link leads into the meeting that is on (party_opens waits for its page).
    await party_opens(new_context, live_server, setup, setup.applicant)

    async with httpx.AsyncClient(base_url=live_server.base_url, trust_env=False) as api:
        r = await api.post(
            "/api/auth/login",
            json={"username": setup.staff.username, "password": setup.staff.password},
        )
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        r = await api.post(f"/api/rooms/{setup.room_id}/close", headers=headers)
        assert r.status_code == 200, r.text

        # Ended: the link leads to the case page, which says no meeting is on.
        party = await (await new_context()).new_page()
        await party.goto(setup.links[setup.applicant])
        await party.wait_for_url("**/my-case")
        none_on = party.get_by_test_id("next-meeting")
        await expect(none_on).to_contain_text("目前没有正在进行的视频会议")
        await expect(party.get_by_test_id("join-room")).to_have_count(0)

        # The mediator's page, from before another tab opened the next session: its button
        # meets the 409 and the page, reloaded, leads into that session.
        await case_page.reload()
        start = case_page.get_by_test_id("open-room")
        await expect(start).to_have_text("开始新一次调解")
        r = await api.post(f"/api/cases/{setup.case_id}/rooms", json={}, headers=headers)
        assert r.status_code == 201, r.text
        newer = r.json()["id"]
    await start.click()
    await expect(case_page.get_by_test_id("enter-room")).to_have_attribute(
        "href", f"/rooms/{newer}"
    )
    await expect(case_page.get_by_test_id("open-room")).to_have_count(0)
    await case_page.get_by_test_id("enter-room").click()
    await case_page.wait_for_url(f"**/rooms/{newer}")
