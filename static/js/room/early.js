// The room page's head, first thing in the page (room.html loads this as a classic script,
// before the stylesheets, which would hold a script back, and before the modules, which
// cannot run this early): start the camera and open the standby socket, so that both come up
// while the page loads. The stream goes to media.js's capture() (the constraints are VIDEO's
// there); the socket, with the messages that came before it, to room/standby.js, which
// answers the server's first offer when the page came without one, and then to room.js.
// A file rather than an inline script so that the Content-Security-Policy can forbid inline
// scripts (service/security.py); what the page tells it is in #room-early, just above.
"use strict";

(() => {
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    window.earlyCapture = navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24, max: 30 }, facingMode: "user" },
    });
    window.earlyCapture.catch(() => {});
  }
  try {
    const data = JSON.parse(document.getElementById("room-early").textContent);
    const early = { messages: [], openedAt: null, pc: null };
    // The server's offer for this standby connection, made as it served the page (null when
    // Join leads to the lobby): answered right here, as room/standby.js's answer() does it
    // with nothing to send yet (our microphone and camera go on the offer's `upstream`
    // transceivers once Join is tapped). The socket claims the connection with the token.
    // The answer and the candidates go out as soon as the socket is open, tagged with the
    // token, without waiting for the welcome: the server ignores them if the socket did not
    // claim the connection (the welcome then says `prepared: false`).
    const prepared = data.prepared;
    if (prepared && window.RTCPeerConnection) {
      const pc = new RTCPeerConnection({ iceServers: prepared.ice_servers || [] });
      const upstream = Object.values(prepared.upstream || {});
      Object.assign(early, { pc, prepared, sdp: null, candidates: [] });
      Object.assign(early, { answeringAt: Date.now(), answerSentAt: null });
      const tagged = (message) => {
        try {
          early.ws.send(JSON.stringify({ ...message, standby: prepared.token }));
        } catch (err) {} // (a closing socket: room/standby.js starts afresh)
      };
      const candidate = (c) => ({
        type: "candidate", candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex,
      });
      early.flush = () => {
        if (early.answerSentAt || early.sdp === null) return;
        if (!early.ws || early.ws.readyState !== WebSocket.OPEN) return;
        tagged({ type: "answer", sdp: early.sdp });
        for (const c of early.candidates) tagged(candidate(c));
        early.candidates = [];
        early.answerSentAt = Date.now();
      };
      // For as long as the page stands by on this connection (room.js sends its own later).
      early.sendCandidate = (event) => {
        if (!event.candidate || !event.candidate.candidate) return;
        if (early.answerSentAt) tagged(candidate(event.candidate));
        else early.candidates.push(event.candidate);
      };
      pc.addEventListener("icecandidate", early.sendCandidate);
      early.answer = pc
        .setRemoteDescription({ type: "offer", sdp: prepared.sdp })
        .then(() => {
          for (const tr of pc.getTransceivers()) {
            if (upstream.includes(tr.mid)) tr.direction = "sendonly";
          }
          return pc.createAnswer();
        })
        .then((answer) => pc.setLocalDescription(answer))
        .then(() => pc.localDescription.sdp);
      early.answer.then((sdp) => {
        early.sdp = sdp;
        early.flush();
      }, () => {}); // (room/standby.js sees the failure)
    }
    // The URL socketUrl() in room/standby.js builds; modules cannot run this early.
    const url = new URL(data.ws_path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("prejoin", "1");
    if (early.pc) url.searchParams.set("standby", prepared.token);
    early.ws = new WebSocket(url);
    early.buffer = (event) => early.messages.push(event);
    early.ws.addEventListener("message", early.buffer);
    early.ws.addEventListener("open", () => {
      early.openedAt = Date.now();
      if (early.flush) early.flush();
    }, { once: true });
    window.earlySocket = early;
  } catch (err) {
    window.earlySocket = null; // room.js connects as usual
  }
})();
