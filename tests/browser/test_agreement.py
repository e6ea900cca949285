"""The agreement in Chromium: drafted in the room while a party watches, then signed.

In the room, the mediator edits a term in the agreement panel beside the video and saves;
the party's panel, in the same meeting, shows the new version with the change marked (the
server's ``agreement`` message reaching the room client, handed to the panel). Then each
party signs on their own signing page with a signature drawn on the pad (one with a mouse on
a laptop, the other with a finger on a phone: touch events through the DevTools protocol),
one of them after the text they read was replaced (409: the page loads the new version and
says so); the mediator signs last on the editor page and sees the agreement take effect,
with its sealed PDF.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.agreements.helpers import FACTS
from tests.browser.conftest import Contexts, LiveServer, MakeStaff
from tests.browser.test_room import MEDIA, Setup, prepare, wait_state

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
SEAL_MS = 60_000  # the mediator's signature: render, seal and store the PDF (workers cold)


class Api:
    """The mediator's API calls the tests make to set a scene."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    async def __call__(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        r = await self.client.request(method, path, json=body, headers=self.headers)
        assert r.status_code == status, r.text
        return r.json()


@contextlib.asynccontextmanager
async def mediator_api(live_server: LiveServer, setup: Setup) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(
        base_url=live_server.base_url, timeout=60.0, trust_env=False
    ) as client:
        r = await client.post(
            "/api/auth/login",
            json={"username": setup.staff.username, "password": setup.staff.password},
        )
        assert r.status_code == 200, r.text
        yield Api(client, {"Authorization": f"Bearer {r.json()['token']}"})


async def signed_in(new_context: Contexts, setup: Setup, **options: Any) -> BrowserContext:
    context = await new_context(**options)
    r = await context.request.post(
        "/api/auth/login",
        data={"username": setup.staff.username, "password": setup.staff.password},
    )
    assert r.ok, await r.text()
    return context


async def test_the_mediator_edits_in_the_room_and_the_party_sees_the_change(
    live_server: LiveServer, new_context: Contexts, make_mediator: MakeStaff
) -> None:
    setup = await prepare(live_server, make_mediator, auto_admit=True)
    async with mediator_api(live_server, setup) as api:
        started = await api(
            "POST", f"/api/cases/{setup.case_id}/agreement", {"template": "neighbour"}, 201
        )
    act = started["version"]["content"]["terms"][0]["act"]

    mediator = await signed_in(new_context, setup, viewport=LAPTOP)
    await mediator.grant_permissions(MEDIA, origin=live_server.base_url)
    host = await mediator.new_page()
    await host.goto(setup.room_url)
    await wait_state(host, "prejoin")
    await host.get_by_test_id("join").click()
    await wait_state(host, "in-call")

    phone = await new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    await phone.grant_permissions(MEDIA, origin=live_server.base_url)
    party = await phone.new_page()
    await party.goto(setup.links[setup.applicant])
    await party.wait_for_url(setup.room_url)
    await wait_state(party, "prejoin")
    await party.get_by_test_id("consent-online").check()
    await party.get_by_test_id("join").click()
    await wait_state(party, "in-call")

    # The party opens the agreement beside the call: version 1, nothing marked yet.
    await party.get_by_test_id("toggle-agreement").click()
    panel = party.get_by_test_id("agreement-panel")
    await expect(panel).to_be_visible()
    await expect(panel.get_by_test_id("panel-version")).to_have_attribute("data-version", "1")
    await expect(panel.get_by_test_id("clause-term-1")).to_contain_text(act)
    await expect(panel.locator("ins")).to_have_count(0)

    # The mediator opens the panel in the room and adds to the first term's act.
    await host.get_by_test_id("agreement-panel-toggle").click()
    editor = host.get_by_test_id("agreement-panel")
    field = editor.get_by_test_id("term-1-act")
    await expect(field).to_have_value(act)
    await field.fill(act + "，并重新粉刷墙面")
    await editor.get_by_test_id("panel-save").click()
    await expect(editor.get_by_test_id("panel-save-status")).to_contain_text("第2版")
    await expect(editor.get_by_test_id("panel-status")).to_have_attribute("data-status", "draft")
    await expect(editor.get_by_test_id("panel-findings").locator(".finding").first).to_be_visible()

    # The party's panel, open, shows version 2 with the addition marked, and only that.
    await expect(panel.get_by_test_id("panel-version")).to_have_attribute("data-version", "2")
    changed = panel.get_by_test_id("clause-term-1")
    await expect(changed).to_have_attribute("data-change", "changed")
    await expect(changed.locator("ins")).to_have_text("，并重新粉刷墙面")
    await expect(panel.locator("ins:not(.diff-legend ins)")).to_have_count(1)
    await expect(panel.locator("del:not(.diff-legend del)")).to_have_count(0)
    await expect(panel.get_by_test_id("diff-legend")).to_contain_text("第1版到第2版")

    # Closed, the next version is announced on the button; opened, it is marked from 2.
    await panel.get_by_test_id("agreement-panel-close").click()
    await expect(panel).to_be_hidden()
    await field.fill(act + "，并重新粉刷墙面，费用由双方各半承担")
    await editor.get_by_test_id("panel-save").click()
    await expect(editor.get_by_test_id("panel-save-status")).to_contain_text("第3版")
    await expect(party.get_by_test_id("agreement-badge")).to_be_visible()
    await party.get_by_test_id("toggle-agreement").click()
    await expect(panel.get_by_test_id("panel-version")).to_have_attribute("data-version", "3")
    await expect(changed.locator("ins")).to_have_text("，费用由双方各半承担")
    # The video keeps its place: the party still sees the mediator.
    await expect(party.get_by_test_id(f"video-{setup.mediator}")).to_be_attached()


