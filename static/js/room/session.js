// The page's life in the meeting: standing by, joining, the lobby, the call, reconnecting,
// and the end; and what each of the server's messages means for it. The protocol is the
// docstring of rooms/signaling.py.

import { t, toast } from "../api.js";
import { addChat } from "./chat.js";
import { CLOSED_REASONS, REPLACED_CODE, RETRY_DELAYS } from "./config.js";
import { $ } from "./dom.js";
import { attachUpstream, meter, showLocalVideo, stopLocalTracks } from "./local.js";
import { resumeAudio } from "./media.js";
import { onAgreement, onNotice, setRecording } from "./notices.js";
import { afterAnswers, closePeer, newPeerConnection, queueCandidate, queueOffer, tookAnswered } from "./peer.js";
import { learnParticipants, onCaucus, showParticipants } from "./people.js";
import { attachSocket, detachSocket, openSocket, send } from "./socket.js";
import { take } from "./standby.js";
import { isOver, mark, S, transition } from "./state.js";
import { reconcileTracks, removeTile } from "./tiles.js";

// -- the socket ---------------------------------------------------------------------------

function connect({ prejoin = false } = {}) {
  clearTimeout(S.retryTimer);
  S.retryTimer = null;
  useSocket(openSocket({ prejoin }), { prejoin });
}

/**
 * Take over the standby connection that room/standby.js brought up while the page loaded:
 * its socket, its peer connection with the first offer already answered, and the messages
 * after those. Without one (it closed, or failed), stand by afresh.
 */
export async function adoptStandby() {
  S.adopting = true;
  let early = null;
  try {
    early = await take();
  } finally {
    S.adopting = false;
  }
  if (isOver()) {
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
  const received = attachSocket(ws, { onMessage: handle, onClose: socketClosed });
  S.standby = prejoin;
  S.welcomed = false;
  if (adopt?.welcome) onWelcome(adopt.welcome, adopt);
  for (const event of backlog) received(event);
  // Join tapped while the connection was being taken over: join now that an offer from the
  // backlog, if any, is counted (and so answered first).
  if (adopt?.welcome && S.joined && S.standby && S.welcomed && ws === S.ws) joinStandby();
}

function socketClosed(event) {
  if (!S.joined) return dropStandby(); // Join will connect afresh
  if (isOver() || S.state === "prejoin") return;
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
}

export function scheduleReconnect() {
  if (S.retryTimer || isOver()) return;
  detachSocket();
  if (S.attempts >= RETRY_DELAYS.length) {
    closePeer();
    transition("failed");
    return;
  }
  const delay = RETRY_DELAYS[S.attempts++];
  transition("reconnecting");
  S.retryTimer = setTimeout(() => {
    S.retryTimer = null;
    connect();
  }, delay);
}

/** Reconnect now (a fresh socket, and a fresh peer connection on its welcome). */
export function reconnect() {
  if (isOver() || S.state === "prejoin") return;
  clearTimeout(S.retryTimer);
  S.retryTimer = null;
  S.attempts = 0;
  detachSocket();
  transition("reconnecting");
  connect();
}

// -- the server's messages ----------------------------------------------------------------

function handle(message) {
  switch (message.type) {
    case "welcome":
      return onWelcome(message);
    case "lobby":
      return onLobby();
    case "joined":
      S.awaitingJoined = false;
      if (message.admitted) letIn();
      return undefined;
    case "offer":
      return queueOffer(message);
    case "candidate":
      return queueCandidate(message);
    case "participants": {
      const seen = learnParticipants(Array.isArray(message.participants) ? message.participants : []);
      if (seen.me?.admitted === true && S.inLobby) letIn();
      return showParticipants(seen);
    }
    case "caucus":
      return onCaucus(Array.isArray(message.with) ? message.with : []);
    case "recording":
      return setRecording(Boolean(message.on));
    case "agreement":
      return onAgreement(message);
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
  if (S.state !== "reconnecting") transition("connecting");
}

function onLobby() {
  S.attempts = 0;
  S.inLobby = true;
  S.callReady = false;
  S.awaitingJoined = false;
  // Stood by before joining: the server let that peer go (even one whose offer we are
  // still answering), and offers a new one on admission.
  if (S.offered || S.offersPending > 0) newPeerConnection(S.iceServers);
  transition("lobby");
}

/** The server has let us in (`joined`, `participants`, or an answer on a call's connection). */
export function letIn() {
  S.inLobby = false;
  enterCall();
}

function enterCall() {
  if (!S.joined || S.inLobby || !S.offered || S.callReady) return;
  S.callReady = true;
  S.attempts = 0;
  S.everInCall = true;
  meter.detach();
  transition("in-call");
  S.quality?.start();
  // The server's record of us is new after a reconnect: tell it what we chose before.
  if (S.muted.audio || S.muted.video) send({ type: "mute", audio: S.muted.audio, video: S.muted.video });
  if (S.audioOnly) send({ type: "receive", video: false });
  showLocalVideo();
  reconcileTracks();
}

function sendConsent() {
  if (!S.isParty) return;
  send({
    type: "consent",
    online: $("consent-online").checked,
    recording: $("consent-recording").checked,
  });
}

export function dropStandby() {
  if (!S.standby) return;
  S.standby = false;
  detachSocket();
  closePeer();
  S.offered = false;
}

// -- joining, leaving, the end ------------------------------------------------------------

export function join() {
  if (S.isParty && !$("consent-online").checked) return;
  resumeAudio();
  S.attempts = 0;
  transition("connecting");
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
  afterAnswers(sendJoin);
}

function sendJoin() {
  if (!send({ type: "join" })) return; // the socket went: its close handler reconnects
  mark("join sent");
  S.awaitingJoined = true;
  sendConsent();
  attachUpstream();
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

export function showEnded(reason, { rejoin = false } = {}) {
  transition("closed");
  stopEverything();
  $("ended-title").textContent = t("The meeting has ended");
  $("ended-reason").textContent = reason || "";
  $("rejoin").hidden = !rejoin;
}

export function leave() {
  const ws = S.ws;
  transition("left");
  if (ws && ws.readyState === WebSocket.OPEN) ws.close(1000, "left");
  stopEverything();
  $("ended-title").textContent = t("You have left the meeting.");
  $("ended-reason").textContent = "";
  $("rejoin").hidden = false;
}
