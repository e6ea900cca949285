// The video room: device check, consents, WebSocket signalling (the server offers, we
// answer), the tiles, chat, the host's lobby/caucus/formalities controls, and reconnection.
// The protocol is the docstring of rooms/signaling.py.

import { api, t, toast } from "./api.js";
import {
  beep,
  capture,
  captureFacing,
  captureTrack,
  LevelMeter,
  listDevices,
  mediaAvailable,
  resumeAudio,
} from "./room/media.js";
import { POOR, QualityMonitor } from "./room/quality.js";
import { answer, candidateMessage, offerMaps, socketUrl, take } from "./room/standby.js";

const config = JSON.parse(document.getElementById("room-config").textContent);
const $ = (id) => document.getElementById(id);

const ROLE_LABELS = {
  mediator: t("Mediator"),
  judge: t("Judge"),
  applicant: t("Applicant"),
  respondent: t("Respondent"),
  third_party: t("Third party"),
};
const PARTY_ROLES = new Set(["applicant", "respondent", "third_party"]);
const QUALITY_LABELS = {
  good: t("Connection: good"),
  fair: t("Connection: fair"),
  poor: t("Connection: poor"),
  unknown: t("Connection: checking…"),
};
// `closed {reason}` codes (rooms/sfu.py); an unknown one is shown as it came.
const CLOSED_REASONS = {
  closed: "",
  left: "",
  removed: t("The host has removed you from the meeting."),
  server_shutdown: t("The service is restarting. Please join again in a minute."),
};
const REPLACED_CODE = 4000; // the server closed this socket: the same person joined elsewhere
const RETRY_DELAYS = [500, 1000, 2000, 2000, 2000];
const VIDEO_MAX_BITRATE = 600_000;
const VIDEO_MAX_FRAMERATE = 24;
const DISCONNECTED_GRACE_MS = 4000;
const PING_MS = 20_000;
const beijing = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

const S = {
  state: "prejoin", // prejoin, connecting, lobby, in-call, reconnecting, failed, closed, left
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

function mark(step, at = Date.now()) {
  if (!(step in S.timeline)) S.timeline[step] = at;
}
mark("script");

// -- small DOM helpers (text only ever goes in through textContent) ------------------------

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "testid") node.dataset.testid = value;
    else if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c != null && c !== false));
  return node;
}

function button(text, testid, onclick, className = "") {
  return h("button", { type: "button", text, testid, onclick, className });
}

const roleLabel = (role) => ROLE_LABELS[role] ?? "";
const nameOf = (id) => S.participants.get(id)?.name ?? "";
// In `participants`, audio/video say whether that microphone/camera is on (false: muted),
// the opposite sense of the `mute` message's fields.
const isMuted = (p, kind) => p?.[kind] === false;

function setState(state) {
  S.state = state;
  $("room").dataset.state = state;
  const show = {
    prejoin: ["prejoin"],
    connecting: ["connecting"],
    lobby: ["lobby-wait"],
    "in-call": ["call"],
    reconnecting: S.everInCall ? ["call"] : ["connecting"],
    failed: ["failed"],
    closed: ["ended"],
    left: ["ended"],
  }[state];
  for (const id of ["prejoin", "connecting", "lobby-wait", "call", "failed", "ended"]) {
    $(id).hidden = !show.includes(id);
  }
  $("reconnecting").hidden = state !== "reconnecting";
}

// -- local media --------------------------------------------------------------------------

const meter = new LevelMeter((level) => {
  const bar = $("mic-level");
  bar.dataset.level = level.toFixed(2);
  bar.setAttribute("aria-valuenow", String(Math.round(level * 100)));
  bar.firstElementChild.style.width = `${Math.round(level * 100)}%`;
});

function explainMediaError(error, stream) {
  const name = error?.name;
  if (!error) return "";
  if (stream?.getAudioTracks().length && !stream.getVideoTracks().length) {
    return t("The camera could not be started: you can still join with sound only.");
  }
  if (stream?.getVideoTracks().length && !stream.getAudioTracks().length) {
    return t("The microphone could not be started: the others will not hear you.");
  }
  if (name === "NotAllowedError" || name === "SecurityError") {
    return t("Camera and microphone are blocked. Allow them in the browser settings, then tap “Try again”.");
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return t("No camera or microphone was found on this device.");
  }
  if (name === "NotReadableError" || name === "AbortError") {
    return t("The camera or microphone is being used by another app. Close that app, then tap “Try again”.");
  }
  return t("The camera and microphone could not be started. You can still join to watch and listen.");
}

