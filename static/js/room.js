// The video room: device check, consents, WebSocket signalling (the server offers, we
// answer), the tiles, chat, the host's lobby/caucus/formalities controls, and reconnection.
// This module only wires the room/ modules together and starts the page:
//   config     what the page came with, labels, timings
//   state      the page's state (one transition function) and the shared bookkeeping
//   socket     the signalling socket as a transport
//   peer       the WebRTC connection: offers answered in order, upstream senders
//   session    standing by, joining, lobby, call, reconnecting, the end; message dispatch
//   local      my camera and microphone (media.js captures), mute, sound only
//   tiles      the others' pictures
//   people     participants, the people list, the private talk as everyone sees it
//   host       the host's controls, loaded only on a host's page
//   chat, notices, hooks (window.room, for the tests and the benchmark)
//   standby    the connection brought up while the page loads (room.html's head starts it)

import { t, toast } from "./api.js";
import { sendChat, toggleChat } from "./room/chat.js";
import { config, QUALITY_LABELS } from "./room/config.js";
import { $ } from "./room/dom.js";
import { exposeForTests } from "./room/hooks.js";
import {
  chooseDevice,
  explainMediaError,
  fillDeviceSelects,
  setAudioOnly,
  setMuted,
  startMedia,
  switchCamera,
} from "./room/local.js";
import { resumeAudio } from "./room/media.js";
import { dismissAudioOnly, onQuality } from "./room/notices.js";
import { reportTo } from "./room/peer.js";
import { adoptStandby, dropStandby, join, leave, letIn, reconnect, scheduleReconnect, showEnded } from "./room/session.js";
import { mark, S, transition } from "./room/state.js";
import { playAll } from "./room/tiles.js";

mark("script");

reportTo({ letIn, standbyLost: dropStandby, callLost: scheduleReconnect, quality: onQuality });

function wire(host) {
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
  $("audio-only-dismiss").addEventListener("click", dismissAudioOnly);
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
  host?.wireHost();
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

function start(host) {
  exposeForTests();
  wire(host);
  transition("prejoin");
  $("quality-label").textContent = QUALITY_LABELS.unknown;
  if (config.room_status === "closed") {
    showEnded("");
    return;
  }
  startMedia().catch((err) => {
    console.error("media", err);
    $("media-error").textContent = explainMediaError(err, null);
  });
  adoptStandby();
  // The next thing to do has the focus: the consent box, or Join (Enter joins).
  const consent = $("consent-online");
  (consent && !consent.checked ? consent : $("join")).focus({ preventScroll: true });
}

if (config.is_host) {
  // The host's controls are not part of a party's page. The room's head preloads them for a
  // host, so this costs no round trip.
  import("./room/host.js").then(start, (err) => {
    console.error("host controls", err);
    toast(t("Something went wrong. Please try again."));
    start(null);
  });
} else {
  start(null);
}
