"""The video mediation room in real browsers: who receives whom, measured in the page.

Each person is a fresh Chromium context with the fake camera and microphone (a moving test
picture and a beeping tone). What a page receives is read from its own peer connection:
``getStats()`` inbound-rtp entries, mapped to the sender through the offer's mid -> participant
map (``window.room.tracks``). Video counts as received when ``framesDecoded`` grows, sound
when ``totalAudioEnergy`` grows (Chromium counts only audio that is actually played out).

The join and reconnect times printed here are single measurements for orientation; the
benchmark measures them properly.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import Contexts, LiveServer, MakeStaff, Staff
from tests.conftest import unique

pytestmark = pytest.mark.browser

KINDS = ("video", "audio")
MEDIA = ["camera", "microphone"]
STATE_SECONDS = 15.0  # a page reaching a state (in-call, lobby)
FLOW_SECONDS = 20.0  # media starting to flow after an admission or a caucus ends
FLOW_FRAMES = 5  # "flowing": this many more frames decoded (and more sound played)
# "Nothing arrives" is judged over a window in which allowed streams through the same server
# decoded this many more frames (at 24 frames/s, about 1.5 s: as long as the fixed waits
# this replaces, and longer when the server is slow, as it then should be) ...
CONTROL_FRAMES = 36
GATE_SECONDS = 20.0  # ... and a wall has this long to settle (packets in flight as it closed)
RECONNECT_LIMIT = 5.0
JOIN_STEPS = ["link", "ready", "join", "lobby", "admit", "in-call", "frame"]

Key = tuple[str, str]  # (participant id, kind)
Counters = dict[Key, dict[str, float]]
# name -> (page, the senders whose media it should or should not get; None: anyone's)
Receivers = dict[str, tuple[Page, list[str]]]
Walled = dict[str, tuple[Page, list[str] | None]]

# In the page: every inbound-rtp entry of its current peer connection, with the participant
# whose media it carries (from the mid; trackIdentifier as a fallback for an entry without a
# mid), and those summed per "participant/kind" (entries the last offer does not name left out).
_ENTRIES_FN = """
async function entries() {
  const room = window.room;
  const pc = room && room.pc;
  if (!pc) return [];
  const map = room.tracks || {};
  const midOfTrack = {};
  for (const tr of pc.getTransceivers()) {
    const track = tr.receiver && tr.receiver.track;
    if (tr.mid != null && track) midOfTrack[track.id] = tr.mid;
  }
  const out = [];
  (await pc.getStats()).forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    const mid = s.mid != null ? s.mid : midOfTrack[s.trackIdentifier];
    const info = map[mid];
    out.push({
      mid: mid == null ? null : String(mid),
      participant_id: info ? info.participant_id : null,
      kind: s.kind,
      frames: s.framesDecoded || 0,
      energy: s.totalAudioEnergy || 0,
      packets: s.packetsReceived || 0,
    });
  });
  return out;
}
function counters(list) {
  const out = {};
  for (const e of list) {
    if (e.participant_id == null) continue;
    const key = e.participant_id + "/" + e.kind;
    const slot = (out[key] ??= { frames: 0, energy: 0, packets: 0 });
    slot.frames += e.frames;
    slot.energy += e.energy;
    slot.packets += e.packets;
  }
  return out;
}
"""
_INBOUND_JS = "async () => {" + _ENTRIES_FN + "return entries(); }"

# In the page, until `timeoutMs`: wait until each of `keys` has grown past `base` (video: by
# `frames` decoded frames; audio: more sound played). Returns {grown, now}.
_WAIT_GROWN_JS = (
    "async ({ base, keys, frames, timeoutMs, everyMs }) => {"
    + _ENTRIES_FN
    + """
  const zero = { frames: 0, energy: 0, packets: 0 };
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const now = counters(await entries());
    const grown = keys.every((key) => {
      const a = base[key] || zero;
      const b = now[key] || zero;
      return key.endsWith("/video") ? b.frames >= a.frames + frames : b.energy > a.energy;
    });
    if (grown || performance.now() > deadline) return { grown, now };
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}"""
)

# Every value the page's data-state takes from now on, in order (the reconnect test).
_WATCH_STATES_JS = """
() => {
  const room = document.getElementById("room");
  window.__states = [room.dataset.state];
  new MutationObserver(() => window.__states.push(room.dataset.state))
    .observe(room, { attributes: true, attributeFilter: ["data-state"] });
}
"""


# -- measuring ------------------------------------------------------------------------------


ZERO = {"frames": 0, "energy": 0.0, "packets": 0}


async def inbound_entries(page: Page) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = await page.evaluate(_INBOUND_JS)
    return entries


def summed(entries: Iterable[dict[str, Any]]) -> Counters:
    """(participant id, kind) -> {"frames", "energy", "packets"}, summed over the mids of one
    sender (an old, inactive m-line keeps its last counts). Unmapped entries are left out."""
    out: Counters = {}
    for e in entries:
        if e["participant_id"] is None:
            continue
        slot = out.setdefault((e["participant_id"], e["kind"]), dict(ZERO))
        for name in ZERO:
            slot[name] += e[name]
    return out


async def inbound(page: Page) -> Counters:
    """What this page receives right now, per sender and kind."""
    return summed(await inbound_entries(page))


def describe(samples: Counters, keys: Iterable[Key]) -> str:
    return ", ".join(
        f"{pid}/{kind}: frames={samples.get((pid, kind), ZERO)['frames']}"
        f" energy={samples.get((pid, kind), ZERO)['energy']:.6f}"
        f" packets={samples.get((pid, kind), ZERO)['packets']}"
        for pid, kind in keys
    )


def keys_of(senders: Iterable[str], kinds: Iterable[str] = KINDS) -> list[Key]:
    return [(pid, kind) for pid in senders for kind in kinds]


async def wait_grown(
    page: Page, keys: list[Key], base: Counters, *, frames: int, within: float, every: float = 0.1
) -> tuple[bool, Counters]:
    """Wait in the page until each key has grown past ``base`` (see _WAIT_GROWN_JS); returns
    whether it did within ``within`` seconds, and the last counters."""
    result = await page.evaluate(
        _WAIT_GROWN_JS,
        {
            "base": {f"{pid}/{kind}": v for (pid, kind), v in base.items()},
            "keys": [f"{pid}/{kind}" for pid, kind in keys],
            "frames": frames,
            "timeoutMs": within * 1000,
            "everyMs": every * 1000,
        },
    )
    now = {(k.split("/", 1)[0], k.split("/", 1)[1]): v for k, v in result["now"].items()}
    return bool(result["grown"]), now


async def assert_flowing(receivers: Receivers, *, within: float = FLOW_SECONDS) -> None:
    """Each receiver's page gets video and sound from each of its senders: FLOW_FRAMES more
    frames decoded and more sound played than when this was called (waited for, until
    ``within``)."""

    async def flowing(name: str, page: Page, senders: list[str]) -> str | None:
        keys = keys_of(senders)
        base = await inbound(page)
        grown, now = await wait_grown(page, keys, base, frames=FLOW_FRAMES, within=within)
        return None if grown else f"{name} ({describe(base, keys)} -> {describe(now, keys)})"

    missing = await asyncio.gather(*(flowing(n, p, s) for n, (p, s) in receivers.items()))
    if any(missing):
        pytest.fail(
            f"media not flowing within {within:.0f} s to: " + "; ".join(filter(None, missing)),
            pytrace=False,
        )


async def control_window(control: Receivers, deadline: float) -> None:
    """Wait until each control page has decoded CONTROL_FRAMES more frames from each of its
    control senders: media demonstrably went through the server meanwhile."""

    async def advanced(name: str, page: Page, senders: list[str]) -> str | None:
        keys = keys_of(senders, ["video"])
        base = await inbound(page)
        within = max(0.1, deadline - time.monotonic())
        grown, now = await wait_grown(page, keys, base, frames=CONTROL_FRAMES, within=within)
        return None if grown else f"{name} ({describe(base, keys)} -> {describe(now, keys)})"

    stalled = await asyncio.gather(*(advanced(n, p, s) for n, (p, s) in control.items()))
    if any(stalled):
        pytest.fail(
            "the control streams did not advance, so nothing arriving proves nothing: "
            + "; ".join(filter(None, stalled)),
            pytrace=False,
        )


async def assert_walled(
    walled: Walled, control: Receivers, *, arrived_before: bool, within: float = GATE_SECONDS
) -> None:
    """Nothing from the walled senders reaches each walled page (no packet, no decoded frame,
    no sound), over a window in which the control pages decoded CONTROL_FRAMES more frames
    of allowed media through the same server: a server too slow to forward anything fails
    this rather than passing it.

    ``arrived_before``: the walled media reached these pages before the gate closed (a
    caucus), and must now stand still; a window in which some still arrived (packets in
    flight as the gate closed) is followed by another, until ``within``. Otherwise (the
    lobby, standing by) none may ever have arrived: every counter is zero after the window.
    """
    deadline = time.monotonic() + within
    names = list(walled)

    async def snapshot() -> list[list[dict[str, Any]]]:
        return list(await asyncio.gather(*(inbound_entries(walled[n][0]) for n in names)))

    while True:
        first = await snapshot()
        if arrived_before:
            for name, entries in zip(names, first, strict=True):
                senders = walled[name][1]
                assert senders is not None
                got = summed(entries)
                # Not vacuous: these senders' media did reach this page before (still mapped).
                for key in keys_of(senders):
                    counted = got.get(key, ZERO)["frames" if key[1] == "video" else "energy"]
                    assert counted > 0, f"{name} has no earlier {key[1]} of {key[0]}: {got}"
        await control_window(control, deadline)
        second = await snapshot()
        reaching = []
        for name, before, after in zip(names, first, second, strict=True):
            senders = walled[name][1]
            if senders is None:  # nobody's media
                arrived = [e for e in after if e["frames"] or e["energy"] or e["packets"]]
                if arrived:
                    reaching.append(f"{name} ({arrived})")
                continue
            keys = keys_of(senders)
            was, now = summed(before), summed(after)
            if arrived_before:
                moved = any(was.get(k, ZERO) != now.get(k, ZERO) for k in keys)
            else:
                moved = any(now.get(k, ZERO) != ZERO for k in keys)
            if moved:
                reaching.append(f"{name} ({describe(was, keys)} -> {describe(now, keys)})")
        if not reaching:
            return
        if not arrived_before or time.monotonic() > deadline:
            pytest.fail("media still reaching: " + "; ".join(reaching), pytrace=False)


async def first_frame(page: Page, sender: str, *, within: float) -> float:
    """Wait until a frame from ``sender`` is decoded on ``page``; return time.monotonic()."""
    key = (sender, "video")
    grown, now = await wait_grown(page, [key], {}, frames=1, within=within, every=0.05)
    if not grown:
        pytest.fail(
            f"not within {within:.0f} s: a frame of {sender} decoded ({now})", pytrace=False
        )
    return time.monotonic()


async def wait_state(page: Page, state: str, within: float = STATE_SECONDS) -> None:
    await page.wait_for_function(
        "s => window.room && window.room.state === s", arg=state, timeout=within * 1000
    )


def report(capsys: pytest.CaptureFixture[str], text: str) -> None:
    with capsys.disabled():
        print(f"\n[room timing] {text}")


# -- the meeting ----------------------------------------------------------------------------


@dataclass
class Setup:
    """A case with two parties, their join links, and a room, made through the API."""

    staff: Staff
    case_id: int
    room_id: int
    room_url: str
    mediator: str  # participant ids
    applicant: str
    respondent: str
    links: dict[str, str]  # participant id -> join link


async def prepare(live_server: LiveServer, make_mediator: MakeStaff, *, auto_admit: bool) -> Setup:
    staff = await make_mediator()
    async with httpx.AsyncClient(
        base_url=live_server.base_url, timeout=15.0, trust_env=False
    ) as api:
        r = await api.post(
            "/api/auth/login", json={"username": staff.username, "password": staff.password}
        )
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        body = {
            "dispute_type": "neighbour",
            "title": unique("视频调解测试"),
            "summary": "楼上漏水，损坏楼下天花板。",
            "parties": [
                {"role": "applicant", "kind": "person", "name": unique("王")},
                {"role": "respondent", "kind": "person", "name": unique("李")},
            ],
        }
        r = await api.post("/api/cases", json=body, headers=headers)
        assert r.status_code == 201, r.text
        case = r.json()
        parties = {p["role"]: p["id"] for p in case["parties"]}
        links = {}
        for role in ("applicant", "respondent"):
            r = await api.post(
                f"/api/cases/{case['id']}/invitations",
                json={"party_id": parties[role]},
                headers=headers,
            )
            assert r.status_code == 201, r.text
            links[f"party-{parties[role]}"] = r.json()["url"]
        r = await api.post(
            f"/api/cases/{case['id']}/rooms",
            json={"kind": "mediation", "auto_admit": auto_admit},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        room = r.json()
    assert room["auto_admit"] is auto_admit
    return Setup(
        staff=staff,
        case_id=case["id"],
        room_id=room["id"],
        room_url=room["url"],
        mediator=f"user-{staff.user['id']}",
        applicant=f"party-{parties['applicant']}",
        respondent=f"party-{parties['respondent']}",
        links=links,
    )


async def media_context(new_context: Contexts, live_server: LiveServer) -> BrowserContext:
    context = await new_context()
    await context.grant_permissions(MEDIA, origin=live_server.base_url)
    return context


async def host_joins(new_context: Contexts, live_server: LiveServer, setup: Setup) -> Page:
    """The mediator signs in, opens the room and joins: in the call at once."""
    context = await media_context(new_context, live_server)
    r = await context.request.post(
        "/api/auth/login",
        data={"username": setup.staff.username, "password": setup.staff.password},
    )
    assert r.ok, await r.text()
    page = await context.new_page()
    await page.goto(setup.room_url)
    await wait_state(page, "prejoin")
    await page.get_by_test_id("join").click()
    await wait_state(page, "in-call")
    assert await page.evaluate("window.room.participantId") == setup.mediator
    return page


async def party_opens(
    new_context: Contexts, live_server: LiveServer, setup: Setup, pid: str
) -> tuple[Page, dict[str, float]]:
    """A party opens their join link, which leads straight into the open room; ticks the
    consents and joins.

    Returns the page and time.monotonic() marks: "link" just before the join link was
    opened, "ready" when the room page was ready (pre-join), "join" after the click on Join.
    """
    context = await media_context(new_context, live_server)
    page = await context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    marks = {"link": time.monotonic()}
    await page.goto(setup.links[pid])
    await page.wait_for_url(setup.room_url)
    await wait_state(page, "prejoin")
    await page.wait_for_function("() => window.room.local.video && window.room.local.audio")
    marks["ready"] = time.monotonic()
    assert await page.evaluate("window.room.participantId") == pid
    await expect(page.get_by_test_id("join")).to_be_disabled()
    await page.get_by_test_id("consent-online").check()
    await page.get_by_test_id("consent-recording").check()
    await page.get_by_test_id("join").click()
    marks["join"] = time.monotonic()
    # Join used the connection the page made while the person checked their camera.
    await page.wait_for_function("() => ['lobby', 'in-call'].includes(window.room.state)")
    assert await page.evaluate("window.room.standby") is False
    assert len(sockets) == 1 and "?prejoin=1" in sockets[0], sockets
    return page, marks


async def admit(host: Page, party: Page, pid: str) -> dict[str, float]:
    """The party waits in the lobby; the host lets them in. Returns time.monotonic() marks:
    "lobby" (the party's page in the lobby), "admit" (the host's click), "in-call"."""
    await wait_state(party, "lobby")
    marks = {"lobby": time.monotonic()}
    button = host.get_by_test_id(f"admit-{pid}")
    await expect(button).to_be_visible()
    await button.click()
    marks["admit"] = time.monotonic()
    await wait_state(party, "in-call")
    marks["in-call"] = time.monotonic()
    return marks


# -- the tests ------------------------------------------------------------------------------


async def test_three_people_each_receive_the_other_two(
    live_server: LiveServer,
    new_context: Contexts,
    make_mediator: MakeStaff,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Mediator, applicant and respondent, each in their own browser: everyone decodes the
    other two's video and plays their sound. Also times a party's join."""
    setup = await prepare(live_server, make_mediator, auto_admit=False)
    m, a, r = setup.mediator, setup.applicant, setup.respondent
    host = await host_joins(new_context, live_server, setup)

    pages = {m: host}
    for pid in (a, r):
        page, marks = await party_opens(new_context, live_server, setup, pid)
        marks |= await admit(host, page, pid)
        marks["frame"] = await first_frame(page, m, within=FLOW_SECONDS)
        steps = ", ".join(
            f"{x}->{y} {marks[y] - marks[x]:.2f}" for x, y in itertools.pairwise(JOIN_STEPS)
        )
        total = marks["frame"] - marks["link"]
        report(
            capsys,
            f"join ({pid}, {len(pages)} already in the call): {total:.2f} s from opening the"
            f" join link to the first frame of the mediator decoded ({steps});"
            f" {marks['frame'] - marks['join']:.2f} s from the click on Join, of which"
            f" {marks['frame'] - marks['admit']:.2f} s after the host's admit click",
        )
        pages[pid] = page

    await assert_flowing(
        {pid: (page, [o for o in pages if o != pid]) for pid, page in pages.items()}
    )
    # Every remote person has a tile with a playing video element.
    for pid, page in pages.items():
        for other in pages:
            if other == pid:
                continue
            await expect(page.get_by_test_id(f"tile-{other}")).to_be_visible()
            await expect(page.get_by_test_id(f"video-{other}")).to_have_js_property("paused", False)


