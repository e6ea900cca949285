"""Every page passes axe-core's WCAG 2 A and AA rules, in both languages, on a phone and a
laptop: many parties are elderly and on phones.

axe-core is npm's package, pinned in the Makefile and installed into the venv by
``make test`` (``.venv/axe``). It is injected into each page as a script tag, in contexts
that bypass the Content-Security-Policy (which forbids inline scripts), and run with
``runOnly`` the WCAG 2.0 and 2.1 A and AA tags.

One test per language walks a case through every page and the states people meet on it:
sign-in (also with its error), an unknown join link, the verification page (its form, an
unknown code, a refused file, a verdict), a judge's home, the mediator's case
list (a case in each status the API reaches), intake form (also with its errors) and case
page (room, join links, consent ledger, a new link shown), the party's page, and the room
page as mediator and as party: pre-join check, lobby, in the call with the fake camera (the
sham-mediation warning read, messages open; asked whether to leave, or to end the meeting),
the party's connection dropping and lost (its sockets held or refused by the test), the
meeting ended. Each state is checked at both
viewports by resizing the same page (the layout changes at 600 and 960 px), and every
violation of every state is listed before the test fails, so one run shows all there is to
fix. At the phone's width the page must also not scroll sideways (WCAG 1.4.10, which axe
does not test).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, ViewportSize, WebSocketRoute, expect
from weasyprint import HTML

from tests.browser.conftest import Contexts, LiveServer, MakeStaff, Staff
from tests.browser.test_room import MEDIA, Setup, prepare, wait_state
from tests.conftest import unique

pytestmark = pytest.mark.browser

AXE_DIR = Path(__file__).resolve().parents[2] / ".venv" / "axe" / "node_modules" / "axe-core"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
VIEWPORTS: dict[str, ViewportSize] = {
    "phone": {"width": 390, "height": 844},
    "laptop": {"width": 1280, "height": 800},
}
HTML_LANG = {"zh_Hans": "zh-Hans", "en": "en"}

# axe's result, cut down to what a person fixing the page needs.
_RUN_AXE_JS = """
async (tags) => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags } });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
  }));
}
"""

_TWO_FRAMES_JS = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"

# A fading element (the toast) would be measured half-transparent: wait for its transition
# to end. (Only opacity: the microphone meter's width moves all the time.)
_NO_FADE_JS = """
() => document.getAnimations().every(
  (a) => !(a instanceof CSSTransition && a.transitionProperty === "opacity"
           && a.playState === "running"))