function showLocalVideo() {
  const track = S.local.video;
  const mirror = S.facingMode === "user";
  const changed = S.shownVideo !== track;
  S.shownVideo = track;
  const stream = changed && track ? new MediaStream([track]) : null;
  for (const video of [$("preview"), $("video-self")]) {
    video.classList.toggle("mirror", mirror);
    if (!changed) continue;
    video.srcObject = stream;
    if (stream) video.play().catch(() => {});
  }
  const live = Boolean(track) && !S.muted.video && !S.audioOnly;
  $("preview-empty").hidden = Boolean(track);
  $("tile-self").classList.toggle("no-video", !live);
}

async function startMedia() {
  $("media-error").textContent = "";
  $("media-retry").hidden = true;
  if (!mediaAvailable()) {
    $("insecure-notice").hidden = false;
    showLocalVideo();
    return;
  }
  stopLocalTracks();
  const { stream, error } = await capture({
    audioId: $("mic-select").value || undefined,
    videoId: $("camera-select").value || undefined,
    facingMode: S.facingMode,
  });
  S.local.audio = stream?.getAudioTracks()[0] ?? null;
  S.local.video = stream?.getVideoTracks()[0] ?? null;
  applyMuteToTracks();
  $("media-error").textContent = explainMediaError(error, stream);
  $("media-retry").hidden = Boolean(stream) && !error;
  meter.attach(S.local.audio);
  showLocalVideo();
  // Joined before the camera was ready (or retried after an error): send what we now have.
  for (const kind of ["audio", "video"]) {
    const sender = upstreamSender(kind);
    if (sender && S.local[kind] && !(kind === "video" && S.audioOnly)) {
      await sender.replaceTrack(S.local[kind]).catch((err) => console.warn("replaceTrack", err));
    }
  }
  await fillDeviceSelects();
}

function stopLocalTracks() {
  for (const track of [S.local.audio, S.local.video]) track?.stop();
  S.local.audio = S.local.video = null;
}

async function fillDeviceSelects() {
  try {
    S.devices = await listDevices();
  } catch {
    return;
  }
  const fill = (select, devices, current, unnamed) => {
    select.replaceChildren(
      ...devices.map((d, i) => h("option", { value: d.deviceId, text: d.label || unnamed(i + 1) })),
    );
    const id = current?.getSettings?.().deviceId;
    if (id && devices.some((d) => d.deviceId === id)) select.value = id;
  };
  fill($("camera-select"), S.devices.video, S.local.video, (n) => t("Camera {n}", { n }));
  fill($("mic-select"), S.devices.audio, S.local.audio, (n) => t("Microphone {n}", { n }));
  $("devices").hidden = S.devices.video.length + S.devices.audio.length === 0;
  $("switch-camera").hidden = S.devices.video.length < 2;
}

async function replaceLocalTrack(kind, track) {
  const old = S.local[kind];
  S.local[kind] = track;
  if (old && old !== track) old.stop();
  applyMuteToTracks();
  if (kind === "audio") meter.attach(S.state === "prejoin" ? track : null);
  if (kind === "video") showLocalVideo();
  const sender = upstreamSender(kind);
  if (sender && !(kind === "video" && S.audioOnly)) {
    await sender.replaceTrack(track).catch((err) => console.warn("replaceTrack", err));
  }
}

async function chooseDevice(kind) {
  const id = (kind === "audio" ? $("mic-select") : $("camera-select")).value;
  try {
    // Phones often cannot open a second camera while the first is on: stop it first.
    if (kind === "video") S.local.video?.stop();
    const track = await captureTrack(kind, kind === "audio" ? { audioId: id } : { videoId: id });
    if (kind === "video") S.facingMode = track?.getSettings?.().facingMode === "environment" ? "environment" : "user";
    await replaceLocalTrack(kind, track);
    $("media-error").textContent = "";
  } catch (err) {
    $("media-error").textContent = explainMediaError(err, null);
    if (kind === "video") await replaceLocalTrack("video", null);
  }
}

async function switchCamera() {
  const next = S.facingMode === "user" ? "environment" : "user";
  const button = $("switch-camera");
  button.disabled = true;
  S.local.video?.stop();
  try {
    const track = await captureFacing(next);
    S.facingMode = next;
    await replaceLocalTrack("video", track);
  } catch (err) {
    console.warn("camera switch", err);
    toast(t("Could not switch the camera."));
    try {
      await replaceLocalTrack("video", await captureFacing(S.facingMode));
    } catch {
      await replaceLocalTrack("video", null);
    }
  } finally {
    button.disabled = false;
  }
}

function applyMuteToTracks() {
  if (S.local.audio) S.local.audio.enabled = !S.muted.audio;
  if (S.local.video) S.local.video.enabled = !S.muted.video;
}