async def test_caucus_keeps_the_other_side_out(
    live_server: LiveServer, new_context: Contexts, make_mediator: MakeStaff
) -> None:
    """In a caucus of the mediator and the applicant, the respondent decodes and plays
    nothing from either, and sees the notice; afterwards the respondent gets both again."""
    setup = await prepare(live_server, make_mediator, auto_admit=False)
    m, a, r = setup.mediator, setup.applicant, setup.respondent
    host = await host_joins(new_context, live_server, setup)
    applicant, _ = await party_opens(new_context, live_server, setup, a)
    await admit(host, applicant, a)
    respondent, _ = await party_opens(new_context, live_server, setup, r)
    await admit(host, respondent, r)
    await assert_flowing({"respondent": (respondent, [m, a]), "applicant": (applicant, [m, r])})
    notice = respondent.get_by_test_id("caucus-notice")
    await expect(notice).to_be_hidden()

    await host.get_by_test_id(f"caucus-check-{a}").check()
    await host.get_by_test_id("caucus-start").click()
    await expect(notice).to_be_visible()
    await expect(host.get_by_test_id("caucus-end")).to_be_visible()
    await expect(applicant.get_by_test_id("caucus-mine")).to_be_visible()
    await expect(applicant.get_by_test_id("caucus-notice")).to_be_hidden()

    # The wall goes both ways: the respondent gets nothing from the caucus, and the caucus
    # nothing from the respondent, while inside it the applicant and the mediator still see
    # each other (the control: media does go through the server meanwhile).
    await assert_walled(
        {
            "respondent": (respondent, [m, a]),
            "applicant": (applicant, [r]),
            "mediator": (host, [r]),
        },
        control={"applicant": (applicant, [m]), "mediator": (host, [a])},
        arrived_before=True,
    )
    await assert_flowing({"applicant": (applicant, [m]), "mediator": (host, [a])}, within=5.0)
    await expect(notice).to_be_visible()

    await host.get_by_test_id("caucus-end").click()
    await expect(notice).to_be_hidden()
    await assert_flowing(
        {"respondent": (respondent, [m, a]), "applicant": (applicant, [r]), "mediator": (host, [r])}
    )


