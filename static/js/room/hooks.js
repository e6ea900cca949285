// window.room: what the browser tests and the benchmark (bench/rooms.py) read from the page,
// and what a person debugging a call can look at from the console. Keep these names: both
// depend on them.

import { reconnect } from "./session.js";
import { S } from "./state.js";

export function exposeForTests() {
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
}