function setMuted(kind, muted, { tell = true } = {}) {
  S.muted[kind] = muted;
  S.mutedAt = Date.now();
  applyMuteToTracks();
  $(kind === "audio" ? "toggle-mic" : "toggle-camera").setAttribute("aria-pressed", String(muted));
  if (kind === "video") showLocalVideo();
  if (tell) send({ type: "mute", [kind]: muted });
}

async function setAudioOnly(on) {
  S.audioOnly = on;
  $("toggle-audio-only").setAttribute("aria-pressed", String(on));
  $("room").classList.toggle("audio-only", on);
  $("audio-only-suggest").hidden = true;
  const sender = upstreamSender("video");
  if (sender) {
    await sender.replaceTrack(on ? null : S.local.video).catch((err) => console.warn(err));
    if (!on) await capBitrate(sender);
  }
  showLocalVideo();
  for (const tile of S.tiles.values()) refreshTile(tile);
  send({ type: "receive", video: !on });
}

// -- signalling ---------------------------------------------------------------------------

function send(message) {
  const ws = S.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(message));
  return true;
}

function connect({ prejoin = false } = {}) {
  clearTimeout(S.retryTimer);
  S.retryTimer = null;
  useSocket(new WebSocket(socketUrl(config.ws_path, { prejoin })), { prejoin });
}

/**
 * Take over the standby connection that room/standby.js brought up while the page loaded:
 * its socket, its peer connection with the first offer already answered, and the messages
 * after those. Without one (it closed, or failed), stand by afresh.
 */
async function adoptStandby() {
  S.adopting = true;
  let early = null;
  try {
    early = await take();
  } finally {
    S.adopting = false;
  }
  if (["closed", "left"].includes(S.state)) {
    early?.pc?.close();
    early?.ws.close();
    return;
  }
  if (!early) {
    if (S.joined) connect(); // Join was tapped meanwhile
    else connect({ prejoin: true });
    return;
  }
  for (const [step, at] of Object.entries(early.timeline)) mark(step, at);
  useSocket(early.ws, { prejoin: true, backlog: early.backlog, adopt: early });
}

function useSocket(ws, { prejoin, backlog = [], adopt = null }) {
  S.ws = ws;
  S.standby = prejoin;
  S.welcomed = false;
  const opened = () => {
    mark("socket open");
    clearInterval(S.pingTimer);
    S.pingTimer = setInterval(() => send({ type: "ping" }), PING_MS);
  };
  const received = (event) => {
    if (ws !== S.ws || typeof event.data !== "string") return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    try {
      handle(message);
    } catch (err) {
      console.error("room message", message?.type, err);
    }
  };
  if (ws.readyState === WebSocket.OPEN) opened();
  else ws.addEventListener("open", opened);
  ws.addEventListener("message", received);
  if (adopt?.welcome) onWelcome(adopt.welcome, adopt);
  for (const event of backlog) received(event);
  // Join tapped while the connection was being taken over: join now that an offer from the
  // backlog, if any, is counted (and so answered first).
  if (adopt?.welcome && S.joined && S.standby && S.welcomed && ws === S.ws) joinStandby();
  ws.addEventListener("close", (event) => {
    if (ws !== S.ws) return; // a socket we replaced on purpose
    clearInterval(S.pingTimer);
    if (!S.joined) return dropStandby(); // Join will connect afresh
    if (["closed", "left", "prejoin"].includes(S.state)) return;
    if (event.code === REPLACED_CODE) {
      showEnded(t("You joined this meeting from another page or device."), { rejoin: true });
      return;
    }
    // 1008 and 44xx: the server refuses us (signed out, not in this case, the meeting has
    // ended); its `error` said why. Retrying won't help.
    if (event.code === 1008 || (event.code >= 4400 && event.code < 4500)) {
      showEnded(S.lastError || event.reason || t("You cannot join this meeting."));
      return;
    }
    scheduleReconnect();
  });
}

function detachSocket() {
  const ws = S.ws;
  S.ws = null;
  S.afterAnswer = null; // a join deferred for this socket's answer is not another's
  clearInterval(S.pingTimer);
  if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
}

function scheduleReconnect() {
  if (S.retryTimer || ["closed", "left"].includes(S.state)) return;
  detachSocket();
  if (S.attempts >= RETRY_DELAYS.length) {
    closePeer();
    setState("failed");
    return;
  }
  const delay = RETRY_DELAYS[S.attempts++];
  setState("reconnecting");
  S.retryTimer = setTimeout(() => {
    S.retryTimer = null;
    connect();
  }, delay);
}

/** Reconnect now (a fresh socket, and a fresh peer connection on its welcome). */
function reconnect() {
  if (["prejoin", "closed", "left"].includes(S.state)) return;
  clearTimeout(S.retryTimer);
  S.retryTimer = null;
  S.attempts = 0;
  detachSocket();
  setState("reconnecting");
  connect();
}

