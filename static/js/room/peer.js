// The page's one WebRTC connection with the server: the server offers, we answer (one offer
// or candidate at a time, in order); our microphone and camera go on the transceivers the
// offer names `upstream`, every other one carries someone's media to a tile.

import { t, toast } from "../api.js";
import { DISCONNECTED_GRACE_MS, VIDEO_MAX_BITRATE, VIDEO_MAX_FRAMERATE } from "./config.js";
import { QualityMonitor } from "./quality.js";
import { send } from "./socket.js";
import { answer, candidateMessage, offerMaps } from "./standby.js";
import { mark, S } from "./state.js";
import { reconcileTracks, refreshTile } from "./tiles.js";

// What the session does when the connection lets us in, breaks, or reports its quality.
// room/session.js builds on this module, so room.js hands its functions over (reportTo).
const session = {
  letIn: () => {}, // an answer went out on a connection the server makes only for the call
  standbyLost: () => {}, // the connection made while standing by failed: Join starts afresh
  callLost: () => {}, // the connection of a joined page failed: reconnect
  quality: () => {}, // a QualityMonitor sample
};

export function reportTo(handlers) {
  Object.assign(session, handlers);
}

export function newPeerConnection(iceServers, existing = null) {
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
      if (state === "failed") session.standbyLost(); // Join will connect afresh
      return;
    }
    clearTimeout(S.disconnectTimer);
    if (S.state === "reconnecting") return; // a new socket and peer are on their way
    if (state === "failed") {
      session.callLost();
    } else if (state === "disconnected") {
      // Often a network switch (Wi-Fi to mobile data): don't wait for ICE to give up.
      S.disconnectTimer = setTimeout(() => {
        if (pc === S.pc && pc.connectionState === "disconnected") session.callLost();
      }, DISCONNECTED_GRACE_MS);
    }
  });
  S.quality = new QualityMonitor(pc, (sample) => session.quality(sample));
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
export function tookAnswered(offer) {
  ({ tracks: S.trackMap, upstream: S.upstream } = offerMaps(offer));
  S.offered = true;
}

export function closePeer() {
  S.quality?.stop();
  S.quality = null;
  clearTimeout(S.disconnectTimer);
  const old = S.pc;
  S.pc = null;
  if (old) old.close();
}

export function upstreamSender(kind) {
  const mid = S.upstream[kind];
  if (!S.pc || mid == null || !S.joined) return null; // nothing leaves before Join
  return S.pc.getTransceivers().find((tr) => tr.mid === mid)?.sender ?? null;
}

/** The server's offer, answered after whatever is before it on the current connection. */
export function queueOffer(message) {
  const pc = S.pc;
  S.offersPending += 1;
  S.chain = S.chain.then(() => answerOffer(pc, message)).catch((err) => offerFailed(pc, err));
}

export function queueCandidate(message) {
  const pc = S.pc;
  S.chain = S.chain.then(() => addCandidate(pc, message));
}

/** Run `then` once every offer of the current connection has been answered (now if none is). */
export function afterAnswers(then) {
  if (S.offersPending > 0) S.afterAnswer = then;
  else then();
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
  session.letIn();
}

function offerFailed(pc, err) {
  console.error("offer", err);
  if (pc !== S.pc) return;
  if (!S.joined) return session.standbyLost(); // Join will connect afresh
  S.afterAnswer = null; // a fresh socket (the reconnect) joins as it opens
  toast(t("The connection had a problem. Reconnecting…"));
  session.callLost();
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

export async function capBitrate(sender) {
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
