// What the page tells the person besides the chat: the server's notices, the recording
// banner, the connection quality and the suggestion to switch to sound only.

import { t, toast } from "../api.js";
import { QUALITY_LABELS } from "./config.js";
import { addSystemLine } from "./chat.js";
import { $ } from "./dom.js";
import { setMuted } from "./local.js";
import { POOR } from "./quality.js";
import { S } from "./state.js";

/** A `notice` message from the server. */
export function onNotice(message) {
  if (message.code === "muted_by_host") {
    if (!S.muted.audio) setMuted("audio", true, { tell: false });
    const text = t("The host has turned off your microphone.");
    toast(text);
    addSystemLine(text);
  } else if (message.code === "sham_warning_read") {
    // The parties get the text the mediator reads aloud, to read along.
    if (!S.isHost) {
      $("warning-box").hidden = false;
      $("warning-box").scrollIntoView({ behavior: "smooth", block: "center" });
    }
    addSystemLine(t("The mediator has read the warning about sham mediation."));
  } else if (message.code === "recording_failed") {
    const text = t("Recording of {name} stopped because of a server error. Turn recording off and on again to restart it.", { name: message.name ?? "" });
    toast(text);
    addSystemLine(text);
  } else if (message.text) {
    toast(message.text);
    addSystemLine(message.text);
  }
}

export function onAgreement(message) {
  toast(t("A new version of the agreement is ready to read (version {version}).", { version: message.version ?? "" }));
  // For the agreement panel (another domain's page module, if the page has one).
  const detail = { agreement_id: message.agreement_id, version: message.version };
  document.dispatchEvent(new CustomEvent("room:agreement", { detail }));
}

export function setRecording(on) {
  const before = S.recording;
  S.recording = on;
  $("recording-banner").hidden = !on;
  $("room").classList.toggle("recording", on);
  const toggle = $("recording-toggle"); // (a host's page only)
  if (toggle) toggle.dataset.on = String(on);
  if (before !== null && before !== on) {
    const text = on ? t("Recording has started.") : t("Recording has stopped.");
    toast(text);
    addSystemLine(text);
  }
}

/** A sample of the connection's quality (room/quality.js). */
export function onQuality({ level }) {
  S.qualityLevel = level;
  const box = $("quality");
  box.dataset.quality = level;
  $("quality-label").textContent = QUALITY_LABELS[level] ?? QUALITY_LABELS.unknown;
  S.poorSamples = level === POOR ? S.poorSamples + 1 : 0;
  const quiet = Date.now() - S.suggestDismissedAt < 120_000;
  if (S.poorSamples >= 2 && !S.audioOnly && !quiet) $("audio-only-suggest").hidden = false;
}

export function dismissAudioOnly() {
  S.suggestDismissedAt = Date.now();
  $("audio-only-suggest").hidden = true;
}
