"""What axe-core cannot check on the room page, checked the way a keyboard or screen-reader
user meets it (tests/browser/test_a11y.py runs axe on every state).

- Each move to another part of the page (connecting, the lobby, the call, connection lost,
  the end) puts the focus on that part's heading, so that a screen reader says where the
  person now is; a connection that drops and comes back in the middle of the call leaves the
  focus where it was, above all in a message being typed.
- The on/off buttons (mute, camera, sound only, recording) say what a tap does ("Unmute"),
  and so carry no aria-pressed: a screen reader would say "Unmute, pressed".
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import Contexts, LiveServer, MakeStaff
from tests.browser.test_a11y import Socket
from tests.browser.test_room import Setup, admit, media_context, prepare, wait_state

pytestmark = pytest.mark.browser

# Every value the page's state takes from now on, in order.
_WATCH_STATES_JS = """
() => {
  window.__states = [window.room.state];
  const room = document.getElementById("room");
  new MutationObserver(() => window.__states.push(room.dataset.state))
    .observe(room, { attributes: true, attributeFilter: ["data-state"] });
}
"""


async def english(new_context: Contexts, live_server: LiveServer) -> BrowserContext:
    """A context with camera and microphone whose pages are in English (exact labels)."""
    context = await media_context(new_context, live_server)
    await context.add_cookies([{"name": "lang", "value": "en", "url": live_server.base_url}])
    return context


async def expect_focused(page: Page, element_id: str) -> None:
    await expect(page.locator(f"#{element_id}")).to_be_focused()


async def expect_toggle(page: Page, testid: str, name: str, *, on: bool) -> None:
    button = page.get_by_test_id(testid)
    await expect(button).to_have_accessible_name(name)
    await expect(button).to_have_attribute("data-on", "true" if on else "false")
    assert await button.get_attribute("aria-pressed") is None, testid


async def test_focus_follows_the_state_and_toggles_say_what_they_do(
    live_server: LiveServer, new_context: Contexts, make_mediator: MakeStaff
) -> None:
    setup: Setup = await prepare(live_server, make_mediator, auto_admit=False)
    a = setup.applicant

    # The mediator joins: the call's heading has the focus.
    mediator = await english(new_context, live_server)
    r = await mediator.request.post(
        "/api/auth/login",
        data={"username": setup.staff.username, "password": setup.staff.password},
    )
    assert r.ok, await r.text()
    host = await mediator.new_page()
    await host.goto(setup.room_url)
    await wait_state(host, "prejoin")
    await expect(host.get_by_test_id("join")).to_be_focused()  # the page's first step
    await host.get_by_test_id("join").press("Enter")
    await wait_state(host, "in-call")
    await expect_focused(host, "call-title")
    await expect(host.locator("#call-title")).to_have_text("You are in the meeting")

    # The party: connecting, then the lobby's heading; admitted, the call's.
    party = await (await english(new_context, live_server)).new_page()
    await party.goto(setup.links[a])
    await party.wait_for_url(setup.room_url)
    await wait_state(party, "prejoin")
    await expect(party.get_by_test_id("consent-online")).to_be_focused()
    await party.get_by_test_id("consent-online").check()
    await party.get_by_test_id("consent-recording").check()
    await party.evaluate(_WATCH_STATES_JS)
    await party.get_by_test_id("join").click()
    await wait_state(party, "lobby")
    await expect_focused(party, "lobby-title")
    assert (await party.evaluate("window.__states"))[:2] == ["prejoin", "connecting"]
    await admit(host, party, a)
    await expect_focused(party, "call-title")

    # The on/off buttons: the label is the action, the state is not "pressed".
    for testid, off, on in (
        ("toggle-mic", "Mute", "Unmute"),
        ("toggle-camera", "Stop video", "Start video"),
        ("toggle-audio-only", "Sound only", "Video on"),
    ):
        await expect_toggle(party, testid, off, on=False)
        await party.get_by_test_id(testid).click()
        await expect_toggle(party, testid, on, on=True)
        await party.get_by_test_id(testid).click()
        await expect_toggle(party, testid, off, on=False)
    await expect_toggle(host, "recording-toggle", "Start recording", on=False)
    await host.get_by_test_id("recording-toggle").click()
    await expect_toggle(host, "recording-toggle", "Stop recording", on=True)
    await expect(party.get_by_test_id("recording-banner")).to_be_visible()
    await host.get_by_test_id("recording-toggle").click()
    await expect_toggle(host, "recording-toggle", "Start recording", on=False)
    await expect(party.get_by_test_id("recording-banner")).to_be_hidden()

    # Typing a message while the connection drops and comes back: the words stay in focus.
    await party.get_by_test_id("toggle-chat").click()
    chat = party.get_by_test_id("chat-input")
    await expect(chat).to_be_focused()
    await chat.press_sequentially("Hello, can you")
    old_pc = await party.evaluate_handle("window.room.pc")
    await party.evaluate(_WATCH_STATES_JS)
    await party.evaluate("window.room.dropSocket()")
    await party.wait_for_function(
        "pc => window.room.pc !== pc && window.room.state === 'in-call'", arg=old_pc
    )
    assert "reconnecting" in await party.evaluate("window.__states")
    await expect(chat).to_be_focused()
    await expect(chat).to_have_value("Hello, can you")

    # The connection is lost for good: its heading; back in the call on Reconnect: the call's.
    socket = Socket()
    await party.route_web_socket(re.compile(r"/signal"), socket)
    socket.mode = "refuse"
    await party.evaluate("window.room.dropSocket()")
    await wait_state(party, "failed", within=30.0)
    await expect_focused(party, "failed-title")
    socket.mode = "pass"
    await party.get_by_test_id("reconnect").click()
    await wait_state(party, "in-call")
    await expect_focused(party, "call-title")

    # The mediator ends the meeting while the party types: the call (and the message box) is
    # gone, so the end's heading takes the focus on both pages.
    await chat.focus()
    await chat.press_sequentially(" hear me?")
    await host.get_by_test_id("end-meeting").click()
    await host.get_by_test_id("end-meeting-confirm").click()
    for page in (host, party):
        await wait_state(page, "closed")
        await expect_focused(page, "ended-title")
        await expect(page.locator("#ended-title")).to_have_text("The meeting has ended")