function handle(message) {
  switch (message.type) {
    case "welcome":
      return onWelcome(message);
    case "lobby":
      S.attempts = 0;
      S.inLobby = true;
      S.callReady = false;
      S.awaitingJoined = false;
      // Stood by before joining: the server let that peer go (even one whose offer we are
      // still answering), and offers a new one on admission.
      if (S.offered || S.offersPending > 0) newPeerConnection(S.iceServers);
      return setState("lobby");
    case "joined":
      S.awaitingJoined = false;
      if (message.admitted) {
        S.inLobby = false;
        enterCall();
      }
      return undefined;
    case "offer": {
      const pc = S.pc;
      S.offersPending += 1;
      S.chain = S.chain.then(() => answerOffer(pc, message)).catch((err) => offerFailed(pc, err));
      return;
    }
    case "candidate": {
      const pc = S.pc;
      S.chain = S.chain.then(() => addCandidate(pc, message));
      return;
    }
    case "participants":
      return renderParticipants(Array.isArray(message.participants) ? message.participants : []);
    case "caucus":
      return onCaucus(Array.isArray(message.with) ? message.with : []);
    case "recording":
      return setRecording(Boolean(message.on));
    case "agreement":
      return toast(t("A new version of the agreement is ready to read (version {version}).", { version: message.version ?? "" }));
    case "chat":
      return addChat(message);
    case "notice":
      return onNotice(message);
    case "closed":
      return showEnded(CLOSED_REASONS[message.reason] ?? String(message.reason ?? ""), {
        rejoin: message.reason === "server_shutdown",
      });
    case "error":
      S.lastError = message.detail || "";
      return toast(message.detail || t("Something went wrong. Please try again."));
    default:
      return undefined;
  }
}

