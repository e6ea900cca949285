// Messages: the chat panel, its unread badge, and the system lines the page adds to it.

import { t, toast } from "../api.js";
import { beijing } from "./config.js";
import { $, h } from "./dom.js";
import { send } from "./socket.js";
import { S } from "./state.js";

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

/** A `chat` message from the server. */
export function addChat(message) {
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

/** A line from the page itself (recording started, the private talk ended, ...). */
export function addSystemLine(text) {
  appendChat(h("li", { className: "msg system", text }));
}

export function sendChat(event) {
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

export function toggleChat(open = $("chat-panel").hidden) {
  $("chat-panel").hidden = !open;
  $("toggle-chat").setAttribute("aria-pressed", String(open));
  if (open) {
    S.unread = 0;
    $("chat-badge").hidden = true;
    $("chat-input").focus();
  }
}
