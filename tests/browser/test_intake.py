"""A mediator opens a case in the browser and a party opens their join link on a phone.

Sign in on "/", intake through the form, create and copy the first party's join link from
the clipboard, open it in a second, cookie-less browser context, and see the party's page:
Chinese by default, English after switching. Full ID numbers never reach a page.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from playwright.async_api import Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout

from service.personal import id_check_char, mask_id_number
from tests.browser.conftest import Contexts, LiveServer, MakeStaff
from tests.conftest import unique

pytestmark = pytest.mark.browser

ZH_CATALOGUE = (
    Path(__file__).resolve().parents[2] / "service/locale/zh_Hans/LC_MESSAGES/messages.po"
)
PHONE = {"width": 390, "height": 844}
# Screenshots for a person to look at (not compared by the test).
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp"))  # noqa: S108
CJK = re.compile(r"[\u4e00-\u9fff]")


def resident_id(region: str, birth: str) -> str:
    first17 = region + birth + f"{uuid.uuid4().int % 1000:03d}"
    return first17 + id_check_char(first17)


def zh_hello() -> str | None:
    """The zh_Hans translation of "Hello, {name}", if the catalogue has one yet."""
    if not ZH_CATALOGUE.exists():
        return None
    try:
        with ZH_CATALOGUE.open("rb") as fh:
            catalogue = read_po(fh, locale="zh")
    except Exception:  # being written right now by someone else: fall back
        return None
    message = catalogue.get("Hello, {name}")
    if message is None or not message.string or message.fuzzy:
        return None
    return str(message.string)


async def assert_no_full_ids(page: Page, id_numbers: list[str]) -> None:
    """Neither the visible text nor the markup (nor input values) holds a full ID number."""
    text = await page.inner_text("body")
    html = await page.content()
    values = await page.eval_on_selector_all("input, textarea", "els => els.map(e => e.value)")
    for id_number in id_numbers:
        where = page.url
        assert id_number not in text, f"full ID number in the text of {where}"
        assert id_number not in html, f"full ID number in the markup of {where}"
        assert id_number not in " ".join(values), f"full ID number in a field of {where}"


async def test_mediator_intake_and_party_join_link(
    live_server: LiveServer, new_context: Contexts, make_mediator: MakeStaff
) -> None:
    base = live_server.base_url
    hello_zh = zh_hello()  # read before the server first renders Chinese
    staff = await make_mediator()

    title = unique("邻里漏水纠纷")
    applicant, respondent = unique("王秀英"), unique("李建国")
    applicant_id = resident_id("140403", "19800101")
    respondent_id = resident_id("140402", "19750505")
    id_numbers = [applicant_id, respondent_id]

    # --- Context A: the mediator ---------------------------------------------------------
    mediator = await new_context()
    await mediator.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = await mediator.new_page()

    await page.goto("/")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    form = page.locator("#login-form")
    await form.locator("input[name=username]").fill(staff.username)
    await form.locator("input[name=password]").fill(staff.password)
    await form.locator("button[type=submit]").click()
    await page.wait_for_url(f"{base}/cases")
    await expect(page.get_by_text(staff.name)).to_be_visible()

    await page.get_by_test_id("new-case").click()
    await page.wait_for_url(f"{base}/cases/new")
    intake = page.locator("#intake-form")
    await intake.locator("select[name=dispute_type]").select_option("neighbour")
    await intake.locator("input[name=title]").fill(title)
    await intake.locator("textarea[name=summary]").fill("楼上卫生间漏水，损坏楼下天花板。")
    parties = intake.locator("#parties fieldset.party")
    await expect(parties).to_have_count(2)
    for i, (name, id_number, phone) in enumerate(
        [(applicant, applicant_id, "13800000001"), (respondent, respondent_id, "13900000002")]
    ):
        fieldset = parties.nth(i)
        await fieldset.locator('[data-field="name"]').fill(name)
        await fieldset.locator('[data-field="id_number"]').fill(id_number)
        await fieldset.locator('[data-field="phone"]').fill(phone)
    await expect(parties.nth(0).locator('[data-field="role"]')).to_have_value("applicant")
    await expect(parties.nth(1).locator('[data-field="role"]')).to_have_value("respondent")

    await page.get_by_test_id("create-case").click()
    try:
        await page.wait_for_url(re.compile(re.escape(base) + r"/cases/\d+$"))
    except PlaywrightTimeout:
        errors = await page.locator("#intake-error, [data-field-error]").all_inner_texts()
        pytest.fail(f"the intake form did not open a case: {errors}")
    case_id = int(page.url.rsplit("/", 1)[1])

    # The number shown is the one the API holds for this case.
    r = await mediator.request.get(f"/api/cases/{case_id}")
    assert r.ok, await r.text()
    case = await r.json()
    assert case["title"] == title
    number = case["number"]
    assert number
    await expect(page.get_by_test_id("case-number")).to_have_text(number)
    await expect(page.locator("h1")).to_have_text(title)
    rows = page.locator(".party-row")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text(applicant)
    await expect(rows.nth(0)).to_contain_text(mask_id_number(applicant_id) or "")
    await expect(rows.nth(1)).to_contain_text(respondent)
    await assert_no_full_ids(page, id_numbers)

    # Join link for the first party, copied to the clipboard.
    await page.get_by_test_id("invite-1").click()
    link_input = rows.nth(0).locator("input.link-url")
    await expect(link_input).to_have_value(re.compile("^" + re.escape(f"{base}/join/") + ".+"))
    await rows.nth(0).locator("button.copy").click()
    await expect(page.locator("#toast")).to_have_class(re.compile(r"\bshow\b"))
    copied = await page.evaluate("navigator.clipboard.readText()")
    link = await link_input.input_value()
    assert copied == link
    assert copied.startswith(base + "/join/")
    await assert_no_full_ids(page, id_numbers)

    await page.set_viewport_size(PHONE)
    await page.screenshot(path=SHOTS / "case_page.png", full_page=True)

    # --- Context B: the party, on a phone, with no cookies ---------------------------------
    party = await new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    assert await party.cookies() == []
    phone = await party.new_page()
    await phone.goto(copied)
    await phone.wait_for_url(f"{base}/my-case")

    greeting = phone.get_by_test_id("greeting")
    await expect(phone.locator("html")).to_have_attribute("lang", "zh-Hans")
    await expect(greeting).to_contain_text(applicant)
    await expect(phone.get_by_test_id("party-case")).to_contain_text(number)
    await expect(phone.get_by_test_id("party-case")).to_contain_text(title)
    if hello_zh is not None:
        await expect(greeting).to_have_text(hello_zh.format(name=applicant))
        assert CJK.search(hello_zh), hello_zh
    else:
        # No Chinese catalogue yet: the page is marked Chinese and shows the Chinese title.
        assert CJK.search(title)
        assert title in await phone.inner_text("body")
    await expect(phone.get_by_text(mask_id_number(applicant_id) or "")).to_be_visible()
    await assert_no_full_ids(phone, id_numbers)
    await phone.screenshot(path=SHOTS / "party_page.png", full_page=True)

    await phone.get_by_test_id("lang-en").click()
    await expect(phone.locator("html")).to_have_attribute("lang", "en")
    await expect(greeting).to_have_text(f"Hello, {applicant}")
    await expect(phone.get_by_test_id("lang-zh_Hans")).to_be_visible()
    await assert_no_full_ids(phone, id_numbers)
    await phone.screenshot(path=SHOTS / "party_page_en.png", full_page=True)

    # The choice sticks: the next visit of the same page is still English.
    await phone.goto("/my-case")
    await expect(phone.locator("html")).to_have_attribute("lang", "en")
    await expect(greeting).to_have_text(f"Hello, {applicant}")

    # What the API shows the party of their own case carries masked ID numbers only.
    r = await party.request.get(f"/api/cases/{case_id}")
    assert r.ok, r.status
    body = await r.text()
    assert applicant_id not in body and respondent_id not in body
    assert mask_id_number(applicant_id) in body


async def test_intake_errors_are_tied_to_their_fields(
    live_server: LiveServer, new_context: Contexts, make_mediator: MakeStaff
) -> None:
    """Sent with errors in the case and in both parties: each invalid field is marked and
    described by the message that names it (each party's own, the form's for the case's
    fields), the messages are alerts, and the focus is on the first invalid field. Then an
    error the service finds (an ID number's check character), the same way. Fixed, the case
    opens."""
    staff = await make_mediator()
    context = await new_context()
    r = await context.request.post(
        "/api/auth/login", data={"username": staff.username, "password": staff.password}
    )
    assert r.ok, await r.text()
    page = await context.new_page()
    await page.goto("/cases/new?lang=en")
    parties = page.locator("#parties fieldset.party")
    await expect(parties).to_have_count(2)
    first, second = parties.nth(0), parties.nth(1)
    # The first party: no name, and a phone number that is not one.
    await first.locator('[data-field="phone"]').fill("call me")
    await page.get_by_test_id("create-case").click()

    title = page.locator("input[name=title]")
    await expect(title).to_have_attribute("aria-invalid", "true")
    await expect(title).to_be_focused()
    await expect(title).to_have_attribute("aria-describedby", "intake-error")
    await expect(page.locator("#intake-error")).to_contain_text("Title")
    await expect(page.locator("#intake-error")).to_have_attribute("role", "alert")

    ids = []
    for fieldset, fields in ((first, ["name", "phone"]), (second, ["name"])):
        message = fieldset.locator("[data-field-error]")
        await expect(message).to_have_attribute("role", "alert")
        message_id = await message.get_attribute("id")
        assert message_id, "a party's error message without an id"
        ids.append(message_id)
        for field in fields:
            invalid = fieldset.locator(f'[data-field="{field}"]')
            await expect(invalid).to_have_attribute("aria-invalid", "true")
            await expect(invalid).to_have_attribute("aria-describedby", message_id)
        # One line per invalid field, each naming its field.
        await expect(message).to_contain_text("Name")
        lines = (await message.inner_text()).strip().splitlines()
        assert len(lines) == len(fields), lines
    await expect(first.locator("[data-field-error]")).to_contain_text("Phone")
    assert len(set(ids)) == 2, ids
    for quiet in (second.locator('[data-field="phone"]'), page.locator("[name=summary]")):
        await expect(quiet).not_to_have_attribute("aria-invalid", "true")
        await expect(quiet).not_to_have_attribute("aria-describedby", re.compile("."))

    # Those fixed; an ID number with a wrong check character, found by the service.
    good_id = resident_id("140403", "19800101")
    bad_id = good_id[:17] + ("0" if good_id[17] != "0" else "1")
    await title.fill(unique("无障碍表单"))
    await first.locator('[data-field="name"]').fill(unique("王"))
    await first.locator('[data-field="phone"]').fill("13800000001")
    await second.locator('[data-field="name"]').fill(unique("李"))
    id_field = first.locator('[data-field="id_number"]')
    await id_field.fill(bad_id)
    await page.get_by_test_id("create-case").click()
    await expect(id_field).to_be_focused()
    await expect(id_field).to_have_attribute("aria-invalid", "true")
    await expect(id_field).to_have_attribute("aria-describedby", ids[0])
    await expect(first.locator("[data-field-error]")).to_contain_text("check digit")
    await expect(title).not_to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#intake-error")).to_be_empty()
    await expect(second.locator("[data-field-error]")).to_be_empty()

    await id_field.fill(good_id)
    await page.get_by_test_id("create-case").click()
    await page.wait_for_url(re.compile(re.escape(live_server.base_url) + r"/cases/\d+$"))