function onNotice(message) {
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

/** `adopted`: the welcome was taken in by room/standby.js, with its peer and offer. */
function onWelcome(message, adopted = null) {
  mark("welcome");
  S.lastError = "";
  if (message.participant_id) S.participantId = message.participant_id;
  if (message.role) S.role = message.role;
  if (Array.isArray(message.ice_servers)) S.iceServers = message.ice_servers;
  newPeerConnection(S.iceServers, adopted?.pc ?? null);
  if (adopted?.offer) tookAnswered(adopted.offer);
  S.inLobby = false;
  S.callReady = false;
  if (message.joined === false) {
    S.welcomed = true;
    // Join was tapped while the socket was opening (useSocket does it for an adopted one).
    if (S.joined && !adopted) joinStandby();
    return; // standing by: still on the device check
  }
  sendConsent();
  if (S.state !== "reconnecting") setState("connecting");
}

function sendConsent() {
  if (!S.isParty) return;
  send({
    type: "consent",
    online: $("consent-online").checked,
    recording: $("consent-recording").checked,
  });
}

function dropStandby() {
  if (!S.standby) return;
  S.standby = false;
  detachSocket();
  closePeer();
  S.offered = false;
}

function newPeerConnection(iceServers, existing = null) {
  closePeer();
  const pc = existing ?? new RTCPeerConnection({ iceServers: iceServers || [] });
  S.pc = pc;
  S.chain = Promise.resolve();
  S.offersPending = 0;
  S.afterAnswer = null;
  S.awaitingJoined = false;
  S.upstream = {};
  S.trackMap = {};
  S.announced = new WeakSet();
  S.offered = false;
  pc.addEventListener("icecandidate", (event) => {
    const message = candidateMessage(event.candidate);
    if (pc === S.pc && message) send(message);
  });
  pc.addEventListener("track", (event) => {
    if (pc !== S.pc) return;
    S.announced.add(event.track);
    watchTrack(pc, event.track);
    reconcileTracks();
  });
  // An adopted connection announced its tracks before these listeners were here (its
  // timeline so far comes with it; room/standby.js hands over no connection that failed).
  for (const receiver of existing ? pc.getReceivers() : []) {
    if (receiver.track) watchTrack(pc, receiver.track);
  }
  pc.addEventListener("iceconnectionstatechange", () => {
    if (pc === S.pc && ["connected", "completed"].includes(pc.iceConnectionState)) mark("ice connected");
  });
  pc.addEventListener("connectionstatechange", () => {
    if (pc !== S.pc) return;
    const state = pc.connectionState;
    if (state === "connected") mark("dtls connected");
    if (!S.joined) {
      if (state === "failed") dropStandby(); // Join will connect afresh
      return;
    }
    clearTimeout(S.disconnectTimer);
    if (S.state === "reconnecting") return; // a new socket and peer are on their way
    if (state === "failed") {
      scheduleReconnect();
    } else if (state === "disconnected") {
      // Often a network switch (Wi-Fi to mobile data): don't wait for ICE to give up.
      S.disconnectTimer = setTimeout(() => {
        if (pc === S.pc && pc.connectionState === "disconnected") scheduleReconnect();
      }, DISCONNECTED_GRACE_MS);
    }
  });
  S.quality = new QualityMonitor(pc, onQuality);
}

function watchTrack(pc, track) {
  const refresh = () => {
    for (const tile of S.tiles.values()) if (tile.tracks.includes(track)) refreshTile(tile);
  };
  track.addEventListener("mute", refresh);
  track.addEventListener("unmute", refresh);
  track.addEventListener("ended", () => pc === S.pc && reconcileTracks());
}

/** room/standby.js answered this offer on the connection just adopted. */
function tookAnswered(offer) {
  ({ tracks: S.trackMap, upstream: S.upstream } = offerMaps(offer));
  S.offered = true;
}

function closePeer() {
  S.quality?.stop();
  S.quality = null;
  clearTimeout(S.disconnectTimer);
  const old = S.pc;
  S.pc = null;
  if (old) old.close();
}

function upstreamSender(kind) {
  const mid = S.upstream[kind];
  if (!S.pc || mid == null || !S.joined) return null; // nothing leaves before Join
  return S.pc.getTransceivers().find((tr) => tr.mid === mid)?.sender ?? null;
}

async function answerOffer(pc, message) {
  if (!pc || pc !== S.pc || pc.signalingState === "closed") return offerSettled(pc);
  // Set before setRemoteDescription: ontrack fires inside it and needs the mapping.
  ({ tracks: S.trackMap, upstream: S.upstream } = offerMaps(message));
  mark("offer");
  // If this throws, offerFailed() replaces the connection, and with it the count of offers.
  const sdp = await answer(pc, message, (kind) =>
    !S.joined || (kind === "video" && S.audioOnly) ? null : S.local[kind],
  );
  if (pc !== S.pc) return; // replaced meanwhile: the new connection has its own count
  send({ type: "answer", sdp });
  mark("answer sent");
  S.offered = true;
  offerSettled(pc); // a join waiting for this answer goes now, before the rest below
  await capBitrate(upstreamSender("video"));
  reconcileTracks();
  // Standing by, or joined on the standby connection: the server's `joined` says whether we
  // are let in. Otherwise the server makes our peer (and so offers) only once we are.
  if (!S.joined || S.awaitingJoined || pc !== S.pc) return;
  S.inLobby = false;
  enterCall();
}

function offerFailed(pc, err) {
  console.error("offer", err);
  if (pc !== S.pc) return;
  if (!S.joined) return dropStandby(); // Join will connect afresh
  S.afterAnswer = null; // a fresh socket (scheduleReconnect) joins as it opens
  toast(t("The connection had a problem. Reconnecting…"));
  scheduleReconnect();
}

async function addCandidate(pc, message) {
  if (!pc || pc !== S.pc || !message.candidate) return;
  try {
    await pc.addIceCandidate({
      candidate: message.candidate,
      sdpMid: message.sdpMid ?? null,
      sdpMLineIndex: message.sdpMLineIndex ?? null,
    });
  } catch (err) {
    console.warn("addIceCandidate", err);
  }
}

async function capBitrate(sender) {
  if (!sender?.getParameters) return;
  try {
    const params = sender.getParameters();
    if (!params.encodings?.length) return;
    params.encodings[0].maxBitrate = VIDEO_MAX_BITRATE;
    params.encodings[0].maxFramerate = VIDEO_MAX_FRAMERATE;
    await sender.setParameters(params);
  } catch (err) {
    console.warn("setParameters", err);
  }
}

function enterCall() {
  if (!S.joined || S.inLobby || !S.offered || S.callReady) return;
  S.callReady = true;
  S.attempts = 0;
  S.everInCall = true;
  meter.detach();
  setState("in-call");
  S.quality?.start();
  // The server's record of us is new after a reconnect: tell it what we chose before.
  if (S.muted.audio || S.muted.video) send({ type: "mute", audio: S.muted.audio, video: S.muted.video });
  if (S.audioOnly) send({ type: "receive", video: false });
  showLocalVideo();
  reconcileTracks();
}

// -- tiles --------------------------------------------------------------------------------

/** Put every received track into its participant's tile; drop tiles nobody sends to. */
function reconcileTracks() {
  const pc = S.pc;
  // Standing by, nothing is forwarded to us: a tile's <video> waiting for frames that cannot
  // come would only hold back the page's load event. enterCall() makes the tiles.
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

function playAll() {
  resumeAudio();
  $("tap-to-play").hidden = true;
  for (const tile of S.tiles.values()) play(tile.video);
  for (const id of ["video-self", "preview"]) $(id).play().catch(() => {});
}

function removeTile(pid) {
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

function refreshTile(tile) {
  const p = S.participants.get(tile.pid);
  const video = tile.tracks.find((tr) => tr.kind === "video");
  const showsVideo =
    Boolean(video) && video.readyState === "live" && !video.muted && !S.audioOnly && !isMuted(p, "video");
  tile.root.classList.toggle("no-video", !showsVideo);
  tile.root.dataset.audio = String(tile.tracks.some((tr) => tr.kind === "audio"));
  tile.root.dataset.video = String(Boolean(video));
}

function updateEmpty() {
  $("tiles-empty").hidden = S.tiles.size > 0;
  $("tiles").dataset.count = String(S.tiles.size + 1);
}

// -- participants, lobby, caucus, formalities ---------------------------------------------

function renderParticipants(list) {
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
  const me = S.participants.get(S.participantId);
  if (me?.admitted === true && S.inLobby) {
    S.inLobby = false;
    enterCall();
  }
  // The host muted us (our own changes win for a moment, while the server catches up).
  if (me && isMuted(me, "audio") && !S.muted.audio && Date.now() - S.mutedAt > 2000) {
    setMuted("audio", true, { tell: false });
  }
  for (const id of [...S.caucusPicked]) if (!S.participants.has(id)) S.caucusPicked.delete(id);
  renderPeople();
  if (S.isHost) renderLobby(waiting);
  for (const tile of S.tiles.values()) labelTile(tile);
  reconcileTracks();
  renderCaucus();
}

function consentText(label, value) {
  if (value === true) return t("{what}: agreed", { what: label });
  if (value === false) return t("{what}: refused", { what: label });
  return t("{what}: not answered yet", { what: label });
}

function renderPeople() {
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
  if (!S.isHost) return row;

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
        renderCaucus();
      });
      actions.append(h("label", { className: "check inline" }, box, h("span", { text: t("Private talk") })));
    }
    if (!isMuted(p, "audio")) {
      actions.append(button(t("Mute"), `mute-${p.id}`, () => send({ type: "mute", participant_id: p.id, audio: true })));
    }
    actions.append(button(t("Remove"), `remove-${p.id}`, () => send({ type: "remove", participant_id: p.id }), "danger-outline"));
    row.append(actions);
  }
  return row;
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
}