# -- signing -----------------------------------------------------------------------------------


async def read_to_the_end(page: Page) -> None:
    await expect(page.get_by_test_id("sign-next")).to_be_disabled()
    await page.get_by_test_id("end-of-text").scroll_into_view_if_needed()
    await expect(page.get_by_test_id("sign-box")).to_have_attribute("data-read", "true")


async def draw_with_mouse(page: Page) -> None:
    pad = page.get_by_test_id("signature-pad")
    await pad.scroll_into_view_if_needed()
    box = await pad.bounding_box()
    assert box
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    await page.mouse.move(x + w * 0.1, y + h * 0.7)
    await page.mouse.down()
    for i in range(1, 21):
        await page.mouse.move(x + w * (0.1 + 0.04 * i), y + h * (0.7 - 0.4 * (i % 2)), steps=2)
    await page.mouse.up()


async def draw_with_finger(page: Page) -> None:
    """A finger on a touch screen, as Chromium gets it from the device (touch events, which it
    turns into pointer events of type "touch")."""
    pad = page.get_by_test_id("signature-pad")
    await pad.scroll_into_view_if_needed()
    box = await pad.bounding_box()
    assert box
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    cdp = await page.context.new_cdp_session(page)
    points = [(x + w * (0.15 + 0.035 * i), y + h * (0.5 + 0.3 * ((-1) ** i))) for i in range(20)]
    await cdp.send(
        "Input.dispatchTouchEvent",
        {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]},
    )
    for px, py in points[1:]:
        await cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": px, "y": py}]}
        )
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    await cdp.detach()


async def sign_drawn(page: Page, draw: Any) -> None:
    await read_to_the_end(page)
    await expect(page.get_by_test_id("method-drawn")).to_be_checked()
    await expect(page.get_by_test_id("sign-next")).to_be_disabled()  # nothing drawn yet
    await draw(page)
    await page.get_by_test_id("sign-next").click()
    await expect(page.get_by_test_id("confirm-box")).to_be_visible()
    await page.get_by_test_id("sign-confirm").click()


