// The room page's state: where the person is (S.state, moved only by transition()), and the
// bookkeeping of the current socket and peer connection that the other modules share.

import { config } from "./config.js";
import { $ } from "./dom.js";

export const S = {
  state: "prejoin", // see MOVES
  participantId: config.participant_id,
  role: config.role,
  isHost: Boolean(config.is_host),
  isParty: Boolean(config.is_party),
  ws: null,
  pc: null,
  // Standing by: the socket and the media connection come up while the person checks their
  // camera (nothing is sent or forwarded), so that Join only has to say so.
  standby: false, // the current socket was opened with ?prejoin=1 and has not joined
  welcomed: false, // the server has welcomed the current socket
  joined: false, // the person has tapped Join (the server knows, or is about to)
  joinedAt: null,
  adopting: false, // taking over the standby connection from room/standby.js
  awaitingJoined: false, // sent `join` on a standby connection; its `joined` says where to
  iceServers: config.ice_servers,
  chain: Promise.resolve(), // offers and candidates, one at a time, per peer connection
  offersPending: 0, // offers on the chain not yet answered
  afterAnswer: null, // what waits for them: a join tapped while an offer was being answered
  upstream: {},
  trackMap: {},
  announced: new WeakSet(), // remote tracks that fired ontrack on the current pc
  offered: false, // an offer has been answered on this connection
  inLobby: false, // the server said "lobby" and has not let us in since
  callReady: false, // the call view is up on this connection
  everInCall: false,
  participants: new Map(),
  participantsKnown: false,
  lobbyIds: new Set(),
  caucusWith: [],
  caucusPicked: new Set(),
  recording: null,
  muted: { audio: false, video: false },
  mutedAt: 0,
  audioOnly: false,
  facingMode: "user",
  local: { audio: null, video: null },
  devices: { audio: [], video: [] },
  tiles: new Map(),
  attempts: 0,
  retryTimer: null,
  disconnectTimer: null,
  pingTimer: null,
  quality: null,
  qualityLevel: "unknown",
  poorSamples: 0,
  suggestDismissedAt: 0,
  shownVideo: undefined,
  lastError: "",
  pendingChats: [],
  unread: 0,
  timeline: {}, // step -> Date.now() when this page first got there (the benchmark reads it)
};

/** Note the first time the page got to `step` (for window.room.timeline). */
export function mark(step, at = Date.now()) {
  if (!(step in S.timeline)) S.timeline[step] = at;
}

// The moves the page's state may make. "prejoin" (the device check) is where every page
// starts; "closed" (the meeting ended, or this page was refused or replaced) and "left" (the
// person left) are final: Join again reloads the page. While in a meeting, a socket or
// connection can drop, be restored or fail at any point, and the server can move a person
// between the lobby and the call.
const LIVE = ["connecting", "lobby", "in-call", "reconnecting", "failed"];
const END = ["closed", "left"];
const MOVES = {
  prejoin: ["connecting", "closed"],
  connecting: [...LIVE, ...END],
  lobby: [...LIVE, ...END],
  "in-call": [...LIVE, ...END],
  reconnecting: [...LIVE, ...END],
  failed: ["reconnecting", ...END],
  closed: [],
  left: [],
};

// The sections each state shows.
const SHOWN = {
  prejoin: () => ["prejoin"],
  connecting: () => ["connecting"],
  lobby: () => ["lobby-wait"],
  "in-call": () => ["call"],
  // Dropped in the middle of the call: the call stays on screen under the banner.
  reconnecting: () => (S.everInCall ? ["call"] : ["connecting"]),
  failed: () => ["failed"],
  closed: () => ["ended"],
  left: () => ["ended"],
};
const SECTIONS = ["prejoin", "connecting", "lobby-wait", "call", "failed", "ended"];
// What takes the focus when a section comes on screen (tabindex="-1" in room.html): its
// heading, so that keyboard and screen-reader users learn where they now are.
const HEADINGS = {
  prejoin: "prejoin-title",
  connecting: "connecting-text",
  "lobby-wait": "lobby-title",
  call: "call-title",
  failed: "failed-title",
  ended: "ended-title",
};

/**
 * The one way the page's state changes: to `next` if MOVES allows it from here (staying in
 * the same state is always allowed, and shows it again). Returns whether it moved.
 */
export function transition(next) {
  if (next !== S.state && !MOVES[S.state]?.includes(next)) {
    console.warn("room state", S.state, "->", next, "is not a move the page makes");
    return false;
  }
  S.state = next;
  $("room").dataset.state = next;
  const show = SHOWN[next]();
  const before = SECTIONS.filter((id) => !$(id).hidden);
  for (const id of SECTIONS) $(id).hidden = !show.includes(id);
  $("reconnecting").hidden = next !== "reconnecting";
  const arrived = show.find((id) => !before.includes(id));
  // After the caller's synchronous work, which may still set the heading's text (the end).
  if (arrived) queueMicrotask(() => focusHeading(arrived));
  return true;
}

/** Focus the heading of `section`, unless the person is typing in a field still on screen
 * (a message in the chat): their words are not taken from them. */
function focusHeading(section) {
  const active = document.activeElement;
  const typing = active?.matches?.("input:not([type=checkbox]):not([type=radio]), textarea, [contenteditable]");
  if (typing && active.getClientRects().length > 0) return; // (none: hidden with its section)
  if ($(section).hidden) return; // moved on again meanwhile
  $(HEADINGS[section])?.focus();
}

export const isOver = () => END.includes(S.state);

export const nameOf = (id) => S.participants.get(id)?.name ?? "";
// In `participants`, audio/video say whether that microphone/camera is on (false: muted),
// the opposite sense of the `mute` message's fields.
export const isMuted = (p, kind) => p?.[kind] === false;
