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
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import Contexts, LiveServer, MakeStaff, Staff
from tests.conftest import unique

pytestmark = pytest.mark.browser

T = TypeVar("T")
KINDS = ("video", "audio")
MEDIA = ["camera", "microphone"]
STATE_SECONDS = 15.0  # a page reaching a state (in-call, lobby)
FLOW_SECONDS = 20.0  # media starting to flow after an admission or a caucus ends
SETTLE_SECONDS = 1.5  # packets in flight and jitter buffers after the server closes a gate
RECONNECT_LIMIT = 5.0
JOIN_STEPS = ["link", "ready", "join", "lobby", "admit", "in-call", "frame"]

Key = tuple[str, str]  # (participant id, kind)
Counters = dict[Key, dict[str, float]]

# Every inbound-rtp entry of the page's current peer connection, with the participant whose
# media it carries (from the mid; trackIdentifier as a fallback for an entry without a mid).
_INBOUND_JS = """
async () => {
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
    });
  });
  return out;
}
"""

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


async def inbound_entries(page: Page) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = await page.evaluate(_INBOUND_JS)
    return entries


async def inbound(page: Page) -> Counters:
    """(participant id, kind) -> {"frames", "energy"} of what this page receives right now.

    Summed over the mids of one sender (an old, inactive m-line keeps its last counts).
    Entries whose mid the last offer does not name are left out.
    """
    out: Counters = {}
    for e in await inbound_entries(page):
        if e["participant_id"] is None:
            continue
        slot = out.setdefault((e["participant_id"], e["kind"]), {"frames": 0, "energy": 0.0})
        slot["frames"] += int(e["frames"])
        slot["energy"] += float(e["energy"])
    return out


ZERO = {"frames": 0, "energy": 0.0}


def grew(before: Counters, after: Counters, key: Key) -> bool:
    a, b = before.get(key, ZERO), after.get(key, ZERO)
    if key[1] == "video":
        return b["frames"] > a["frames"]
    return b["energy"] > a["energy"]  # and so > 0


def unchanged(before: Counters, after: Counters, key: Key) -> bool:
    a, b = before.get(key, ZERO), after.get(key, ZERO)
    return a["frames"] == b["frames"] and a["energy"] == b["energy"]


def describe(samples: Counters, keys: Iterable[Key]) -> str:
    return ", ".join(
        f"{pid}/{kind}: frames={samples.get((pid, kind), ZERO)['frames']}"
        f" energy={samples.get((pid, kind), ZERO)['energy']:.6f}"
        for pid, kind in keys
    )


def keys_of(senders: Iterable[str]) -> list[Key]:
    return [(pid, kind) for pid in senders for kind in KINDS]


async def sample_pair(pages: list[Page], gap: float) -> tuple[list[Counters], list[Counters]]:
    """Every page sampled, then ``gap`` seconds, then every page sampled again."""
    first = list(await asyncio.gather(*(inbound(p) for p in pages)))
    await asyncio.sleep(gap)
    second = list(await asyncio.gather(*(inbound(p) for p in pages)))
    return first, second


async def until(
    check: Callable[[], Awaitable[T | None]], *, within: float, what: str, every: float = 0.1
) -> T:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within:.0f} s: {what}", pytrace=False)
        await asyncio.sleep(every)


async def assert_flowing(
    receivers: dict[str, tuple[Page, list[str]]], *, within: float = FLOW_SECONDS
) -> None:
    """Each receiver's page gets video and sound from each of its senders: framesDecoded and
    totalAudioEnergy grow between two samples 1 s apart (retried until ``within``)."""
    deadline = time.monotonic() + within
    names = list(receivers)
    pages = [receivers[n][0] for n in names]
    while True:
        first, second = await sample_pair(pages, 1.0)
        missing = []
        for name, before, after in zip(names, first, second, strict=True):
            keys = keys_of(receivers[name][1])
            if not all(grew(before, after, k) for k in keys):
                missing.append(f"{name} ({describe(before, keys)} -> {describe(after, keys)})")
        if not missing:
            return
        if time.monotonic() > deadline:
            pytest.fail(
                f"media not flowing within {within:.0f} s to: " + "; ".join(missing),
                pytrace=False,
            )


