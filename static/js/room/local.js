// My own camera and microphone on the page: the device check, the device choice, mute, sound
// only, and what goes out on the connection's upstream senders. (room/media.js captures.)

import { t, toast } from "../api.js";
import { $, h } from "./dom.js";
import { capture, captureFacing, captureTrack, LevelMeter, listDevices, mediaAvailable } from "./media.js";
import { capBitrate, upstreamSender } from "./peer.js";
import { send } from "./socket.js";
import { S } from "./state.js";
import { refreshTiles } from "./tiles.js";

export const meter = new LevelMeter((level) => {
  const bar = $("mic-level");
  bar.dataset.level = level.toFixed(2);
  bar.setAttribute("aria-valuenow", String(Math.round(level * 100)));
  bar.firstElementChild.style.width = `${Math.round(level * 100)}%`;
});

export function explainMediaError(error, stream) {
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

export function showLocalVideo() {
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

export async function startMedia() {
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

export function stopLocalTracks() {
  for (const track of [S.local.audio, S.local.video]) track?.stop();
  S.local.audio = S.local.video = null;
}

export async function fillDeviceSelects() {
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

export async function chooseDevice(kind) {
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

export async function switchCamera() {
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

export function setMuted(kind, muted, { tell = true } = {}) {
  S.muted[kind] = muted;
  S.mutedAt = Date.now();
  applyMuteToTracks();
  // The label says what a tap does ("Unmute"): no aria-pressed, which would add "pressed".
  $(kind === "audio" ? "toggle-mic" : "toggle-camera").dataset.on = String(muted);
  if (kind === "video") showLocalVideo();
  if (tell) send({ type: "mute", [kind]: muted });
}

export async function setAudioOnly(on) {
  S.audioOnly = on;
  $("toggle-audio-only").dataset.on = String(on);
  $("room").classList.toggle("audio-only", on);
  $("audio-only-suggest").hidden = true;
  const sender = upstreamSender("video");
  if (sender) {
    await sender.replaceTrack(on ? null : S.local.video).catch((err) => console.warn(err));
    if (!on) await capBitrate(sender);
  }
  showLocalVideo();
  refreshTiles();
  send({ type: "receive", video: !on });
}

/** What goes out once Join is tapped: our microphone and camera (not the camera in sound only). */
export async function attachUpstream() {
  for (const kind of ["audio", "video"]) {
    const sender = upstreamSender(kind);
    const track = kind === "video" && S.audioOnly ? null : S.local[kind];
    if (!sender || sender.track === track) continue;
    await sender.replaceTrack(track).catch((err) => console.warn("replaceTrack", err));
    if (kind === "video") await capBitrate(sender);
  }
}
