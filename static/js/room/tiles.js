// The others' tiles: one per participant whose media reaches us, with their name and flags,
// laid out to fill the stage (room/layout.js chooses the grid). My own picture is not one of
// them: it floats small in the stage's corner (room.css).

import { t } from "../api.js";
import { roleLabel } from "./config.js";
import { $, h } from "./dom.js";
import { DEFAULT_ASPECT, lastRowStart, planStage } from "./layout.js";
import { resumeAudio } from "./media.js";
import { isMuted, S } from "./state.js";

/** Put every received track into its participant's tile; drop tiles nobody sends to. */
export function reconcileTracks() {
  const pc = S.pc;
  // Standing by, nothing is forwarded to us: a tile's <video> waiting for frames that cannot
  // come would only hold back the page's load event. Entering the call makes the tiles.
  if (!pc || !S.joined) return;
  const wanted = new Map();
  for (const tr of pc.getTransceivers()) {
    const mid = tr.mid;
    if (mid == null || mid === S.upstream.audio || mid === S.upstream.video) continue;
    const info = S.trackMap[mid];
    const track = tr.receiver?.track;
    if (!info?.participant_id || !track || track.readyState === "ended") continue;
    const direction = tr.currentDirection;
    // currentDirection is null only between the offer and our answer: then trust ontrack.
    const receiving =
      direction === "recvonly" || direction === "sendrecv" || (direction == null && S.announced.has(track));
    if (!receiving) continue;
    const pid = info.participant_id;
    if (pid === S.participantId) continue;
    if (!wanted.has(pid)) wanted.set(pid, []);
    wanted.get(pid).push(track);
  }
  for (const [pid, tracks] of wanted) {
    if (S.participantsKnown && !S.participants.has(pid)) continue;
    setTileTracks(ensureTile(pid), tracks);
  }
  for (const pid of [...S.tiles.keys()]) {
    if (!wanted.has(pid) || (S.participantsKnown && !S.participants.has(pid))) removeTile(pid);
  }
  updateEmpty();
}

function ensureTile(pid) {
  let tile = S.tiles.get(pid);
  if (tile) return tile;
  const video = h("video", { testid: `video-${pid}`, playsinline: true, autoplay: true });
  video.playsInline = true;
  video.muted = false;
  // The picture's shape is known once frames arrive, and changes when a phone turns.
  video.addEventListener("resize", layoutTiles);
  const name = h("span", { className: "name" });
  const role = h("span", { className: "role" });
  const flags = h("span", { className: "flags" });
  const avatar = h("span", { className: "avatar", "aria-hidden": "true" });
  const root = h(
    "figure",
    { className: "tile", testid: `tile-${pid}`, "data-participant-id": pid },
    video,
    avatar,
    h("figcaption", {}, name, role, flags),
  );
  tile = { pid, root, video, name, role, flags, avatar, tracks: [], stream: null };
  S.tiles.set(pid, tile);
  $("tiles").insertBefore(root, $("tile-self"));
  labelTile(tile);
  return tile;
}

function setTileTracks(tile, tracks) {
  const same = tracks.length === tile.tracks.length && tracks.every((tr) => tile.tracks.includes(tr));
  if (same) return;
  tile.tracks = tracks;
  // One MediaStream per participant, replaced whenever its set of tracks changes: more
  // reliable on Safari than adding tracks to a stream that is already playing.
  tile.stream = new MediaStream(tracks);
  tile.video.srcObject = tile.stream;
  play(tile.video);
  refreshTile(tile);
}

function play(video) {
  const promise = video.play();
  if (!promise?.catch) return;
  promise.catch((err) => {
    // AbortError: a newer srcObject replaced this one; its own play() follows.
    if (err?.name !== "AbortError") $("tap-to-play").hidden = false;
  });
}

/** The tap the browser wanted before it would play sound. */
export function playAll() {
  resumeAudio();
  $("tap-to-play").hidden = true;
  for (const tile of S.tiles.values()) play(tile.video);
  for (const id of ["video-self", "preview"]) $(id).play().catch(() => {});
}

export function removeTile(pid) {
  const tile = S.tiles.get(pid);
  if (!tile) return;
  tile.video.srcObject = null;
  tile.root.remove();
  S.tiles.delete(pid);
}

function labelTile(tile) {
  const p = S.participants.get(tile.pid);
  tile.name.textContent = p?.name || "…";
  tile.role.textContent = roleLabel(p?.role);
  tile.avatar.textContent = (p?.name || "?").trim().slice(0, 1);
  const flags = [];
  if (isMuted(p, "audio")) flags.push(t("Microphone off"));
  if (p?.in_caucus) flags.push(t("In private talk"));
  if (p && p.connected === false) flags.push(t("Reconnecting…"));
  tile.flags.replaceChildren(...flags.map((text) => h("span", { className: "flag", text })));
  tile.root.classList.toggle("mic-off", isMuted(p, "audio"));
  // Frozen pictures of people in a private talk we are not part of: dim them.
  tile.root.classList.toggle("walled", Boolean(p?.in_caucus) && !S.caucusWith.includes(S.participantId));
  refreshTile(tile);
}