async def assert_still(receivers: dict[str, tuple[Page, list[str]]], gap: float = 2.0) -> None:
    """Nothing more is decoded or played from the given senders: sample, wait, sample, equal."""
    names = list(receivers)
    first, second = await sample_pair([receivers[n][0] for n in names], gap)
    moving = []
    for name, before, after in zip(names, first, second, strict=True):
        keys = keys_of(receivers[name][1])
        # Not vacuous: these senders' media did reach this page before (still mapped).
        for key in keys:
            got = before.get(key, ZERO)
            assert got["frames" if key[1] == "video" else "energy"] > 0, (
                f"{name} has no earlier {key[1]} of {key[0]} to compare with: {before}"
            )
        if not all(unchanged(before, after, k) for k in keys):
            moving.append(f"{name} ({describe(before, keys)} -> {describe(after, keys)})")
    assert not moving, "media still reaching: " + "; ".join(moving)


async def first_frame(page: Page, sender: str, *, within: float) -> float:
    """Wait until a frame from ``sender`` is decoded on ``page``; return time.monotonic()."""

    async def decoded() -> float | None:
        got = (await inbound(page)).get((sender, "video"), ZERO)
        return time.monotonic() if got["frames"] > 0 else None

    return await until(decoded, within=within, what=f"a frame of {sender} decoded", every=0.05)


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
    await asyncio.sleep(SETTLE_SECONDS)

    # The wall goes both ways: the respondent gets nothing from the caucus, and the caucus
    # nothing from the respondent. Inside it, the applicant and the mediator still talk.
    await assert_still(
        {"respondent": (respondent, [m, a]), "applicant": (applicant, [r]), "mediator": (host, [r])}
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
    """A party in the lobby neither receives nor sends media; once admitted, both flow."""
    setup = await prepare(live_server, make_mediator, auto_admit=False)
    m, a = setup.mediator, setup.applicant
    host = await host_joins(new_context, live_server, setup)
    party, _ = await party_opens(new_context, live_server, setup, a)
    await wait_state(party, "lobby")
    await expect(party.get_by_test_id("lobby-wait")).to_be_visible()
    await expect(host.get_by_test_id(f"admit-{a}")).to_be_visible()

    await asyncio.sleep(2.0)  # long enough for media to have arrived, were any sent
    assert await party.evaluate("window.room.state") == "lobby"
    decoded = [e for e in await inbound_entries(party) if e["frames"] > 0 or e["energy"] > 0]
    assert decoded == [], f"the lobby decoded or played media: {decoded}"
    from_party = {k: v for k, v in (await inbound(host)).items() if k[0] == a}
    assert all(v == ZERO for v in from_party.values()), f"the host received {from_party}"
    host_entries = await inbound_entries(host)
    assert all(e["frames"] == 0 and e["energy"] == 0 for e in host_entries), host_entries

    await host.get_by_test_id(f"admit-{a}").click()
    await wait_state(party, "in-call")
    await assert_flowing({"party": (party, [m]), "host": (host, [a])})


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
    camera: the connection is up before Join, yet nothing is forwarded, no tile is made and
    the page finishes loading; Join then brings the mediator's video over that connection.
    Either the offer that came with the page, answered by room/standby.js and claimed by the
    socket the page's head opened; or, that offer gone stale, a fresh one on that socket; or,
    without that socket, from the one room.js opens."""
    setup = await prepare(live_server, make_mediator, auto_admit=True)
    m, a = setup.mediator, setup.applicant
    host = await host_joins(new_context, live_server, setup)
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
    assert set(senders) == {m}, senders  # offered the mediator's media, gates shut
    await asyncio.sleep(SETTLE_SECONDS)
    decoded = [e for e in await inbound_entries(page) if e["frames"] > 0 or e["energy"] > 0]
    assert decoded == [], f"media reached a page standing by: {decoded}"
    assert await page.get_by_test_id(f"tile-{m}").count() == 0
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
    await assert_flowing({"party": (page, [m]), "host": (host, [a])})