async def test_lobby_gets_nothing_until_admitted(
    live_server: LiveServer, new_context: Contexts, make_mediator: MakeStaff
) -> None:
    """A party in the lobby neither receives nor sends media, while the mediator and the
    other party, already in the call, see each other; once admitted, both flow."""
    setup = await prepare(live_server, make_mediator, auto_admit=False)
    m, a, r = setup.mediator, setup.applicant, setup.respondent
    host = await host_joins(new_context, live_server, setup)
    respondent, _ = await party_opens(new_context, live_server, setup, r)
    await admit(host, respondent, r)
    party, _ = await party_opens(new_context, live_server, setup, a)
    await wait_state(party, "lobby")
    await expect(party.get_by_test_id("lobby-wait")).to_be_visible()
    await expect(host.get_by_test_id(f"admit-{a}")).to_be_visible()  # the server has them waiting

    await assert_walled(
        {"party": (party, None), "host": (host, [a]), "respondent": (respondent, [a])},
        control={"host": (host, [r]), "respondent": (respondent, [m])},
        arrived_before=False,
    )
    assert await party.evaluate("window.room.state") == "lobby"

    await host.get_by_test_id(f"admit-{a}").click()
    await wait_state(party, "in-call")
    await assert_flowing({"party": (party, [m, r]), "host": (host, [a])})


