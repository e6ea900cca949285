"""The call fits the window: on a laptop, on a phone (upright and on its side), and as the
window is resized, the others' pictures fill the space between the room's line and the control
bar, nothing scrolls, my own picture stays small in a corner, and the host's panel folds away.

Three real people (the mediator and two parties, each a Chromium context with the fake camera)
are measured in their own pages with getBoundingClientRect and elementFromPoint. Layouts for
two to six people are checked on the layout functions themselves (static/js/room/layout.js, run
in a page) against a brute-force search and the placement done here: that the grid is the one
with the largest pictures, and that my own picture never lies over a face or a name. Six real
participants (six pages encoding and decoding video on a two-core machine shared with other
test runs: about a minute to join them all) were judged too heavy for what they would add.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import Contexts, LiveServer, MakeStaff
from tests.browser.test_room import MEDIA, Setup, prepare, wait_state

pytestmark = pytest.mark.browser

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
BIG_LAPTOP: ViewportSize = {"width": 1440, "height": 900}
SMALL_WINDOW: ViewportSize = {"width": 800, "height": 600}
PHONE: ViewportSize = {"width": 390, "height": 844}
PHONE_ON_ITS_SIDE: ViewportSize = {"width": 844, "height": 390}
SETTLE_MS = 5_000  # a resize reaching the layout (a ResizeObserver, then a frame)
FRAMES_MS = 20_000  # the others' pictures arriving

# In the page: what is wrong with the call's layout (nothing: an empty list). `remote` is how
# many others' tiles there must be; `sheet` says the host's panel lies over the call (a
# narrow screen), so the pictures may be covered by it but not moved.
_PROBLEMS_JS = """
({ remote, sheet }) => {
  const problems = [];
  const vw = window.innerWidth, vh = window.innerHeight;
  const box = (e) => e.getBoundingClientRect();
  const px = (r) => [r.left, r.top, r.width, r.height].map(Math.round).join(",");
  // The element drawn at the middle of `e` belongs to `owner`: nothing lies over it.
  const onTop = (e, owner) => {
    const r = box(e);
    const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return Boolean(at && owner.contains(at));
  };
  const scroller = document.scrollingElement;
  const [sw, sh] = [scroller.scrollWidth, scroller.scrollHeight];
  if (sh > vh || sw > vw) problems.push(`the page scrolls: ${sw}x${sh} in ${vw}x${vh}`);
  const bar = box(document.querySelector(".controls"));
  if (bar.top < 0 || Math.abs(bar.bottom - vh) > 1) problems.push(`control bar at ${px(bar)}`);
  for (const button of document.querySelectorAll(".controls button:not([hidden])")) {
    if (!onTop(button, button)) problems.push(`control ${button.id} is covered`);
  }
  const tiles = [...document.querySelectorAll("#tiles > .tile:not(.self)")];
  if (tiles.length !== remote) problems.push(`${tiles.length} tiles of others, not ${remote}`);
  const side = document.getElementById("side");
  const column = !sheet && side && side.checkVisibility() ? box(side) : null;
  const stage = box(document.getElementById("stage"));
  for (const tile of tiles) {
    const who = tile.dataset.participantId;
    const video = tile.querySelector("video");
    const r = box(video);
    if (!video.videoWidth) problems.push(`${who}: no picture yet`);
    if (r.width < 50 || r.height < 50) problems.push(`${who}: picture ${px(r)} is too small`);
    if (r.left < 0 || r.top < 0 || r.right > vw || r.bottom > vh) {
      problems.push(`${who}: picture ${px(r)} outside the window ${vw}x${vh}`);
    }
    if (r.bottom > bar.top + 0.5) problems.push(`${who}: picture ${px(r)} under the control bar`);
    if (column && r.right > column.left + 0.5) problems.push(`${who}: picture under the side`);
    if (!sheet && !onTop(video, tile)) problems.push(`${who}: picture covered`);
    const name = tile.querySelector(".name");
    if (!name.textContent.trim() || name.textContent === "…") problems.push(`${who}: no name`);
    if (!sheet && !onTop(name, name)) problems.push(`${who}: name "${name.textContent}" covered`);
  }
  // The pictures fill the stage (but for a strip left to my own picture, if any): as large as
  // they can be, so they reach across it one way (whole pixels and a shorter row aside).
  if (tiles.length) {
    const rects = tiles.map(box);
    const width = Math.max(...rects.map((r) => r.right)) - Math.min(...rects.map((r) => r.left));
    const height = Math.max(...rects.map((r) => r.bottom)) - Math.min(...rects.map((r) => r.top));
    const strip = getComputedStyle(document.getElementById("tiles"));
    const across = stage.width - parseFloat(strip.paddingRight);
    const down = stage.height - parseFloat(strip.paddingTop);
    if (width < across * 0.97 && height < down * 0.97) {
      problems.push(`the tiles (${px({ left: 0, top: 0, width, height })}) leave the stage`
        + ` ${px(stage)} unfilled`);
    }
  }
  const self = box(document.getElementById("tile-self"));
  if (self.width * self.height >= (vw * vh) / 6) problems.push(`my picture ${px(self)} is large`);
  if (self.left < 0 || self.top < 0 || self.right > vw || self.bottom > bar.top) {
    problems.push(`my own picture ${px(self)} is not on screen`);
  }
  return problems;
}
"""

# Where things are, to compare before and after (the host's sheet must not move the tiles).
_RECTS_JS = """
() => Object.fromEntries(
  [...document.querySelectorAll("#tiles > .tile:not(.self) video")].map((v) => {
    const r = v.getBoundingClientRect();
    return [v.dataset.testid, [r.left, r.top, r.width, r.height].map(Math.round)];
  }))