function onCaucus(ids) {
  const wasOn = S.caucusWith.length > 0;
  S.caucusWith = ids;
  for (const tile of S.tiles.values()) labelTile(tile);
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
  const start = $("caucus-start");
  if (!start) return;
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
  const button = $("recording-toggle");
  button.disabled = true;
  try {
    const state = await api("POST", `/api/rooms/${config.room_id}/recording`, {
      action: S.recording ? "stop" : "start",
    });
    setRecording(Boolean(state?.on));
  } catch (err) {
    toast(err.message); // e.g. a party has not consented to recording
  } finally {
    button.disabled = false;
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

// -- recording, quality, chat -------------------------------------------------------------

function setRecording(on) {
  const before = S.recording;
  S.recording = on;
  $("recording-banner").hidden = !on;
  $("room").classList.toggle("recording", on);
  $("recording-toggle")?.setAttribute("aria-pressed", String(on));
  if (before !== null && before !== on) {
    const text = on ? t("Recording has started.") : t("Recording has stopped.");
    toast(text);
    addSystemLine(text);
  }
}

function onQuality({ level }) {
  S.qualityLevel = level;
  const box = $("quality");
  box.dataset.quality = level;
  $("quality-label").textContent = QUALITY_LABELS[level] ?? QUALITY_LABELS.unknown;
  S.poorSamples = level === POOR ? S.poorSamples + 1 : 0;
  const quiet = Date.now() - S.suggestDismissedAt < 120_000;
  if (S.poorSamples >= 2 && !S.audioOnly && !quiet) $("audio-only-suggest").hidden = false;
}

function chatTime(at) {
  let date;
  if (typeof at === "number") date = new Date(at < 1e12 ? at * 1000 : at);
  else if (typeof at === "string") date = new Date(at);
  if (!date || Number.isNaN(date.getTime())) date = new Date();
  return beijing.format(date);
}

function chatLine({ mine, name, text, at }) {
  return h(
    "li",
    { className: `msg${mine ? " mine" : ""}` },
    h(
      "div",
      { className: "msg-head" },
      h("strong", { text: mine ? t("Me") : name || "…" }),
      h("time", { text: chatTime(at) }),
    ),
    h("p", { text }),
  );
}

function appendChat(node) {
  const list = $("chat-messages");
  list.append(node);
  list.scrollTop = list.scrollHeight;
}

function addChat(message) {
  const mine = message.from === S.participantId;
  const text = String(message.text ?? "");
  if (mine) {
    // Our own message coming back from the server replaces the copy shown when sent.
    const index = S.pendingChats.findIndex((p) => p.text === text);
    if (index >= 0) {
      const [pending] = S.pendingChats.splice(index, 1);
      pending.node.replaceWith(chatLine({ mine, name: message.name, text, at: message.at }));
      return;
    }
  }
  appendChat(chatLine({ mine, name: message.name, text, at: message.at }));
  if (!mine && $("chat-panel").hidden) {
    S.unread += 1;
    $("chat-badge").textContent = String(S.unread);
    $("chat-badge").hidden = false;
    toast(`${message.name || ""}: ${text}`.slice(0, 120));
  }
}

function addSystemLine(text) {
  appendChat(h("li", { className: "msg system", text }));
}

function sendChat(event) {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text) return;
  if (!send({ type: "chat", text: text.slice(0, 2000) })) {
    toast(t("Not sent: you are not connected right now."));
    return;
  }
  const node = chatLine({ mine: true, text, at: Date.now() });
  S.pendingChats.push({ text, node });
  appendChat(node);
  input.value = "";
}

function toggleChat(open = $("chat-panel").hidden) {
  $("chat-panel").hidden = !open;
  $("toggle-chat").setAttribute("aria-pressed", String(open));
  if (open) {
    S.unread = 0;
    $("chat-badge").hidden = true;
    $("chat-input").focus();
  }
}

// -- joining, leaving, the end ------------------------------------------------------------

function join() {
  if (S.isParty && !$("consent-online").checked) return;
  resumeAudio();
  S.attempts = 0;
  setState("connecting");
  S.joined = true;
  S.joinedAt = Date.now();
  if (S.standby && S.ws?.readyState === WebSocket.OPEN && S.welcomed) {
    joinStandby();
  } else if (S.standby && S.ws && S.ws.readyState <= WebSocket.OPEN) {
    // Still connecting: join as soon as the server has welcomed us (onWelcome).
  } else if (S.adopting) {
    // The standby connection is being taken over: adoptStandby() joins on it, or on a
    // fresh socket if there is none.
  } else {
    dropStandby();
    S.standby = false;
    connect();
  }
}

/** The connection made while standing by is up: say we are in, then start sending. */
function joinStandby() {
  S.standby = false;
  // An offer is being answered: join right after the answer. The server reads a socket's
  // messages one at a time and records the join and the consents first, so an answer behind
  // them would hold up ICE and DTLS, which can run meanwhile.
  if (S.offersPending > 0) S.afterAnswer = sendJoin;
  else sendJoin();
}

function sendJoin() {
  if (!send({ type: "join" })) return; // the socket went: its close handler reconnects
  mark("join sent");
  S.awaitingJoined = true;
  sendConsent();
  attachUpstream();
}

/** Called once per offer of the current connection, when its answer has gone out. */
function offerSettled(pc) {
  if (pc !== S.pc) return; // a new connection has its own count (newPeerConnection)
  S.offersPending = Math.max(0, S.offersPending - 1);
  if (S.offersPending === 0 && S.afterAnswer) {
    const then = S.afterAnswer;
    S.afterAnswer = null;
    then();
  }
}

async function attachUpstream() {
  for (const kind of ["audio", "video"]) {
    const sender = upstreamSender(kind);
    const track = kind === "video" && S.audioOnly ? null : S.local[kind];
    if (!sender || sender.track === track) continue;
    await sender.replaceTrack(track).catch((err) => console.warn("replaceTrack", err));
    if (kind === "video") await capBitrate(sender);
  }
}

function stopEverything() {
  clearTimeout(S.retryTimer);
  S.retryTimer = null;
  detachSocket();
  closePeer();
  meter.detach();
  stopLocalTracks();
  for (const pid of [...S.tiles.keys()]) removeTile(pid);
  for (const id of ["preview", "video-self"]) $(id).srcObject = null;
  $("recording-banner").hidden = true;
  $("audio-only-suggest").hidden = true;
}

function showEnded(reason, { rejoin = false } = {}) {
  setState("closed");
  stopEverything();
  $("ended-title").textContent = t("The meeting has ended");
  $("ended-reason").textContent = reason || "";
  $("rejoin").hidden = !rejoin;
}

function leave() {
  const ws = S.ws;
  setState("left");
  if (ws && ws.readyState === WebSocket.OPEN) ws.close(1000, "left");
  stopEverything();
  $("ended-title").textContent = t("You have left the meeting.");
  $("ended-reason").textContent = "";
  $("rejoin").hidden = false;
}

// -- wiring -------------------------------------------------------------------------------

function wire() {
  if (/MicroMessenger/i.test(navigator.userAgent)) $("wechat-notice").hidden = false;

  const consent = $("consent-online");
  if (consent) {
    const sync = () => {
      $("join").disabled = !consent.checked;
      $("join-hint").hidden = consent.checked;
    };
    consent.addEventListener("change", sync);
    sync();
  }
  $("join").addEventListener("click", join);
  $("media-retry").addEventListener("click", () => startMedia());
  $("camera-select").addEventListener("change", () => chooseDevice("video"));
  $("mic-select").addEventListener("change", () => chooseDevice("audio"));
  $("toggle-mic").addEventListener("click", () => setMuted("audio", !S.muted.audio));
  $("toggle-camera").addEventListener("click", () => setMuted("video", !S.muted.video));
  $("switch-camera").addEventListener("click", switchCamera);
  $("toggle-audio-only").addEventListener("click", () => setAudioOnly(!S.audioOnly));
  $("audio-only-accept").addEventListener("click", () => setAudioOnly(true));
  $("audio-only-dismiss").addEventListener("click", () => {
    S.suggestDismissedAt = Date.now();
    $("audio-only-suggest").hidden = true;
  });
  $("toggle-chat").addEventListener("click", () => toggleChat());
  $("chat-close").addEventListener("click", () => toggleChat(false));
  $("chat-form").addEventListener("submit", sendChat);
  $("leave").addEventListener("click", () => {
    $("leave-box").hidden = false;
    $("leave-confirm").focus();
  });
  $("leave-cancel").addEventListener("click", () => {
    $("leave-box").hidden = true;
  });
  $("leave-confirm").addEventListener("click", leave);
  $("rejoin").addEventListener("click", () => window.location.reload());
  $("reconnect").addEventListener("click", reconnect);
  $("tap-to-play").addEventListener("click", playAll);
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
  $("warning-box-close").addEventListener("click", () => {
    $("warning-box").hidden = true;
  });
  // Autoplay rules: the first tap anywhere lets sound start (the meter, the admit beep).
  document.addEventListener("pointerdown", resumeAudio, { passive: true });
  // Back on the network, or back in the browser after a phone call or another app: if the
  // connection broke meanwhile, don't wait for the next retry.
  const retryNow = () => {
    if (S.state === "reconnecting" || S.state === "failed") reconnect();
  };
  window.addEventListener("online", retryNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") retryNow();
  });
  window.addEventListener("pagehide", () => {
    if (S.ws?.readyState === WebSocket.OPEN) S.ws.close(1000, "page closed");
  });
  navigator.mediaDevices?.addEventListener?.("devicechange", () => fillDeviceSelects());
}