async def test_party_reconnects_after_losing_the_socket(
    live_server: LiveServer,
    new_context: Contexts,
    make_mediator: MakeStaff,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The party's socket drops: within 5 s the party is back in the call, without the
    lobby, and decodes the mediator's video again."""
    setup = await prepare(live_server, make_mediator, auto_admit=False)
    m, a = setup.mediator, setup.applicant
    host = await host_joins(new_context, live_server, setup)
    party, _ = await party_opens(new_context, live_server, setup, a)
    await admit(host, party, a)
    await assert_flowing({"party": (party, [m]), "host": (host, [a])})
    old_pc = await party.evaluate_handle("window.room.pc")

    await party.evaluate(_WATCH_STATES_JS)
    dropped = time.monotonic()
    await party.evaluate("window.room.dropSocket()")
    await party.wait_for_function(
        "pc => window.room.pc && window.room.pc !== pc && window.room.state === 'in-call'",
        arg=old_pc,
        timeout=RECONNECT_LIMIT * 1000,
    )
    back = time.monotonic()
    remaining = max(0.1, RECONNECT_LIMIT - (back - dropped))
    seen = await first_frame(party, m, within=remaining)
    states = await party.evaluate("window.__states")
    report(
        capsys,
        f"reconnect ({a}): in the call again {back - dropped:.2f} s after the socket dropped,"
        f" first frame of the mediator decoded after {seen - dropped:.2f} s; states {states}",
    )
    assert seen - dropped <= RECONNECT_LIMIT
    assert "reconnecting" in states, states
    assert "lobby" not in states, f"the party went back to the lobby: {states}"
    assert await party.evaluate("window.room.state") == "in-call"
    await assert_flowing({"party": (party, [m]), "host": (host, [a])}, within=10.0)
    assert await party.evaluate("window.room.ws.readyState") == 1


# The head's standby socket fails to open (its first WebSocket throws): room.js stands by on
# its own, the fallback.
_NO_EARLY_SOCKET_JS = """
const RealWebSocket = window.WebSocket;
window.WebSocket = function () {
  window.WebSocket = RealWebSocket;
  throw new Error("no socket from the head, for this test");
};
"""


# The page's socket claims its prepared connection with a token the server does not know, as
# when the page sat too long before its socket opened (the connection was let go).
_STALE_OFFER_JS = """
const realSet = URLSearchParams.prototype.set;
URLSearchParams.prototype.set = function (name, value) {
  return realSet.call(this, name, name === "standby" ? "not-a-token" : value);
};
"""


@pytest.mark.parametrize("mode", ["prepared", "stale-offer", "room-js-socket"])
async def test_standing_by_in_an_open_meeting(
    live_server: LiveServer, new_context: Contexts, make_mediator: MakeStaff, mode: str
) -> None:
    """In a room that admits by itself, the page connects while the person checks their
    camera: the connection is up before Join, yet nothing is forwarded (while the mediator
    and the respondent in the call see each other), no tile is made and the page finishes
    loading; Join then brings the others' video over that connection. Either the offer that
    came with the page, answered by the page's head and claimed by the socket the head opened;
    or, that offer gone stale, a fresh one on that socket; or, without that socket, from the
    one room.js opens."""
    setup = await prepare(live_server, make_mediator, auto_admit=True)
    m, a, r = setup.mediator, setup.applicant, setup.respondent
    host = await host_joins(new_context, live_server, setup)
    respondent, _ = await party_opens(new_context, live_server, setup, r)
    await wait_state(respondent, "in-call")
    context = await media_context(new_context, live_server)
    if mode == "room-js-socket":
        await context.add_init_script(_NO_EARLY_SOCKET_JS)
    elif mode == "stale-offer":
        await context.add_init_script(_STALE_OFFER_JS)
    page = await context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    # goto waits for the load event: tiles waiting for frames that cannot come held it back.
    await page.goto(setup.links[a], timeout=STATE_SECONDS * 1000)
    await page.wait_for_url(setup.room_url)
    await page.wait_for_function(
        "() => window.room && window.room.pc && window.room.pc.connectionState === 'connected'",
        timeout=STATE_SECONDS * 1000,
    )
    assert await page.evaluate("[window.room.state, window.room.standby]") == ["prejoin", True]
    assert await page.evaluate("document.readyState") == "complete"
    senders = await page.evaluate("Object.values(window.room.tracks).map(t => t.participant_id)")
    assert set(senders) == {m, r}, senders  # offered the others' media, gates shut
    await assert_walled(
        {"party": (page, None)},
        control={"host": (host, [r]), "respondent": (respondent, [m])},
        arrived_before=False,
    )
    assert await page.locator("#tiles [data-participant-id]").count() == 0
    steps = await page.evaluate("window.room.timeline")
    assert {"socket open", "welcome", "offer", "answer sent"} <= set(steps), steps
    # The prepared offer is answered before the socket's welcome; any other after it.
    assert (steps["offer"] <= steps["welcome"]) == (mode == "prepared"), (steps, sockets)
    standby_pc = await page.evaluate_handle("window.room.pc")

    await page.get_by_test_id("consent-online").check()
    await page.get_by_test_id("join").click()
    await wait_state(page, "in-call")
    await first_frame(page, m, within=FLOW_SECONDS)
    assert await page.evaluate("pc => window.room.pc === pc", standby_pc)
    suffix = {"prepared": "&standby=", "stale-offer": "&standby=not-a-token"}.get(mode, "")
    assert len(sockets) == 1 and f"?prejoin=1{suffix}" in sockets[0], sockets
    if mode == "room-js-socket":
        assert sockets[0].endswith("?prejoin=1"), sockets
    await expect(page.get_by_test_id(f"video-{m}")).to_have_js_property("paused", False)
    await assert_flowing({"party": (page, [m, r]), "host": (host, [a])})


# An inline script, as an injection would add it: the policy must refuse to run it.
_INJECT_INLINE_JS = """
() => new Promise((resolve) => {
  window.addEventListener("securitypolicyviolation", (e) => resolve(e.effectiveDirective), {
    once: true,
  });
  const script = document.createElement("script");
  script.textContent = "window.__injected = true";
  document.head.append(script);
})
"""


async def test_pages_keep_to_the_content_security_policy(
    live_server: LiveServer, new_context: Contexts, make_mediator: MakeStaff
) -> None:
    """The case page, and the room page as host and as a party joining, come with a policy
    that forbids inline scripts and framing, and nothing on them breaks it (the contexts'
    watcher fails a test on any violation, conftest.CSP_WATCH_JS). The policy bites: an inline
    script put into the page is refused and reported, which also shows the watcher works.
    Another site cannot frame a page of ours."""
    setup = await prepare(live_server, make_mediator, auto_admit=False)
    a = setup.applicant
    context = await media_context(new_context, live_server)
    r = await context.request.post(
        "/api/auth/login",
        data={"username": setup.staff.username, "password": setup.staff.password},
    )
    assert r.ok, await r.text()
    page = await context.new_page()
    for url in (f"/cases/{setup.case_id}", setup.room_url):
        response = await page.goto(url)
        assert response is not None and response.ok, url
        policy = {
            d.split(" ", 1)[0]: d.split(" ", 1)[1]
            for d in (await response.header_value("content-security-policy") or "").split("; ")
        }
        assert policy["script-src"] == "'self'", (url, policy)
        assert policy["frame-ancestors"] == "'none'", (url, policy)
    await wait_state(page, "prejoin")
    await page.get_by_test_id("join").click()
    await wait_state(page, "in-call")
    party, _ = await party_opens(new_context, live_server, setup, a)
    await admit(page, party, a)
    await first_frame(party, setup.mediator, within=FLOW_SECONDS)
    assert not new_context.csp_violations, new_context.csp_violations

    assert await party.evaluate(_INJECT_INLINE_JS) == "script-src-elem"
    assert await party.evaluate("window.__injected") is None
    await party.evaluate("window.__cspReported")
    assert len(new_context.csp_violations) == 1, new_context.csp_violations
    assert "script-src-elem blocked inline" in new_context.csp_violations.pop()

    framer = await (await new_context()).new_page()
    await framer.set_content(f'<iframe src="{live_server.base_url}/"></iframe>')
    frame = await (await framer.wait_for_selector("iframe")).content_frame()
    assert frame is not None
    await frame.wait_for_load_state()
    assert frame.url.startswith("chrome-error://"), frame.url  # refused, not our sign-in page