export function refreshTile(tile) {
  const p = S.participants.get(tile.pid);
  const video = tile.tracks.find((tr) => tr.kind === "video");
  const showsVideo =
    Boolean(video) && video.readyState === "live" && !video.muted && !S.audioOnly && !isMuted(p, "video");
  tile.root.classList.toggle("no-video", !showsVideo);
  tile.root.dataset.audio = String(tile.tracks.some((tr) => tr.kind === "audio"));
  tile.root.dataset.video = String(Boolean(video));
}

/** Every tile's name and flags again (the participants or the private talk changed). */
export function relabelTiles() {
  for (const tile of S.tiles.values()) labelTile(tile);
}

/** Every tile's picture again (audio only turned on or off). */
export function refreshTiles() {
  for (const tile of S.tiles.values()) refreshTile(tile);
}

function updateEmpty() {
  $("tiles-empty").hidden = S.tiles.size > 0;
  $("tiles").dataset.count = String(S.tiles.size + 1);
  layoutTiles();
}

let watching = false;

/** Follow the stage's size (the tiles fill it) and the control bar's (the call ends above it). */
function watchSizes() {
  watching = true;
  new ResizeObserver(() => layoutTiles()).observe($("stage"));
  const bar = document.querySelector(".controls");
  new ResizeObserver(() => {
    // Its border box, with the padding that clears a phone's home indicator; 0 while hidden.
    const height = bar.offsetHeight;
    if (height) document.documentElement.style.setProperty("--bar-space", `${height}px`);
  }).observe(bar);
}

/** The shape the layout plans for: the average of the others' pictures, once they have any. */
function pictureAspect() {
  const shapes = [...S.tiles.values()]
    .map(({ video }) => video.videoWidth / video.videoHeight)
    .filter((aspect) => Number.isFinite(aspect) && aspect > 0);
  return shapes.length ? shapes.reduce((a, b) => a + b) / shapes.length : DEFAULT_ASPECT;
}

/**
 * Size the others' tiles to fill the stage, my own picture small in its corner: the layout is
 * chosen again whenever the stage changes size (window resized or turned, a banner or the side
 * panel shown or hidden), a tile comes or goes, or a picture changes shape.
 */
export function layoutTiles() {
  if (!watching) watchSizes();
  const grid = $("tiles");
  const tiles = [...S.tiles.values()];
  const stage = $("stage").getBoundingClientRect();
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const gap = parseFloat(getComputedStyle(grid).rowGap) || 0;
  // My picture, 4:3 (room.css): a fifth of the stage's width within these bounds, and never
  // more than half its height (a phone on its side, under a banner).
  const selfWidth = Math.min(
    Math.max(stage.width / 5, 6.5 * rem),
    13 * rem,
    (stage.height * 2) / 3,
  );
  const captions = tiles.map((tile) => tile.root.querySelector("figcaption").offsetHeight);
  const plan = planStage(tiles.length, stage.width, stage.height, {
    aspect: pictureAspect(),
    gap,
    self: { width: selfWidth, height: (selfWidth * 3) / 4 },
    margin: 0.5 * rem,
    caption: Math.max(2.5 * rem, ...captions),
  });
  grid.style.setProperty("--self-width", `${selfWidth}px`);
  if (!plan.tileWidth) return; // nobody else, or the call is not on screen
  const { cols, rows, tileWidth, tileHeight } = plan;
  grid.dataset.layout = `${cols}x${rows}`;
  // Half-columns: a tile spans two, so that a shorter last row can sit in the middle.
  grid.style.setProperty("--grid-cols", String(cols * 2));
  grid.style.setProperty("--grid-rows", String(rows));
  grid.style.setProperty("--half-width", `${(tileWidth - gap) / 2}px`);
  grid.style.setProperty("--tile-height", `${tileHeight}px`);
  // The strip the tiles leave to my picture, when it would lie over a name or a face.
  grid.style.setProperty("--self-right", `${plan.right}px`);
  grid.style.setProperty("--self-top", `${plan.top}px`);
  // In DOM order, which is the grid's: the first tile of the last row starts it.
  const start = lastRowStart(tiles.length, cols);
  tiles.forEach(({ root }, i) => {
    root.style.gridColumnStart = start !== null && i === cols * (rows - 1) ? String(start) : "";
  });
}