"""


async def assert_fits(
    page: Page, what: str, *, remote: int = 2, sheet: bool = False, within_ms: int = SETTLE_MS
) -> None:
    """Wait until the call's layout has no problem (a resize takes a frame or two to reach it);
    fail with the problems otherwise."""
    args = {"remote": remote, "sheet": sheet}
    try:
        await page.wait_for_function(
            f"args => ({_PROBLEMS_JS})(args).length === 0", arg=args, timeout=within_ms
        )
    except PlaywrightTimeout:  # say what is wrong, not only that it timed out
        problems = await page.evaluate(_PROBLEMS_JS, args)
        pytest.fail(f"{what}: " + "; ".join(problems), pytrace=False)


async def media_context(
    new_context: Contexts, live_server: LiveServer, viewport: ViewportSize, *, phone: bool = False
) -> BrowserContext:
    options: dict[str, Any] = {"viewport": viewport}
    if phone:
        options |= {"is_mobile": True, "has_touch": True}
    context = await new_context(**options)
    await context.grant_permissions(MEDIA, origin=live_server.base_url)
    return context


async def host_joins(page: Page, setup: Setup) -> None:
    await page.goto(setup.room_url)
    await wait_state(page, "prejoin")
    await page.get_by_test_id("join").click()
    await wait_state(page, "in-call")


async def party_joins(context: BrowserContext, setup: Setup, pid: str) -> Page:
    """A party opens their link (into the open room), consents and joins; let in at once."""
    page = await context.new_page()
    await page.goto(setup.links[pid])
    await page.wait_for_url(setup.room_url)
    await wait_state(page, "prejoin")
    await page.get_by_test_id("consent-online").check()
    await page.get_by_test_id("join").click()
    await wait_state(page, "in-call")
    return page


async def panel(page: Page, *, open: bool) -> None:
    toggle = page.get_by_test_id("toggle-panel")
    await expect(toggle).to_have_attribute("aria-expanded", "true" if open else "false")
    side = page.locator("#side")
    if open:
        await expect(side).to_be_visible()
    else:
        await expect(side).to_be_hidden()


async def test_three_people_fit_laptops_phones_and_resizing(
    live_server: LiveServer, new_context: Contexts, make_mediator: MakeStaff
) -> None:
    setup = await prepare(live_server, make_mediator, auto_admit=True)
    m, a, r = setup.mediator, setup.applicant, setup.respondent

    mediator = await media_context(new_context, live_server, LAPTOP)
    login = await mediator.request.post(
        "/api/auth/login",
        data={"username": setup.staff.username, "password": setup.staff.password},
    )
    assert login.ok, await login.text()
    host = await mediator.new_page()
    await host_joins(host, setup)
    phone = await party_joins(
        await media_context(new_context, live_server, PHONE, phone=True), setup, a
    )
    laptop = await party_joins(await media_context(new_context, live_server, BIG_LAPTOP), setup, r)
    for page, others in ((host, (a, r)), (phone, (m, r)), (laptop, (m, a))):
        for pid in others:
            await expect(page.get_by_test_id(f"video-{pid}")).to_be_visible()

    # Each as they came: the mediator's panel open beside the tiles.
    await panel(host, open=True)
    await assert_fits(host, "mediator, 1280x800, panel open", within_ms=FRAMES_MS)
    await assert_fits(phone, "party, phone 390x844", within_ms=FRAMES_MS)
    await assert_fits(laptop, "party, 1440x900", within_ms=FRAMES_MS)

    # The mediator's window made small and large again; the phone turned and back.
    await host.set_viewport_size(SMALL_WINDOW)
    await assert_fits(host, "mediator, resized to 800x600")
    await host.set_viewport_size(LAPTOP)
    await assert_fits(host, "mediator, back to 1280x800")
    await phone.set_viewport_size(PHONE_ON_ITS_SIDE)
    await assert_fits(phone, "party, phone on its side 844x390")
    await phone.set_viewport_size(PHONE)
    await assert_fits(phone, "party, phone upright again")

    # The panel folded away: the tiles take its room; opened again: they give it back.
    before = await host.locator("#stage").bounding_box()
    await host.get_by_test_id("toggle-panel").click()
    await panel(host, open=False)
    await assert_fits(host, "mediator, 1280x800, panel folded")
    after = await host.locator("#stage").bounding_box()
    assert before and after and after["width"] > before["width"] + 200, (before, after)
    await host.get_by_test_id("toggle-panel").click()
    await panel(host, open=True)
    await assert_fits(host, "mediator, 1280x800, panel open again")

    # Folded, it stays folded for the session: after a reload, on a phone-sized window too.
    await host.get_by_test_id("toggle-panel").click()
    await panel(host, open=False)
    await host.set_viewport_size(PHONE)
    await host.reload()
    await wait_state(host, "prejoin")
    await panel(host, open=False)
    await host.get_by_test_id("join").click()
    await wait_state(host, "in-call")
    for pid in (a, r):
        await expect(host.get_by_test_id(f"video-{pid}")).to_be_visible()
    await assert_fits(host, "mediator, phone-sized, panel folded", within_ms=FRAMES_MS)
    # Opened on a narrow screen, the panel is a sheet over the call: nothing moves under it.
    pictures = await host.evaluate(_RECTS_JS)
    await host.get_by_test_id("toggle-panel").click()
    await panel(host, open=True)
    await assert_fits(host, "mediator, phone-sized, panel open as a sheet", sheet=True)
    assert await host.evaluate(_RECTS_JS) == pictures
    sheet = await host.locator("#side").bounding_box()
    bar = await host.locator(".controls").bounding_box()
    assert sheet and bar and sheet["y"] >= 0 and sheet["y"] + sheet["height"] <= bar["y"] + 0.5
    await expect(host.get_by_test_id("end-meeting")).to_be_visible()  # reachable in the sheet
    await host.get_by_test_id("toggle-panel").click()
    await panel(host, open=False)
    await assert_fits(host, "mediator, phone-sized, panel folded again")


# -- the layout functions, for two to six people -------------------------------------------

_PLAN_JS = """
async ({ cases, gap, margin, caption }) => {
  const { chooseGrid, lastRowStart, planStage } = await import("/static/js/room/layout.js");
  return cases.map(([count, width, height, aspect, self]) => {
    const grid = chooseGrid(count, width, height, { aspect, gap });
    const plan = planStage(count, width, height, { aspect, gap, self, margin, caption });
    return { grid, start: lastRowStart(count, grid.cols), plan };
  });
}
"""

# Stages (the space the tiles get), as measured in the pages above, and shapes of picture:
# 4:3 (what the room asks cameras for), 16:9 (laptops' cameras), 3:4 (a phone held upright).
STAGES = {
    "laptop, panel open": (870, 610),
    "laptop, panel folded": (1250, 610),
    "1440x900": (1050, 710),
    "800x600": (420, 410),
    "phone upright": (366, 600),
    "phone on its side": (820, 230),
    "phone on its side, under a banner": (819, 121),
}
ASPECTS = (4 / 3, 16 / 9, 3 / 4)
REM = 17  # app.css
GAP = REM / 2
MARGIN = REM / 2  # my own picture from the stage's edges
CAPTION = 2.5 * REM  # a tile's caption, with the name

Box = tuple[float, float, float, float]  # left, top, right, bottom


def self_size(width: float, height: float) -> dict[str, float]:
    """My own picture as room/tiles.js sizes it: 4:3, a fifth of the stage's width, 6.5 to
    13 rem, at most half its height."""
    width = min(max(width / 5, 6.5 * REM), 13 * REM, height * 2 / 3)
    return {"width": width, "height": width * 3 / 4}


def best_tile_width(count: int, width: float, height: float, aspect: float) -> float:
    """The largest picture width any columns x rows grid gives (the search the function makes,
    done independently)."""
    widths = [0.0]
    for cols in range(1, count + 1):
        rows = math.ceil(count / cols)
        cell_w = (width - GAP * (cols - 1)) / cols
        cell_h = (height - GAP * (rows - 1)) / rows
        if cell_w > 0 and cell_h > 0:
            widths.append(min(cell_w, cell_h * aspect))
    return max(widths)


def tiles_placed(count: int, width: float, height: float, grid: dict[str, Any]) -> list[Box]:
    """Where room.css puts the tiles in a width x height box: the grid in the middle, a shorter
    last row in the middle of its row."""
    cols, rows, w, h = grid["cols"], grid["rows"], grid["tileWidth"], grid["tileHeight"]
    left = (width - cols * w - (cols - 1) * GAP) / 2
    top = (height - rows * h - (rows - 1) * GAP) / 2
    in_last = count - cols * (rows - 1)
    boxes = []
    for i in range(count):
        row, col = divmod(i, cols)
        shift = (cols - in_last) * (w + GAP) / 2 if row == rows - 1 else 0
        x, y = left + shift + col * (w + GAP), top + row * (h + GAP)
        boxes.append((x, y, x + w, y + h))
    return boxes


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_grid(
    label: str, count: int, width: float, height: float, aspect: float, grid: Any
) -> None:
    cols, rows = grid["cols"], grid["rows"]
    tile_w, tile_h = grid["tileWidth"], grid["tileHeight"]
    assert cols * rows >= count and cols * (rows - 1) < count, label  # no empty row
    assert cols * tile_w + (cols - 1) * GAP <= width, label  # fits across
    assert rows * tile_h + (rows - 1) * GAP <= height, label  # and down
    assert abs(tile_w / tile_h - aspect) < 0.02, label  # the pictures' own shape
    assert tile_w >= best_tile_width(count, width, height, aspect) - 2, label  # none larger


async def test_layout_for_two_to_six_people(browser: Browser, live_server: LiveServer) -> None:
    cases = [
        (people - 1, w, h, aspect, self_size(w, h))
        for people in range(2, 7)
        for (w, h) in STAGES.values()
        for aspect in ASPECTS
    ]
    context = await browser.new_context(base_url=live_server.base_url, viewport=LAPTOP)
    try:
        page = await context.new_page()
        await page.goto("/")
        sizes = {"gap": GAP, "margin": MARGIN, "caption": CAPTION}
        answers = await page.evaluate(_PLAN_JS, {"cases": cases, **sizes})
        empty = [(0, 800, 600, 4 / 3, self_size(800, 600)), (3, 0, 0, 4 / 3, self_size(0, 0))]
        nobody = await page.evaluate(_PLAN_JS, {"cases": empty, **sizes})
    finally:
        await context.close()

    docked = 0
    for (count, width, height, aspect, me), answer in zip(cases, answers, strict=True):
        grid, plan = answer["grid"], answer["plan"]
        label = f"{count + 1} people, stage {width}x{height}, pictures {aspect:.2f}: {answer}"
        check_grid(label, count, width, height, aspect, grid)
        # A short last row starts so that it sits in the middle of the half-columns.
        in_last = count - grid["cols"] * (grid["rows"] - 1)
        assert answer["start"] == (None if in_last == grid["cols"] else grid["cols"] - in_last + 1)

        # My own picture in the top right corner, and the tiles where the plan puts them.
        mine = (width - MARGIN - me["width"], MARGIN, width - MARGIN, MARGIN + me["height"])
        right, top = plan["right"], plan["top"]
        box_w, box_h = width - right, height - top
        tiles = [
            (x0, y0 + top, x1, y1 + top)
            for x0, y0, x1, y1 in tiles_placed(count, box_w, box_h, plan)
        ]
        check_grid(label, count, box_w, box_h, aspect, plan)
        for x0, y0, x1, y1 in tiles:
            middle = ((x0 + x1) / 2, (y0 + y1) / 2)
            assert not (mine[0] <= middle[0] <= mine[2] and mine[1] <= middle[1] <= mine[3]), label
            assert not overlap(mine, (x0, y1 - CAPTION, x1, y1)), label  # the name is clear
            assert x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height, label
        if right == top == 0:
            assert all(plan[key] == grid[key] for key in grid), label  # the best grid
        else:
            # Moved aside only when in the way, then clear of my picture altogether, and
            # beside or below it, whichever leaves the tiles larger.
            docked += 1
            assert (right == 0) != (top == 0), label
            assert not any(overlap(mine, tile) for tile in tiles), label
            other = (
                best_tile_width(count, width, height - MARGIN - me["height"] - GAP, aspect)
                if right
                else best_tile_width(count, width - MARGIN - me["width"] - GAP, height, aspect)
            )
            assert plan["tileWidth"] >= other - 2, label
    assert docked, "no case in which my picture would have covered someone: the stages are too easy"

    # Known answers (others' tiles, not people, are counted).
    def shape(people: int, stage: str) -> tuple[int, int]:
        count = people - 1
        answer = answers[cases.index((count, *STAGES[stage], 4 / 3, self_size(*STAGES[stage])))]
        return answer["plan"]["cols"], answer["plan"]["rows"]

    assert shape(3, "laptop, panel open") == (2, 1)  # side by side
    assert shape(6, "laptop, panel folded") == (3, 2)  # two under three, in the middle
    assert shape(3, "phone upright") == (1, 2)  # one above the other
    assert shape(6, "phone upright") == (2, 3)
    assert shape(4, "phone on its side") == (3, 1)  # a row
    for answer in nobody:  # nobody else, or no stage: no tiles
        assert answer["plan"]["tileWidth"] == 0 == answer["grid"]["tileWidth"]
