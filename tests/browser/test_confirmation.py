"""Judicial confirmation in Chromium: the parties join the application on their case pages;
the court's judge accepts and takes it from the queue, opens the video session from the
application page and, beside the video, fills the checklist for each party and writes the
record; the parties confirm the record on their own devices; the judge confirms the
agreement; the parties see the ruling on their case pages.

The effective agreement is made through the API (its pages have their own browser tests,
tests/browser/test_agreement.py). ``walk`` is shared with the accessibility checks
(tests/browser/test_a11y_confirmation.py), which run it with an ``Audit``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from service.personal import id_check_char
from tests.agreements.helpers import FACTS, png
from tests.browser.conftest import Contexts, LiveServer, MakeStaff, Staff
from tests.browser.test_room import MEDIA, wait_state
from tests.conftest import unique

pytestmark = pytest.mark.browser

ITEMS = ("identity", "capacity", "voluntary", "understands_terms", "sham_warning")
NOTES = (
    "审判员：核对双方身份证件一致。"
    "双方均表示自愿达成调解协议，理解各项条款，知悉虚假调解的法律后果。"
)


def resident_id() -> str:
    """A valid ID number of someone domiciled in 140403 (the test courts' region, 晋0403)."""
    born = f"{1960 + secrets.randbelow(40)}0{1 + secrets.randbelow(9)}1{secrets.randbelow(10)}"
    first17 = f"140403{born}{secrets.randbelow(1000):03d}"
    return first17 + id_check_char(first17)


@dataclass
class Effective:
    mediator: Staff
    judge: Staff
    case_id: int
    application_id: int
    parties: dict[str, int]  # role -> party id
    links: dict[str, str]  # role -> join link


async def effective_and_applied(live_server: LiveServer, make_staff: MakeStaff) -> Effective:
    """A case whose debt agreement both parties and the mediator signed, and the mediator's
    application for confirmation to the court where the parties live."""
    mediator = await make_staff()
    judge = await make_staff(role="judge")
    async with httpx.AsyncClient(
        base_url=live_server.base_url, timeout=60.0, trust_env=False
    ) as api:

        async def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
            r = await api.request(method, path, json=body, **kw)
            assert r.status_code in (200, 201), r.text
            return r.json()

        login = {"username": mediator.username, "password": mediator.password}
        staff = {
            "Authorization": f"Bearer {(await call('POST', '/api/auth/login', login))['token']}"
        }
        api.cookies.clear()
        case = await call(
            "POST",
            "/api/cases",
            {
                "dispute_type": "debt",
                "title": unique("司法确认测试"),
                "summary": "借款到期未还。",
                "parties": [
                    {"role": r, "kind": "person", "name": unique(n), "id_number": resident_id()}
                    for r, n in (("applicant", "王"), ("respondent", "李"))
                ],
            },
            headers=staff,
        )
        case_id = case["id"]
        parties = {p["role"]: p["id"] for p in case["parties"]}
        await call("POST", f"/api/cases/{case_id}/status", {"status": "mediating"}, headers=staff)
        agreement = await call(
            "POST", f"/api/cases/{case_id}/agreement", {"template": "debt"}, headers=staff
        )
        content = agreement["version"]["content"]
        content["facts"] = FACTS
        await call(
            "PUT",
            f"/api/agreements/{agreement['id']}",
            {"base_version": 1, "content": content},
            headers=staff,
        )
        agreement = await call(
            "POST", f"/api/agreements/{agreement['id']}/send-for-signing", headers=staff
        )
        signature = {
            "version": agreement["signing_version"],
            "content_sha256": agreement["version"]["content_sha256"],
        }

        async def link(role: str) -> str:
            out = await call(
                "POST",
                f"/api/cases/{case_id}/invitations",
                {"party_id": parties[role]},
                headers=staff,
            )
            return str(out["url"])

        for role in ("applicant", "respondent"):
            token = (await link(role)).rsplit("/", 1)[1]
            bearer = (await call("POST", "/api/auth/party", {"token": token}))["token"]
            api.cookies.clear()
            await call(
                "POST",
                f"/api/agreements/{agreement['id']}/signatures",
                {**signature, "method": "drawn", "image_png": png()},
                headers={"Authorization": f"Bearer {bearer}"},
            )
        done = await call(
            "POST",
            f"/api/agreements/{agreement['id']}/signatures",
            {**signature, "method": "typed", "typed_name": mediator.name},
            headers=staff,
        )
        assert done["status"] == "effective", done
        application = await call(
            "POST",
            f"/api/cases/{case_id}/confirmation",
            {"court_id": judge.org["id"]},
            headers=staff,
        )
        links = {role: await link(role) for role in ("applicant", "respondent")}
    return Effective(mediator, judge, case_id, application["id"], parties, links)


async def media_context(
    new_context: Contexts, live_server: LiveServer, **options: Any
) -> BrowserContext:
    context = await new_context(**options)
    await context.grant_permissions(MEDIA, origin=live_server.base_url)
    return context


async def walk(
    live_server: LiveServer,
    new_context: Contexts,
    make_staff: MakeStaff,
    audit: Any = None,
    **options: Any,
) -> None:
    """The whole confirmation, checked at each step; ``audit`` (tests/browser/test_a11y.py's)
    also runs axe on each page state."""

    async def check(page: Page, where: str) -> None:
        if audit is not None:
            await audit.check(page, where)

    url = audit.url if audit is not None else (lambda path: path)
    setup = await effective_and_applied(live_server, make_staff)
    app_id = setup.application_id

    # Each party joins the application on their own case page (their link leads there).
    party_pages: dict[str, Page] = {}
    for role in ("applicant", "respondent"):
        page = await (await media_context(new_context, live_server, **options)).new_page()
        await page.goto(url(setup.links[role]))
        await page.wait_for_url("**/my-case*")
        section = page.get_by_test_id("confirmation-section")
        await expect(section.get_by_test_id("confirmation-consent")).to_be_visible()
        if role == "applicant":
            await check(page, "case page, party, the application awaits their consent")
        await section.get_by_test_id("confirmation-consent").click()
        await expect(section.get_by_test_id("confirmation-consent")).to_have_count(0)
        party_pages[role] = page
    await expect(party_pages["respondent"].get_by_test_id("confirmation-status")).to_have_attribute(
        "data-status", "queued"
    )
    await check(party_pages["respondent"], "case page, party, in the court's queue")

    # The court: accepted from the queue, then taken by the judge.
    judge_context = await media_context(new_context, live_server, **options)
    r = await judge_context.request.post(
        "/api/auth/login",
        data={"username": setup.judge.username, "password": setup.judge.password},
    )
    assert r.ok, await r.text()
    judge = await judge_context.new_page()
    court_id = setup.judge.org["id"]
    await judge.goto(url(f"/courts/{court_id}/queue"))
    item = judge.get_by_test_id(f"queue-item-{app_id}")
    await expect(item.get_by_test_id("deadline-accept")).to_be_visible()
    await expect(item.locator(".countdown")).not_to_be_empty()
    await check(judge, "court queue, an application to accept")
    await item.get_by_test_id(f"accept-{app_id}").click()
    await expect(item.get_by_test_id(f"claim-{app_id}")).to_be_visible()
    await expect(item.get_by_test_id("deadline-decide")).to_be_visible()
    await item.get_by_test_id(f"claim-{app_id}").click()
    await expect(item).to_have_attribute("data-status", "claimed")
    await check(judge, "court queue, an application claimed")

    await judge.goto(url(f"/confirmations/{app_id}"))
    await expect(judge.get_by_test_id("record-pdf")).to_be_visible()
    await expect(judge.get_by_test_id("agreement-pdf")).to_be_visible()
    await expect(judge.get_by_test_id("decision-form")).to_be_visible()
    await check(judge, "application page, the judge holding it")

    # The session: the judge opens it and joins; the parties come in from the application
    # page and are admitted from the lobby.
    await judge.get_by_test_id("open-session").click()
    await judge.wait_for_url("**/rooms/*")
    await wait_state(judge, "prejoin")
    await judge.get_by_test_id("join").click()
    await wait_state(judge, "in-call")
    panel = judge.get_by_test_id("confirmation-panel")
    await expect(panel.get_by_test_id("session-notes")).to_be_visible()
    for role, page in party_pages.items():
        await page.goto(url(f"/confirmations/{app_id}"))
        await page.get_by_test_id("session-link").click()
        await wait_state(page, "prejoin")
        await page.get_by_test_id("consent-online").check()
        await page.get_by_test_id("join").click()
        await wait_state(page, "lobby")
        pid = f"party-{setup.parties[role]}"
        await judge.get_by_test_id(f"admit-{pid}").click()
        await wait_state(page, "in-call")
        await page.get_by_test_id("toggle-record").click()
        await expect(page.get_by_test_id("record-text")).to_be_visible()

    # The checklist beside the video, and the record.
    for party_id in setup.parties.values():
        for code in ITEMS:
            await panel.get_by_test_id(f"check-{party_id}-{code}").check()
    await panel.get_by_test_id("session-notes").fill(NOTES)
    await panel.get_by_test_id("session-save").click()
    await check(judge, "room, judge, the checklist and the record")

    # Each party reads the record and confirms it on their own device.
    for party_id, page in zip(setup.parties.values(), party_pages.values(), strict=True):
        await expect(page.get_by_test_id("record-text")).to_have_text(NOTES, timeout=15_000)
        await page.get_by_test_id("record-confirm").click()
        await expect(page.get_by_test_id("confirmation-panel")).to_have_attribute(
            "data-confirmed", "true", timeout=15_000
        )
        await expect(panel.get_by_test_id(f"record-ack-{party_id}")).to_have_attribute(
            "data-confirmed", "true", timeout=15_000
        )
    await check(party_pages["applicant"], "room, party, the record confirmed")

    # The judge confirms the agreement; the parties see the ruling.
    decision = await judge_context.new_page()
    await decision.goto(url(f"/confirmations/{app_id}"))
    await decision.get_by_test_id("outcome-rejected").check()
    await expect(decision.get_by_test_id("grounds")).to_be_visible()
    await decision.get_by_test_id("decision-submit").click()
    await expect(decision.get_by_test_id("application-error")).not_to_be_empty()
    await check(decision, "application page, a rejection without a ground refused")
    await decision.get_by_test_id("outcome-confirmed").check()
    await expect(decision.get_by_test_id("grounds")).to_be_hidden()
    await decision.get_by_test_id("decision-submit").click()
    await expect(decision.get_by_test_id("ruling-outcome")).to_have_attribute(
        "data-outcome", "confirmed", timeout=60_000
    )
    await check(decision, "application page, the ruling")
    for page in party_pages.values():
        await page.goto(url("/my-case"))
        ruling = page.get_by_test_id("ruling-pdf")
        await expect(ruling).to_be_visible()
        href = await ruling.get_attribute("href")
        # Through the application's route, where the party's opening it is their receipt.
        assert href and href.startswith(f"/api/confirmations/{app_id}/documents/")
        await expect(page.get_by_test_id("objection-pending")).to_be_visible()
        r = await page.request.get(href)
        assert r.ok and (await r.body()).startswith(b"%PDF")
        await page.reload()  # received: the 15 days to object run from today
        await expect(page.get_by_test_id("deadline-objection")).to_be_visible()
    await check(party_pages["applicant"], "case page, party, the ruling")


async def test_the_judge_and_two_parties_confirm_an_agreement_by_video(
    live_server: LiveServer, new_context: Contexts, make_mediator: MakeStaff
) -> None:
    await walk(live_server, new_context, make_mediator)
