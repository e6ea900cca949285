// What the page came with (room.html's #room-config), the words for the server's codes, and
// the timings of the connection. No state here: room/state.js holds what changes.

import { t } from "../api.js";

export const config = JSON.parse(document.getElementById("room-config").textContent);

const ROLE_LABELS = {
  mediator: t("Mediator"),
  judge: t("Judge"),
  applicant: t("Applicant"),
  respondent: t("Respondent"),
  third_party: t("Third party"),
};
export const PARTY_ROLES = new Set(["applicant", "respondent", "third_party"]);
export const QUALITY_LABELS = {
  good: t("Connection: good"),
  fair: t("Connection: fair"),
  poor: t("Connection: poor"),
  unknown: t("Connection: checking…"),
};
// `closed {reason}` codes (rooms/sfu.py); an unknown one is shown as it came.
export const CLOSED_REASONS = {
  closed: "",
  left: "",
  removed: t("The host has removed you from the meeting."),
  server_shutdown: t("The service is restarting. Please join again in a minute."),
};
export const REPLACED_CODE = 4000; // the server closed this socket: the same person joined elsewhere
export const RETRY_DELAYS = [500, 1000, 2000, 2000, 2000];
export const VIDEO_MAX_BITRATE = 600_000;
export const VIDEO_MAX_FRAMERATE = 24;
export const DISCONNECTED_GRACE_MS = 4000;
export const PING_MS = 20_000;
export const beijing = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

export const roleLabel = (role) => ROLE_LABELS[role] ?? "";
