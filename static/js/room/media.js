// The local camera and microphone: capture, device choice, the level meter, the admit beep.
// No user-facing strings here: room.js words every message (so the i18n test sees them).

const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24, max: 30 } };

export const mediaAvailable = () => Boolean(navigator.mediaDevices?.getUserMedia);

function videoConstraints({ videoId, facingMode }) {
  // A chosen device wins; otherwise the front camera (or the back one after a switch).
  return videoId ? { ...VIDEO, deviceId: { exact: videoId } } : { ...VIDEO, facingMode: facingMode || "user" };
}

function audioConstraints({ audioId }) {
  return audioId ? { deviceId: { exact: audioId } } : true;
}

/**
 * Microphone and camera together; if that fails, whichever of the two still works, so that
 * someone whose camera is broken or missing can still be heard. Returns {stream, error}:
 * the stream may be null, and error is the first failure (to explain it to the user).
 */
export async function capture(choice = {}) {
  const early = takeEarlyCapture(choice);
  if (early) {
    try {
      return { stream: await early, error: null };
    } catch {
      // Asked for both and failed: the procedure below finds what still works, and why.
    }
  }
  const gum = (constraints) => navigator.mediaDevices.getUserMedia(constraints);
  const audio = audioConstraints(choice);
  const video = videoConstraints(choice);
  try {
    return { stream: await gum({ audio, video }), error: null };
  } catch (error) {
    if (error?.name === "NotAllowedError" || error?.name === "SecurityError") {
      return { stream: null, error }; // asking again would only fail again
    }
    if (error?.name === "OverconstrainedError" && (choice.audioId || choice.videoId)) {
      // The chosen device has gone (unplugged, or another phone): use the defaults.
      return capture({ facingMode: choice.facingMode });
    }
    for (const only of [{ audio }, { video }]) {
      try {
        return { stream: await gum(only), error };
      } catch {
        // try the other kind
      }
    }
    return { stream: null, error };
  }
}

/**
 * The stream the room page's head asked for before its modules loaded, if this capture is
 * the default one it asked for (no chosen device, the front camera); otherwise it is let go.
 */
function takeEarlyCapture(choice) {
  const early = window.earlyCapture;
  window.earlyCapture = null;
  if (!early) return null;
  if (!choice.audioId && !choice.videoId && (choice.facingMode ?? "user") === "user") return early;
  early.then((stream) => stream.getTracks().forEach((track) => track.stop())).catch(() => {});
  return null;
}

/** One new track of one kind, for a device change or a front/back camera switch. */
export async function captureTrack(kind, choice = {}) {
  const constraints =
    kind === "audio" ? { audio: audioConstraints(choice) } : { video: videoConstraints(choice) };
  const stream = await navigator.mediaDevices.getUserMedia(constraints);
  return stream.getTracks().find((track) => track.kind === kind) ?? null;
}

/** The camera switch wants the exact facing mode first (phones), then settles for a hint. */
export async function captureFacing(facingMode) {
  try {
    return await captureTrack("video", { facingMode: { exact: facingMode } });
  } catch {
    return captureTrack("video", { facingMode });
  }
}

export async function listDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return { audio: [], video: [] };
  const devices = await navigator.mediaDevices.enumerateDevices();
  return {
    audio: devices.filter((d) => d.kind === "audioinput" && d.deviceId),
    video: devices.filter((d) => d.kind === "videoinput" && d.deviceId),
  };
}

// -- WebAudio: one context for the page, resumed by the first tap (autoplay rules) -----------

let context = null;

export function audioContext() {
  if (!context) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    context = new Context();
  }
  return context;
}

export function resumeAudio() {
  const ctx = audioContext();
  if (ctx && ctx.state !== "running") ctx.resume().catch(() => {});
}

/** The microphone level, 0..1, reported about 15 times a second while attached. */
export class LevelMeter {
  constructor(onLevel) {
    this.onLevel = onLevel;
    this.source = null;
    this.analyser = null;
    this.timer = null;
  }

  attach(track) {
    this.detach();
    const ctx = audioContext();
    if (!ctx || !track) return;
    this.source = ctx.createMediaStreamSource(new MediaStream([track]));
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    // Connected to the output through a silent gain: some browsers (Safari) only process
    // nodes that reach the destination. Nothing is heard, so there is no echo.
    const silent = ctx.createGain();
    silent.gain.value = 0;
    this.source.connect(this.analyser);
    this.analyser.connect(silent);
    silent.connect(ctx.destination);
    this.silent = silent;
    const samples = new Uint8Array(this.analyser.fftSize);
    // A timer, not requestAnimationFrame: it keeps working in a background tab and in
    // in-app browsers that throttle animation frames.
    this.timer = setInterval(() => {
      if (!this.analyser) return;
      this.analyser.getByteTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += ((s - 128) / 128) ** 2;
      const rms = Math.sqrt(sum / samples.length);
      this.onLevel(Math.min(1, rms * 5));
    }, 66);
  }

  detach() {
    clearInterval(this.timer);
    this.timer = null;
    for (const node of [this.source, this.analyser, this.silent]) {
      try {
        node?.disconnect();
      } catch {
        // already disconnected
      }
    }
    this.source = this.analyser = this.silent = null;
    this.onLevel(0);
  }
}

/** Two short soft tones: someone is waiting in the lobby. */
export function beep() {
  const ctx = audioContext();
  if (!ctx) return;
  resumeAudio();
  const start = ctx.currentTime + 0.02;
  for (const [offset, frequency] of [
    [0, 880],
    [0.22, 1175],
  ]) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.18);
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start(start + offset);
    osc.stop(start + offset + 0.2);
  }
}