async def test_two_parties_sign_with_a_finger_and_the_mediator_seals(
    live_server: LiveServer, new_context: Contexts, make_mediator: MakeStaff
) -> None:
    setup = await prepare(live_server, make_mediator, auto_admit=True)
    async with mediator_api(live_server, setup) as api:
        await api("POST", f"/api/cases/{setup.case_id}/status", {"status": "mediating"})
        await api("POST", f"/api/cases/{setup.case_id}/agreement", {"template": "debt"}, 201)

        # The editor: the template's blanks are errors of the check; filled in, it is sent.
        mediator = await signed_in(new_context, setup, viewport=LAPTOP)
        editor = await mediator.new_page()
        await editor.goto(f"/cases/{setup.case_id}/agreement")
        await expect(editor.get_by_test_id("finding-blank")).to_be_visible()
        await expect(editor.get_by_test_id("send-for-signing")).to_be_disabled()
        await editor.get_by_test_id("field-facts").fill(FACTS)
        await editor.get_by_test_id("save").click()
        await expect(editor.get_by_test_id("save-status")).to_contain_text("第2版")
        await expect(editor.get_by_test_id("check-ok")).to_be_visible()
        await editor.get_by_test_id("send-for-signing").click()
        await expect(editor.get_by_test_id("agreement-status")).to_have_attribute(
            "data-status", "signing"
        )
        await expect(
            editor.get_by_test_id(f"awaiting-{setup.applicant.removeprefix('party-')}")
        ).to_be_visible()

        # The applicant, on a laptop, starts reading version 2 ...
        laptop = await new_context(viewport=LAPTOP)
        applicant = await laptop.new_page()
        await applicant.goto(setup.links[setup.applicant])
        await applicant.wait_for_url("**/agreements/*/sign")  # the join link leads here
        await expect(applicant.get_by_test_id("agreement-version")).to_have_text("第2版")

        # ... while the mediator changes the agreement and sends version 3.
        agreement = await api("GET", f"/api/cases/{setup.case_id}/agreement")
        content = agreement["version"]["content"]
        content["other_terms"].append("双方确认本协议系自愿达成。")
        await api(
            "PUT", f"/api/agreements/{agreement['id']}", {"base_version": 2, "content": content}
        )
        await api("POST", f"/api/agreements/{agreement['id']}/send-for-signing")

        # Signing what they read (version 2) is refused: the page loads version 3 and says so.
        await sign_drawn(applicant, draw_with_mouse)
        await expect(applicant.get_by_test_id("changed-notice")).to_be_visible()
        await expect(applicant.get_by_test_id("agreement-version")).to_have_text("第3版")
        await expect(applicant.get_by_test_id("clause-other-3")).to_contain_text("自愿达成")
        await sign_drawn(applicant, draw_with_mouse)
        await expect(applicant.get_by_test_id("sign-state")).to_contain_text("您已于")
        await expect(applicant.get_by_test_id("sign-box")).to_have_count(0)

        # The respondent, on a phone, signs with a finger.
        phone = await new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        respondent = await phone.new_page()
        await respondent.goto(setup.links[setup.respondent])
        await respondent.wait_for_url(f"**/agreements/{agreement['id']}/sign")
        await sign_drawn(respondent, draw_with_finger)
        await expect(respondent.get_by_test_id("sign-state")).to_contain_text("您已于")

        signed = await api("GET", f"/api/agreements/{agreement['id']}")
        assert [s["method"] for s in signed["signatures"]] == ["drawn", "drawn"]
        assert {s["version"] for s in signed["signatures"]} == {3}

        # The mediator's page learns of both signatures and asks for the mediator's, last.
        await expect(editor.get_by_test_id("mediator-sign-box")).to_be_visible(timeout=30_000)
        await expect(editor.get_by_test_id("mediator-typed-name")).to_have_value(setup.staff.name)
        await editor.get_by_test_id("mediator-sign").click()
        await editor.get_by_test_id("mediator-sign-confirm").click()
        status = editor.get_by_test_id("agreement-status")
        await expect(status).to_have_attribute("data-status", "effective", timeout=SEAL_MS)
        await expect(status).to_have_text("已生效")
        link = editor.get_by_test_id("effective-pdf")
        await expect(link).to_be_visible()
        response = await editor.context.request.get(await link.get_attribute("href") or "")
        assert response.ok and (await response.body()).startswith(b"%PDF")

        # The party's case page offers the sealed document.
        await respondent.goto("/my-case")
        await expect(respondent.get_by_test_id("agreement-section-status")).to_have_attribute(
            "data-status", "effective"
        )
        await expect(respondent.get_by_test_id("agreement-pdf")).to_be_visible()