"""

# Not an axe rule: WCAG 1.4.10 (reflow). On a phone the page must not scroll sideways; this
# names the innermost elements that stick out.
_SIDEWAYS_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const scrollWidth = document.documentElement.scrollWidth;
  if (scrollWidth <= width) return null;
  const out = (e) => e.getBoundingClientRect().right > width + 0.5;
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + (typeof e.className === "string" && e.className.trim()
       ? "." + e.className.trim().split(/\\s+/).join(".") : "");
  const wide = [...document.body.querySelectorAll("*")]
    .filter((e) => out(e) && ![...e.children].some(out));
  return { scrollWidth, width, elements: wide.slice(0, 10).map(name) };
}
"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    script = AXE_DIR / "axe.min.js"
    if not script.is_file():
        pytest.fail(
            f"axe-core is not installed ({script} is missing). `make test` installs it; by"
            " hand: npm install --prefix .venv/axe --no-save axe-core@<the Makefile's"
            " AXE_VERSION>",
            pytrace=False,
        )
    return script.read_text()


@pytest.fixture(scope="module")
def axe_version() -> str:
    version: str = json.loads((AXE_DIR / "package.json").read_text())["version"]
    return version


@pytest.fixture(scope="module")
async def judge(make_mediator: MakeStaff) -> Staff:
    return await make_mediator(role="judge")


class Audit:
    """Runs axe on a page in each viewport (and the reflow check on the phone) and keeps
    every violation, labelled."""

    def __init__(self, axe_source: str, language: str) -> None:
        self.axe_source = axe_source
        self.language = language
        self.found: list[str] = []
        self.count = 0  # violating nodes
        self.checked: list[str] = []

    def url(self, path: str) -> str:
        if self.language == "zh_Hans":
            return path  # the default
        return path + ("&" if "?" in path else "?") + f"lang={self.language}"

    async def check(self, page: Page, where: str) -> None:
        await expect(page.locator("html")).to_have_attribute("lang", HTML_LANG[self.language])
        if not await page.evaluate("typeof window.axe !== 'undefined'"):
            await page.add_script_tag(content=self.axe_source)
        for name, size in VIEWPORTS.items():
            await page.set_viewport_size(size)
            # The new layout is in place once two frames have been drawn.
            await page.evaluate(_TWO_FRAMES_JS)
            await page.wait_for_function(_NO_FADE_JS)
            label = f"{where} · {name} {size['width']}x{size['height']}"
            self.checked.append(label)
            for v in await page.evaluate(_RUN_AXE_JS, TAGS):
                self.count += len(v["nodes"])
                lines = [f"[{label}] {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>"]
                for node in v["nodes"]:
                    summary = " ".join((node["summary"] or "").split())
                    lines.append(f"    {' > '.join(map(str, node['target']))}: {summary}")
                self.found.append("\n".join(lines))
            sideways = await page.evaluate(_SIDEWAYS_JS) if name == "phone" else None
            if sideways:
                self.count += len(sideways["elements"])
                self.found.append(
                    f"[{label}] reflow (WCAG 1.4.10): the page is {sideways['scrollWidth']} px"
                    f" wide in a {sideways['width']} px window; sticking out:"
                    f" {', '.join(sideways['elements'])}"
                )
        await page.set_viewport_size(VIEWPORTS["phone"])


async def staff_context(new_context: Contexts, staff: Staff, **options: Any) -> BrowserContext:
    context = await new_context(**options)
    r = await context.request.post(
        "/api/auth/login", data={"username": staff.username, "password": staff.password}
    )
    assert r.ok, await r.text()
    return context


async def cases_in_every_state(live_server: LiveServer, staff: Staff) -> None:
    """Three more cases for the list, so that each status label the API can reach shows."""
    async with httpx.AsyncClient(
        base_url=live_server.base_url, timeout=15.0, trust_env=False
    ) as api:
        r = await api.post(
            "/api/auth/login", json={"username": staff.username, "password": staff.password}
        )
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        for status in ("mediating", "failed", "withdrawn"):
            body = {
                "dispute_type": "debt",
                "title": unique("无障碍检查"),
                "parties": [
                    {"role": "applicant", "kind": "person", "name": unique("张")},
                    {"role": "respondent", "kind": "person", "name": unique("赵")},
                ],
            }
            r = await api.post("/api/cases", json=body, headers=headers)
            assert r.status_code == 201, r.text
            change = {"status": status, "reason": None if status == "mediating" else "双方和解"}
            r = await api.post(f"/api/cases/{r.json()['id']}/status", json=change, headers=headers)
            assert r.status_code == 200, r.text


class Socket:
    """What happens to the room page's next WebSockets: through to the server ("pass"),
    held open with no answer ("hold", the page stays reconnecting) or closed ("refuse")."""

    def __init__(self) -> None:
        self.mode = "pass"

    async def __call__(self, ws: WebSocketRoute) -> None:
        if self.mode == "pass":
            ws.connect_to_server()
        elif self.mode == "refuse":
            await ws.close()


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
async def test_every_page_passes_axe(
    live_server: LiveServer,
    new_context: Contexts,
    make_mediator: MakeStaff,
    judge: Staff,
    axe_source: str,
    axe_version: str,
    language: str,
) -> None:
    audit = Audit(axe_source, language)
    options: dict[str, Any] = {"viewport": VIEWPORTS["phone"], "bypass_csp": True}
    setup: Setup = await prepare(live_server, make_mediator, auto_admit=False)
    await cases_in_every_state(live_server, setup.staff)
    a = setup.applicant

    # Nobody signed in: the sign-in page (also with its error), a join link that does not exist.
    anonymous = await (await new_context(**options)).new_page()
    await anonymous.goto(audit.url("/"))
    await audit.check(anonymous, "sign-in /")
    await anonymous.locator("#login-form button[type=submit]").click()
    await expect(anonymous.locator("#login-error")).not_to_be_empty()
    await audit.check(anonymous, "sign-in /, empty form sent")
    response = await anonymous.goto(audit.url("/join/xyz"))
    assert response is not None and response.status == 401
    await expect(anonymous.get_by_test_id("error-message")).not_to_be_empty()
    await audit.check(anonymous, "error page /join/xyz")

    # The verification page (anyone): the form, a code from a QR code that names nothing, a
    # file that is no PDF, and the verdict on a PDF we did not issue.
    await anonymous.goto(audit.url("/verify"))
    await audit.check(anonymous, "verify /verify")
    await anonymous.goto(audit.url("/verify?code=AAAA-BBBB-CCCC"))
    await expect(anonymous.get_by_test_id("code-result")).to_be_visible()
    await audit.check(anonymous, "verify /verify?code=, unknown code")
    upload = anonymous.locator("input[name=file]")
    await upload.set_input_files(
        files=[{"name": "note.txt", "mimeType": "text/plain", "buffer": b"not a pdf"}]
    )
    await anonymous.get_by_test_id("verify-form").locator("button[type=submit]").click()
    await expect(anonymous.get_by_test_id("verify-problem")).to_be_visible()
    await audit.check(anonymous, "verify /verify, a file that is no PDF")
    plain = await asyncio.to_thread(lambda: HTML(string="<p>不是本平台出具的文件</p>").write_pdf())
    await anonymous.locator("input[name=file]").set_input_files(
        files=[{"name": "other.pdf", "mimeType": "application/pdf", "buffer": plain}]
    )
    await anonymous.get_by_test_id("verify-form").locator("button[type=submit]").click()
    await expect(anonymous.get_by_test_id("verdict")).to_have_attribute("data-genuine", "no")
    await audit.check(anonymous, "verify /verify, a PDF we did not issue")

    judge_page = await (await staff_context(new_context, judge, **options)).new_page()
    await judge_page.goto(audit.url("/home"))
    await expect(judge_page.locator("h1")).to_contain_text(judge.name)
    await audit.check(judge_page, "staff home /home (judge)")

    # The mediator's list and intake form (also with the errors of an empty form).
    mediator = await staff_context(new_context, setup.staff, **options)
    await mediator.grant_permissions(MEDIA, origin=live_server.base_url)
    host = await mediator.new_page()
    await host.goto(audit.url("/cases"))
    await expect(host.locator(".case-row")).to_have_count(4)
    await audit.check(host, "case list /cases")
    await host.goto(audit.url("/cases/new"))
    await expect(host.locator("#parties fieldset.party")).to_have_count(2)
    await audit.check(host, "new case /cases/new")
    await host.get_by_test_id("create-case").click()
    await expect(host.locator('[aria-invalid="true"]').first).to_be_visible()
    await audit.check(host, "new case /cases/new, empty form sent")

    # The party's page, from the join link, before the meeting opens.
    party_context = await new_context(**options)
    await party_context.grant_permissions(MEDIA, origin=live_server.base_url)
    party = await party_context.new_page()
    await party.goto(audit.url(setup.links[a]))
    await party.wait_for_url("**/my-case*")
    await expect(party.get_by_test_id("join-room")).to_be_visible()
    await audit.check(party, "party's case page /my-case")

    # The room: both check their camera, the mediator opens the meeting.
    for page, who in ((host, "mediator"), (party, "party")):
        await page.goto(audit.url(setup.room_url))
        await wait_state(page, "prejoin")
        await page.wait_for_function("() => window.room.local.video && window.room.local.audio")
        await audit.check(page, f"room, {who}, pre-join")
    await host.get_by_test_id("join").click()
    await wait_state(host, "in-call")
    await audit.check(host, "room, mediator, in the call alone")

    # The party joins and waits in the lobby.
    await party.get_by_test_id("consent-online").check()
    await party.get_by_test_id("consent-recording").check()
    await party.get_by_test_id("join").click()
    await wait_state(party, "lobby")
    await expect(host.get_by_test_id(f"admit-{a}")).to_be_visible()
    await audit.check(party, "room, party, in the lobby")
    await audit.check(host, "room, mediator, a party in the lobby")

    # Admitted: both in the call, the warning read, the party's messages open.
    await host.get_by_test_id(f"admit-{a}").click()
    await wait_state(party, "in-call")
    await expect(host.get_by_test_id(f"tile-{a}")).to_be_visible()
    await expect(party.get_by_test_id(f"tile-{setup.mediator}")).to_be_visible()
    await expect(host.get_by_test_id(f"person-{a}")).to_be_visible()
    await host.get_by_test_id("warning-read").click()
    await expect(host.get_by_test_id("warning-text")).to_be_visible()
    await expect(party.get_by_test_id("warning-box")).to_be_visible()
    await party.get_by_test_id("toggle-chat").click()
    await expect(party.get_by_test_id("chat-panel")).to_be_visible()
    await audit.check(host, "room, mediator, in the call with a party")
    await audit.check(party, "room, party, in the call (warning, messages open)")
    await party.get_by_test_id("toggle-chat").click()
    await party.get_by_test_id("leave").click()
    await expect(party.get_by_test_id("leave-box")).to_be_visible()
    await audit.check(party, "room, party, asked whether to leave")
    await party.get_by_test_id("leave-cancel").click()

    # The party's connection drops and cannot come back: reconnecting, then lost; then back.
    socket = Socket()
    await party.route_web_socket(re.compile(r"/signal"), socket)
    socket.mode = "hold"
    await party.evaluate("window.room.dropSocket()")
    await wait_state(party, "reconnecting")
    await audit.check(party, "room, party, reconnecting")
    socket.mode = "refuse"
    await party.evaluate("window.room.dropSocket()")
    await wait_state(party, "failed")
    await audit.check(party, "room, party, connection lost")
    socket.mode = "pass"
    await party.get_by_test_id("reconnect").click()
    await wait_state(party, "in-call")

    # The case page, with its room, join links and consent ledger; a new link shown.
    case_page = await mediator.new_page()
    await case_page.goto(audit.url(f"/cases/{setup.case_id}"))
    await expect(case_page.get_by_test_id("consent-ledger")).to_be_visible()
    await case_page.get_by_test_id("invite-1").click()
    await expect(case_page.locator(".new-link").first).to_be_visible()
    await audit.check(case_page, "case page /cases/{id}")

    # The mediator ends the meeting: both see the end.
    await host.get_by_test_id("end-meeting").click()
    await expect(host.get_by_test_id("end-meeting-confirm")).to_be_visible()
    await audit.check(host, "room, mediator, asked whether to end the meeting")
    await host.get_by_test_id("end-meeting-confirm").click()
    await expect(host.get_by_test_id("ended")).to_be_visible()
    await expect(party.get_by_test_id("ended")).to_be_visible()
    await audit.check(host, "room, mediator, ended")
    await audit.check(party, "room, party, ended")

    if audit.found:
        pytest.fail(
            f"axe-core {axe_version} ({', '.join(TAGS)}), language {language}:"
            f" {audit.count} violating elements in {len(audit.found)} findings over"
            f" {len(audit.checked)} page states\n\n" + "\n\n".join(audit.found),
            pytrace=False,
        )