// For the browser tests (and for a person debugging a call from the console).
window.room = {
  get pc() {
    return S.pc;
  },
  get ws() {
    return S.ws;
  },
  get state() {
    return S.state;
  },
  get participantId() {
    return S.participantId;
  },
  get standby() {
    return S.standby;
  },
  get joined() {
    return S.joined;
  },
  // When Join was tapped (Date.now()), for the benchmark's timeline.
  get joinedAt() {
    return S.joinedAt;
  },
  // Step -> Date.now() when this page first got there (script, socket open, welcome, offer,
  // answer sent, ice connected, dtls connected, join sent), for the benchmark's timeline.
  get timeline() {
    return { ...S.timeline };
  },
  // mid -> {participant_id, kind}, from the last offer: whose media each transceiver carries.
  get tracks() {
    return { ...S.trackMap };
  },
  get tiles() {
    return Object.fromEntries(
      [...S.tiles.values()].map((tile) => [
        tile.pid,
        {
          audio: tile.tracks.some((tr) => tr.kind === "audio"),
          video: tile.tracks.some((tr) => tr.kind === "video"),
          paused: tile.video.paused,
        },
      ]),
    );
  },
  get quality() {
    return S.qualityLevel;
  },
  get audioOnly() {
    return S.audioOnly;
  },
  get muted() {
    return { ...S.muted };
  },
  get local() {
    return { audio: S.local.audio, video: S.local.video };
  },
  reconnect,
  dropSocket() {
    // Abrupt, as when a phone moves from Wi-Fi to mobile data: the socket's own close
    // handler must notice and reconnect.
    S.ws?.close();
  },
};

wire();
setState("prejoin");
$("quality-label").textContent = QUALITY_LABELS.unknown;
if (config.room_status === "closed") {
  showEnded("");
} else {
  startMedia().catch((err) => {
    console.error("media", err);
    $("media-error").textContent = explainMediaError(err, null);
  });
  adoptStandby();
  // The next thing to do has the focus: the consent box, or Join (Enter joins).
  const consent = $("consent-online");
  (consent && !consent.checked ? consent : $("join")).focus({ preventScroll: true });
}
