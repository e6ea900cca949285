// The signalling socket as a transport: open it, send on it, read JSON from it, let it go.
// What the messages mean, and what a closed socket means, is room/session.js's business.

import { config, PING_MS } from "./config.js";
import { mark, S } from "./state.js";
import { socketUrl } from "./standby.js";

/** Send on the page's socket if it is open; says whether it was. */
export function send(message) {
  const ws = S.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(message));
  return true;
}

export function openSocket({ prejoin }) {
  return new WebSocket(socketUrl(config.ws_path, { prejoin }));
}

/**
 * Make `ws` the page's socket: it pings while open, each of its messages is parsed and given to
 * `onMessage`, and `onClose(event)` runs when it closes, unless the page replaced it meanwhile.
 * Returns the function that reads one message event, for the ones that came before this.
 */
export function attachSocket(ws, { onMessage, onClose }) {
  S.ws = ws;
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
      onMessage(message);
    } catch (err) {
      console.error("room message", message?.type, err);
    }
  };
  if (ws.readyState === WebSocket.OPEN) opened();
  else ws.addEventListener("open", opened);
  ws.addEventListener("message", received);
  ws.addEventListener("close", (event) => {
    if (ws !== S.ws) return; // a socket we replaced on purpose
    clearInterval(S.pingTimer);
    onClose(event);
  });
  return received;
}

export function detachSocket() {
  const ws = S.ws;
  S.ws = null;
  S.afterAnswer = null; // a join deferred for this socket's answer is not another's
  clearInterval(S.pingTimer);
  if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
}
