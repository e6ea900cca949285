// The standby connection, brought up while the room page is still loading.
//
// The page's head opens the standby socket (room/early.js, `window.earlySocket`) and loads
// this module on its own (`async`), so it runs once it has arrived, without waiting for the
// document to be parsed as room.js does (whichever loads it first, it is evaluated once).
// Usually the page carries the server's offer (`prepared`, made as the page was served),
// which the head answers and sends, with its candidates, as soon as the socket is open (tagged
// with the token, so that the server ignores them unless the socket claimed that connection);
// here the welcome tells whether it did. Otherwise this makes the peer connection on the
// welcome and answers the server's first offer. Either way with nothing to send yet: ICE and DTLS
// then run while the page loads. room.js imports this same module instance and takes the
// connection over with take(); from then on room.js alone handles the socket.
// No DOM and no user-facing strings here: this runs before either exists.

/** The WebSocket URL of a room's signalling path. */
export function socketUrl(wsPath, { prejoin }) {
  const url = new URL(wsPath, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  if (prejoin) url.searchParams.set("prejoin", "1");
  return url;
}

/**
 * What an offer says beyond its SDP: `tracks` (mid -> {participant_id, kind}: whose media each
 * transceiver carries) and `upstream` (kind -> the mid on which we send our own).
 */
export function offerMaps(offer) {
  const object = (value) => (value && typeof value === "object" ? value : {});
  return { tracks: object(offer.tracks), upstream: object(offer.upstream) };
}

/** The `candidate` message for one of our ICE candidates (null for none to send). */
export function candidateMessage(candidate) {
  if (!candidate || !candidate.candidate) return null;
  const { sdpMid, sdpMLineIndex } = candidate;
  return { type: "candidate", candidate: candidate.candidate, sdpMid, sdpMLineIndex };
}

/**
 * Answer a server offer (the server always offers): our microphone and camera go out on the
 * transceivers the offer names in `upstream`, each with the track `localTrack(kind)` (null
 * sends nothing yet); every other transceiver receives someone's media. Resolves to the SDP.
 */
export async function answer(pc, offer, localTrack) {
  const { upstream } = offerMaps(offer);
  await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
  for (const tr of pc.getTransceivers()) {
    if (tr.mid == null || tr.currentDirection === "stopped") continue;
    const kind = tr.mid === upstream.audio ? "audio" : tr.mid === upstream.video ? "video" : null;
    if (!kind) continue;
    tr.direction = "sendonly";
    const track = localTrack(kind);
    if (tr.sender.track !== track) await tr.sender.replaceTrack(track);
  }
  await pc.setLocalDescription(await pc.createAnswer());
  return pc.localDescription.sdp;
}

const early = {
  ws: null,
  pc: null,
  welcome: null, // the server's welcome, once it came
  offer: null, // the offer answered here
  backlog: [], // messages left for room.js, in order
  timeline: {}, // step -> Date.now(), merged into room.js's timeline
  busy: Promise.resolve(), // the answer under way
  taken: false,
  failed: false,
  // The prepared connection is used before the socket is known to have claimed it: the
  // welcome says whether it did.
  unsettled: false,
  welcomed: null, // resolves the wait for the welcome (with it, or null if the socket closed)
  dropPrepared: null, // ends the wait for the prepared answer, once that connection is dropped
  socket: null, // what the head left in window.earlySocket
  listeners: [], // [target, type, listener] to remove when room.js takes over
};

function listen(target, type, listener) {
  target.addEventListener(type, listener);
  early.listeners.push([target, type, listener]);
}

function send(message) {
  if (early.ws?.readyState === WebSocket.OPEN) early.ws.send(JSON.stringify(message));
}

/** Our peer connection; `prepared`: the head's, which sends its own (tagged) candidates. */
function makePeer(iceServers, prepared = null) {
  early.pc = prepared ?? new RTCPeerConnection({ iceServers: iceServers || [] });
  const pc = early.pc;
  if (!prepared) {
    listen(pc, "icecandidate", (e) => {
      const message = candidateMessage(e.candidate);
      if (message && pc === early.pc) send(message);
    });
  }
  const connected = () => {
    if (pc === early.pc && ["connected", "completed"].includes(pc.iceConnectionState)) {
      early.timeline["ice connected"] ??= Date.now();
    }
    if (pc === early.pc && pc.connectionState === "connected") {
      early.timeline["dtls connected"] ??= Date.now();
    }
  };
  connected(); // (the head's connection may be up already)
  listen(pc, "iceconnectionstatechange", connected);
  listen(pc, "connectionstatechange", connected);
}

function answerOffer(offer) {
  early.offer = offer;
  early.timeline.offer ??= Date.now();
  return sendAnswer(early.pc, answer(early.pc, offer, () => null));
}

/**
 * Send the answer that `answering` resolves to, if `pc` is still the connection here. One
 * dropped meanwhile sends nothing, and its failing (closed mid-answer) is no failure.
 */
function sendAnswer(pc, answering) {
  return answering.then(
    (sdp) => {
      if (pc !== early.pc) return;
      send({ type: "answer", sdp });
      early.timeline["answer sent"] = Date.now();
    },
    (err) => {
      if (pc === early.pc) throw err;
    },
  );
}

/**
 * The connection for the offer the page came with, which the page's head answers and sends
 * (this module arrives later): wait for the answer and for the welcome.
 */
function usePrepared(socket) {
  const { pc, prepared } = socket;
  const { sdp, upstream, tracks } = prepared;
  early.unsettled = true;
  early.offer = { type: "offer", sdp, upstream, tracks };
  early.timeline.offer = socket.answeringAt;
  makePeer(null, pc);
  const answered = socket.answer.then(
    () => {},
    (err) => {
      if (pc === early.pc) throw err;
    },
  );
  const welcomed = new Promise((resolve) => (early.welcomed = resolve));
  listen(early.ws, "close", () => early.welcomed?.(null));
  // A connection closed mid-answer may never settle its promises: when it is dropped, stop
  // waiting for its answer (take() waits for this).
  const dropped = new Promise((resolve) => (early.dropPrepared = resolve));
  early.busy = Promise.all([Promise.race([answered, dropped]), welcomed]).catch(fail);
}

/** The welcome decides about the prepared connection: claimed, or gone and started afresh. */
function settlePrepared(welcome) {
  early.unsettled = false;
  if (!welcome.prepared) {
    // The server had no such connection any more (the page sat too long): it makes a new
    // one, whose offer comes next.
    early.pc.close();
    early.pc = null;
    early.offer = null;
    early.dropPrepared?.();
    delete early.timeline.offer;
    makePeer(welcome.ice_servers);
  }
}

function fail(err) {
  // Whatever went wrong, room.js starts afresh (a new socket) when it takes over.
  console.warn("standby", err);
  early.failed = true;
}

/** Consume the welcome and the first offer; anything else is room.js's, in order. */
function consume(event) {
  // (taken while the prepared connection waits for its welcome: take() waits for it too)
  const done = early.taken && !early.unsettled;
  if (done || early.failed || early.backlog.length || typeof event.data !== "string") {
    early.backlog.push(event);
    return;
  }
  let message;
  try {
    message = JSON.parse(event.data);
  } catch {
    early.backlog.push(event);
    return;
  }
  if (message.type === "welcome" && !early.welcome && message.joined === false) {
    early.welcome = message;
    early.timeline.welcome = Date.now();
    try {
      if (early.unsettled) settlePrepared(message);
      else makePeer(message.ice_servers);
    } catch (err) {
      fail(err);
    }
    early.welcomed?.(message); // (whatever happened: take() waits for this)
    early.welcomed = null;
  } else if (message.type === "offer" && early.pc && !early.offer) {
    early.busy = answerOffer(message).catch(fail);
  } else {
    early.backlog.push(event);
  }
}

function start() {
  const socket = window.earlySocket;
  window.earlySocket = null;
  if (!socket || socket.ws.readyState > WebSocket.OPEN) return;
  early.ws = socket.ws;
  early.socket = socket;
  socket.ws.removeEventListener("message", socket.buffer);
  if (socket.pc) usePrepared(socket); // (the head made it for the offer the page carried)
  listen(socket.ws, "message", consume);
  for (const event of socket.messages) consume(event);
}

/**
 * Hand the standby connection to room.js, once any answer under way has gone out: the open
 * socket, its peer connection (null before the welcome), the welcome and the offer answered
 * here (or null), and the messages that came after them, to be handled in order. Null when
 * there is nothing usable (no early socket, it closed, or something failed): connect afresh.
 */
export async function take() {
  early.taken = true;
  await early.busy;
  const { ws, pc, socket } = early;
  if (socket?.openedAt) early.timeline["socket open"] = socket.openedAt;
  if (socket?.answerSentAt && pc === socket.pc) {
    early.timeline["answer sent"] = socket.answerSentAt;
    socket.pc.removeEventListener("icecandidate", socket.sendCandidate); // room.js sends them now
  }
  for (const [target, type, listener] of early.listeners) target.removeEventListener(type, listener);
  early.listeners = [];
  const handover = {
    ws,
    pc,
    welcome: early.welcome,
    offer: early.offer,
    backlog: early.backlog,
    timeline: { ...early.timeline },
  };
  // Let go of it all here: room.js owns it now, or nobody does.
  Object.assign(early, { ws: null, pc: null, socket: null, backlog: [], welcome: null, offer: null });
  // A socket that closed (a refusal, or a meeting that ended meanwhile) is stood by again
  // afresh by room.js, which then meets the refusal itself; a failed connection likewise.
  if (!ws || early.failed || ws.readyState > WebSocket.OPEN || pc?.connectionState === "failed") {
    pc?.close();
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
    return null;
  }
  return handover;
}

start();
