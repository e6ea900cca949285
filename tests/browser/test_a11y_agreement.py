"""The agreement's pages pass axe-core's WCAG 2 A and AA rules, in both languages, on a phone
and a laptop, in the states people meet them in (the checks of tests/browser/test_a11y.py,
whose walk through the other pages this continues):

the mediator's editor (no agreement yet; the check's errors; a save refused with its fields
marked; two versions compared; out for signing; the mediator's own signature asked for; in
effect), the agreement panel in the room (the mediator's, and a party's with a change
marked), the party's signing page (before reading to the end; signed on the pad, at the
confirmation; signed; in effect), and the agreement on the case pages (a signature awaited).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.agreements.helpers import FACTS
from tests.browser.conftest import Contexts, LiveServer, MakeStaff
from tests.browser.test_a11y import (  # noqa: F401 (the module's fixtures)
    TAGS,
    VIEWPORTS,
    Audit,
    axe_source,
    axe_version,
    staff_context,
)
from tests.browser.test_agreement import draw_with_mouse, mediator_api, read_to_the_end
from tests.browser.test_room import MEDIA, prepare, wait_state

pytestmark = pytest.mark.browser


async def sign_on_page(page: Page, audit: Audit | None, who: str, typed: str = "") -> None:
    """Signed with a drawn signature, or by typing the name given (first a wrong one: the
    server's refusal is shown and nothing is signed)."""
    await read_to_the_end(page)
    if typed:
        await page.get_by_test_id("method-typed").check()
        await page.get_by_test_id("typed-name").fill("张三")
        await page.get_by_test_id("sign-next").click()
        await page.get_by_test_id("sign-confirm").click()
        await expect(page.get_by_test_id("sign-error")).not_to_be_empty()
        await expect(page.get_by_test_id("sign-next")).to_be_visible()
        await page.get_by_test_id("typed-name").fill(typed)
    else:
        await draw_with_mouse(page)
    await page.get_by_test_id("sign-next").click()
    await expect(page.get_by_test_id("confirm-box")).to_be_visible()
    if audit:
        await audit.check(page, f"signing page, {who}, asked to confirm")
    await page.get_by_test_id("sign-confirm").click()
    await expect(page.get_by_test_id("sign-box")).to_have_count(0)


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
async def test_the_agreement_pages_pass_axe(
    live_server: LiveServer,
    new_context: Contexts,
    make_mediator: MakeStaff,
    axe_source: str,  # noqa: F811
    axe_version: str,  # noqa: F811
    language: str,
) -> None:
    audit = Audit(axe_source, language)
    options: dict[str, Any] = {"viewport": VIEWPORTS["phone"], "bypass_csp": True}
    setup = await prepare(live_server, make_mediator, auto_admit=True)
    async with mediator_api(live_server, setup) as api:
        await api("POST", f"/api/cases/{setup.case_id}/status", {"status": "mediating"})

        # The editor: no agreement yet, then the template's (its blanks are the check's errors).
        mediator = await staff_context(new_context, setup.staff, **options)
        await mediator.grant_permissions(MEDIA, origin=live_server.base_url)
        editor = await mediator.new_page()
        await editor.goto(audit.url(f"/cases/{setup.case_id}/agreement"))
        await audit.check(editor, "editor, no agreement yet")
        await editor.get_by_test_id("template-debt").check()
        await editor.get_by_test_id("start-agreement").click()
        await expect(editor.get_by_test_id("finding-blank")).to_be_visible()
        await audit.check(editor, "editor, the check's errors")
        await editor.get_by_test_id("term-1-amount").fill("12.345")
        await editor.get_by_test_id("save").click()
        await expect(editor.get_by_test_id("term-1-amount")).to_have_attribute(
            "aria-invalid", "true"
        )
        await audit.check(editor, "editor, a save refused")
        await editor.get_by_test_id("term-1-amount").fill("30000.00")
        await editor.get_by_test_id("field-facts").fill(FACTS)
        await editor.get_by_test_id("save").click()
        await expect(editor.get_by_test_id("check-ok")).to_be_visible()
        await editor.get_by_test_id("diff-show").click()
        await expect(editor.get_by_test_id("diff-clauses")).to_be_visible()
        await audit.check(editor, "editor, two versions compared")

        # The room: the mediator's panel, and a party's with the mediator's change marked.
        host = await mediator.new_page()
        await host.goto(audit.url(setup.room_url))
        await wait_state(host, "prejoin")
        await host.get_by_test_id("join").click()
        await wait_state(host, "in-call")
        party_context = await new_context(**options)
        await party_context.grant_permissions(MEDIA, origin=live_server.base_url)
        party = await party_context.new_page()
        await party.goto(audit.url(setup.links[setup.applicant]))
        await party.wait_for_url(f"**/rooms/{setup.room_id}*")
        await wait_state(party, "prejoin")
        await party.get_by_test_id("consent-online").check()
        await party.get_by_test_id("join").click()
        await wait_state(party, "in-call")
        await party.get_by_test_id("toggle-agreement").click()
        await expect(party.get_by_test_id("panel-version")).to_have_attribute("data-version", "2")
        await host.get_by_test_id("agreement-panel-toggle").click()
        panel = host.get_by_test_id("agreement-panel")
        await panel.get_by_test_id("add-other").click()
        await panel.get_by_test_id("other-3").fill("双方确认本协议系自愿达成。")
        await panel.get_by_test_id("panel-save").click()
        await expect(panel.get_by_test_id("panel-save-status")).to_contain_text("3")
        await expect(party.get_by_test_id("clause-other-3")).to_have_attribute(
            "data-change", "added"
        )
        await audit.check(host, "room, mediator, agreement panel")
        await audit.check(party, "room, party, agreement panel with a change marked")

        # Out for signing: the editor, the other party's case page, the signing pages.
        await editor.reload()
        await editor.get_by_test_id("send-for-signing").click()
        await expect(editor.get_by_test_id("awaiting")).to_be_visible()
        await audit.check(editor, "editor, out for signing")
        other = await (await new_context(**options)).new_page()
        await other.goto(audit.url(setup.links[setup.respondent]))  # (into the meeting, on)
        await other.wait_for_url(f"**/rooms/{setup.room_id}*")
        await other.goto(audit.url("/my-case"))
        await expect(other.get_by_test_id("agreement-waiting")).to_be_visible()
        await audit.check(other, "party's case page, a signature awaited")
        await other.get_by_test_id("agreement-sign-link").click()
        await other.wait_for_url("**/agreements/*/sign*")
        await audit.check(other, "signing page, before reading to the end")
        await sign_on_page(other, audit, "respondent")
        await audit.check(other, "signing page, signed")
        agreement = await api("GET", f"/api/cases/{setup.case_id}/agreement")
        name = next(p["name"] for p in agreement["version"]["parties"] if p["role"] == "applicant")
        await party.goto(audit.url(f"/agreements/{agreement['id']}/sign"))
        await sign_on_page(party, None, "applicant", typed=name)

        # The mediator signs last; the agreement is in effect.
        # (the editor looks for new signatures every few seconds)
        await expect(editor.get_by_test_id("mediator-sign-box")).to_be_visible(timeout=30_000)
        await audit.check(editor, "editor, the mediator's signature asked for")
        await editor.get_by_test_id("mediator-sign").click()
        await editor.get_by_test_id("mediator-sign-confirm").click()
        await expect(editor.get_by_test_id("effective-pdf")).to_be_visible(timeout=60_000)
        await audit.check(editor, "editor, in effect")
        await other.reload()
        await audit.check(other, "signing page, in effect")
        case_page = await mediator.new_page()
        await case_page.goto(audit.url(f"/cases/{setup.case_id}"))
        await expect(case_page.get_by_test_id("agreement-section")).to_be_visible()
        await audit.check(case_page, "case page, the agreement in effect")

    if audit.found:
        pytest.fail(
            f"axe-core {axe_version} ({', '.join(TAGS)}), language {language}:"
            f" {audit.count} violating elements in {len(audit.found)} findings over"
            f" {len(audit.checked)} page states\n\n" + "\n\n".join(audit.found),
            pytrace=False,
        )
