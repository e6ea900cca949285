// The host's controls (mediator or judge): the lobby, the opening formalities (consents,
// identity checks, the sham-mediation warning), recording, the private talk, muting and
// removing people, ending the meeting. Loaded only on a host's page (room.js imports it
// dynamically); the server checks every one of these commands again.

import { api, t, toast } from "../api.js";
import { beijing, config, PARTY_ROLES, roleLabel } from "./config.js";
import { $, button, h } from "./dom.js";
import { setRecording } from "./notices.js";
import { addHostControls, renderPeople } from "./people.js";
import { send } from "./socket.js";
import { isMuted, nameOf, S } from "./state.js";

function consentText(label, value) {
  if (value === true) return t("{what}: agreed", { what: label });
  if (value === false) return t("{what}: refused", { what: label });
  return t("{what}: not answered yet", { what: label });
}

/** A party's consents and identity check, then (not for our own row) caucus, mute, remove. */
function personControls(p, row, mine) {
  if (PARTY_ROLES.has(p.role)) {
    const consents = p.consents || {};
    row.append(
      h(
        "div",
        { className: "formalities", testid: `consents-${p.id}` },
        h("span", {
          className: `consent ${consents.online === true ? "yes" : "no"}`,
          testid: `consent-online-${p.id}`,
          text: consentText(t("Online mediation"), consents.online),
        }),
        h("span", {
          className: `consent ${consents.recording === true ? "yes" : "no"}`,
          testid: `consent-recording-${p.id}`,
          text: consentText(t("Recording"), consents.recording),
        }),
        p.identity_checked
          ? h("span", { className: "consent yes", testid: `identity-done-${p.id}`, text: t("ID document checked") })
          : button(t("ID document checked on camera"), `identity-${p.id}`, () => {
              if (send({ type: "identity", participant_id: p.id, verified: true })) {
                toast(t("Recorded: {name}'s identity was checked.", { name: p.name }));
              }
            }),
      ),
    );
  }
  if (!mine) {
    const actions = h("div", { className: "actions" });
    if (config.room_kind === "mediation") {
      const box = h("input", { type: "checkbox", testid: `caucus-check-${p.id}` });
      box.checked = S.caucusPicked.has(p.id);
      box.addEventListener("change", () => {
        if (box.checked) S.caucusPicked.add(p.id);
        else S.caucusPicked.delete(p.id);
        renderCaucusControls();
      });
      actions.append(h("label", { className: "check inline" }, box, h("span", { text: t("Private talk") })));
    }
    if (!isMuted(p, "audio")) {
      actions.append(button(t("Mute"), `mute-${p.id}`, () => send({ type: "mute", participant_id: p.id, audio: true })));
    }
    actions.append(button(t("Remove"), `remove-${p.id}`, () => send({ type: "remove", participant_id: p.id }), "danger-outline"));
    row.append(actions);
  }
}

function renderLobby(waiting) {
  $("lobby-list").replaceChildren(
    ...waiting.map((p) =>
      h(
        "li",
        { className: "person waiting", testid: `lobby-${p.id}`, "data-participant-id": p.id },
        h(
          "div",
          { className: "person-name" },
          h("strong", { text: p.name || "…" }),
          h("span", { className: "tag", text: roleLabel(p.role) }),
        ),
        PARTY_ROLES.has(p.role)
          ? h("div", {
              className: "status-line",
              text: consentText(t("Online mediation"), p.consents?.online),
            })
          : null,
        h(
          "div",
          { className: "actions" },
          button(t("Let in"), `admit-${p.id}`, () => send({ type: "admit", participant_id: p.id }), "primary"),
          button(t("Remove"), `remove-${p.id}`, () => send({ type: "remove", participant_id: p.id }), "danger-outline"),
        ),
      ),
    ),
  );
  $("lobby-empty").hidden = waiting.length > 0;
  $("lobby-count").textContent = String(waiting.length);
  // Seen on the control bar too, when the panel is folded away.
  $("panel-badge").textContent = String(waiting.length);
  $("panel-badge").hidden = waiting.length === 0;
}

// The panel folded away stays so for this tab's session (a reload, a rejoin), not for ever.
const PANEL_KEY = "room.hostPanel";

function showPanel(open) {
  $("toggle-panel").setAttribute("aria-expanded", String(open));
  $("side").hidden = !open;
}

function togglePanel() {
  const open = $("toggle-panel").getAttribute("aria-expanded") !== "true";
  showPanel(open);
  try {
    sessionStorage.setItem(PANEL_KEY, open ? "open" : "closed");
  } catch (err) {
    // Storage refused (a private window): the choice holds until the page is left.
    console.info("host panel not remembered", err);
  }
}

function rememberedOpen() {
  try {
    return sessionStorage.getItem(PANEL_KEY) !== "closed";
  } catch {
    return true; // as above: nothing remembered, so open, where the lobby is seen
  }
}

function renderCaucusControls() {
  const start = $("caucus-start");
  if (!start) return; // (a confirmation session has no private talk)
  const active = S.caucusWith.length > 0;
  start.disabled = S.caucusPicked.size === 0;
  start.hidden = active;
  $("caucus-end").hidden = !active;
  $("caucus-status").textContent = active
    ? t("Private talk with: {names}", {
        names: S.caucusWith.filter((id) => id !== S.participantId).map((id) => nameOf(id) || id).join("、"),
      })
    : "";
}

function startCaucus() {
  const ids = [...S.caucusPicked].filter((id) => S.participants.has(id));
  if (!ids.length) return;
  // The server adds the host to the private talk itself.
  send({ type: "caucus", with: ids });
}

function endCaucus() {
  send({ type: "caucus", with: [] });
  S.caucusPicked.clear();
  renderPeople();
}

async function toggleRecording() {
  const toggle = $("recording-toggle");
  toggle.disabled = true;
  try {
    const state = await api("POST", `/api/rooms/${config.room_id}/recording`, {
      action: S.recording ? "stop" : "start",
    });
    setRecording(Boolean(state?.on));
  } catch (err) {
    toast(err.message); // e.g. a party has not consented to recording
  } finally {
    toggle.disabled = false;
  }
}

async function endMeeting() {
  try {
    await api("POST", `/api/rooms/${config.room_id}/close`);
  } catch (err) {
    toast(err.message);
  }
}

function readWarning() {
  $("warning-text").hidden = false;
  if (send({ type: "warning" })) {
    $("warning-done").textContent = t("Marked as read at {time}.", { time: beijing.format(new Date()) });
  }
}

/** Add the host's parts to the people list and wire the host panel's buttons. */
export function wireHost() {
  addHostControls({ person: personControls, lobby: renderLobby, caucus: renderCaucusControls });
  showPanel(rememberedOpen());
  $("toggle-panel").addEventListener("click", togglePanel);
  $("warning-read")?.addEventListener("click", readWarning);
  $("caucus-start")?.addEventListener("click", startCaucus);
  $("caucus-end")?.addEventListener("click", endCaucus);
  $("recording-toggle")?.addEventListener("click", toggleRecording);
  $("end-meeting")?.addEventListener("click", () => {
    $("end-meeting-box").hidden = false;
  });
  $("end-meeting-cancel")?.addEventListener("click", () => {
    $("end-meeting-box").hidden = true;
  });
  $("end-meeting-confirm")?.addEventListener("click", endMeeting);
}
