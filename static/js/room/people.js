// Who is in the meeting and who waits in the lobby (the server's `participants`), the list of
// people, and the private talk (caucus) as everyone sees it. A host's page adds its controls
// to the list, the lobby and the private talk through addHostControls (room/host.js).

import { t, toast } from "../api.js";
import { roleLabel } from "./config.js";
import { addSystemLine } from "./chat.js";
import { $, h } from "./dom.js";
import { setMuted } from "./local.js";
import { beep } from "./media.js";
import { isMuted, S } from "./state.js";
import { reconcileTracks, relabelTiles } from "./tiles.js";

const host = {
  person: null, // (p, row, mine) -> adds the host's buttons to a person's row
  lobby: () => {}, // (waiting) -> shows the lobby with its buttons
  caucus: () => {}, // () -> shows the private talk's controls
};

export function addHostControls(controls) {
  Object.assign(host, controls);
}

/**
 * Take in the server's list: who is here, who waits in the lobby (a host hears newcomers).
 * Returns {me, waiting} for the session, which then lets us in if the list says so, and for
 * showParticipants().
 */
export function learnParticipants(list) {
  const before = S.lobbyIds;
  S.participants = new Map(list.filter((p) => p && p.id).map((p) => [p.id, p]));
  S.participantsKnown = true;
  const waiting = list.filter((p) => p.admitted === false && p.id !== S.participantId);
  S.lobbyIds = new Set(waiting.map((p) => p.id));
  const newcomers = waiting.filter((p) => !before.has(p.id));
  if (S.isHost && newcomers.length) {
    beep();
    toast(t("{name} is waiting to join.", { name: newcomers.map((p) => p.name).join("、") }));
  }
  return { me: S.participants.get(S.participantId), waiting };
}

/** Show what learnParticipants() took in. */
export function showParticipants({ me, waiting }) {
  // The host muted us (our own changes win for a moment, while the server catches up).
  if (me && isMuted(me, "audio") && !S.muted.audio && Date.now() - S.mutedAt > 2000) {
    setMuted("audio", true, { tell: false });
  }
  for (const id of [...S.caucusPicked]) if (!S.participants.has(id)) S.caucusPicked.delete(id);
  renderPeople();
  if (S.isHost) host.lobby(waiting);
  relabelTiles();
  reconcileTracks();
  renderCaucus();
}

export function renderPeople() {
  const people = [...S.participants.values()].filter((p) => p.admitted !== false);
  $("people").replaceChildren(...people.map(personRow));
}

function personRow(p) {
  const mine = p.id === S.participantId;
  const status = [];
  if (isMuted(p, "audio")) status.push(t("Microphone off"));
  if (isMuted(p, "video")) status.push(t("Camera off"));
  if (p.in_caucus) status.push(t("In private talk"));
  if (p.connected === false) status.push(t("Reconnecting…"));
  const row = h(
    "li",
    { className: `person${p.connected === false ? " away" : ""}`, testid: `person-${p.id}`, "data-participant-id": p.id },
    h(
      "div",
      { className: "person-name" },
      h("strong", { text: p.name || "…" }),
      h("span", { className: "tag", text: roleLabel(p.role) }),
      mine ? h("span", { className: "tag me", text: t("Me") }) : null,
    ),
    status.length ? h("div", { className: "status-line", text: status.join(" · ") }) : null,
  );
  if (S.isHost && host.person) host.person(p, row, mine);
  return row;
}

/** A `caucus` message: who is in the private talk now (nobody: it has ended). */
export function onCaucus(ids) {
  const wasOn = S.caucusWith.length > 0;
  S.caucusWith = ids;
  relabelTiles();
  if (wasOn && !ids.length) {
    toast(t("The private talk has ended. Everyone can hear and see each other again."));
    addSystemLine(t("The private talk has ended. Everyone can hear and see each other again."));
  }
  renderCaucus();
}

function renderCaucus() {
  const active = S.caucusWith.length > 0;
  const inIt = S.caucusWith.includes(S.participantId);
  $("caucus-notice").hidden = !active || inIt || S.isHost;
  $("caucus-mine").hidden = !active || !(inIt || S.isHost);
  host.caucus();
}
