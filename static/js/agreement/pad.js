// A signature pad: a canvas written on with a finger, a pen or a mouse (pointer events), and
// exported as a PNG (base64, as POST /api/agreements/{id}/signatures takes it).
//
// The strokes are kept as points in CSS pixels and drawn again whenever the canvas changes
// size (a phone turned on its side), so a signature is never stretched or lost. The picture
// sent is bounded as the server bounds it (agreements/signing.py: at most 2000 pixels a side
// and 200 KB): it is drawn at most MAX_WIDTH pixels wide, black on transparent.

const MAX_WIDTH = 1200;
const MAX_BASE64 = 200 * 1024 * (4 / 3);
const LINE_WIDTH = 3; // CSS pixels

export class SignaturePad {
  constructor(canvas, { onChange = () => {}, enabled = () => true } = {}) {
    this.canvas = canvas;
    this.onChange = onChange;
    this.enabled = enabled;
    this.strokes = [];
    this.current = null;
    this.ctx = canvas.getContext("2d");
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      canvas.addEventListener(type, (e) => this.up(e));
    }
    new ResizeObserver(() => this.fit()).observe(canvas);
    this.fit();
  }

  get empty() {
    return !this.strokes.some((s) => s.length > 1);
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  down(e) {
    if (!this.enabled() || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.current = { id: e.pointerId, points: [this.point(e)] };
    this.strokes.push(this.current.points);
    this.draw();
  }

  move(e) {
    if (!this.current || e.pointerId !== this.current.id) return;
    e.preventDefault();
    // Coalesced events: a fast finger on a phone gives several points per frame.
    const events = e.getCoalescedEvents?.() ?? [e];
    for (const ev of events.length ? events : [e]) this.current.points.push(this.point(ev));
    this.draw();
  }

  up(e) {
    if (!this.current || e.pointerId !== this.current.id) return;
    this.current = null;
    this.onChange(this);
  }

  clear() {
    this.strokes = [];
    this.current = null;
    this.draw();
    this.onChange(this);
  }

  /** The canvas's pixels follow its size on screen and the screen's density. */
  fit() {
    const { width, height } = this.canvas.getBoundingClientRect();
    if (!width || !height) return; // hidden (the confirmation step): keep the last size
    this.size = { width, height };
    const scale = Math.min(window.devicePixelRatio || 1, 2, MAX_WIDTH / width);
    this.scale = scale;
    this.canvas.width = Math.round(width * scale);
    this.canvas.height = Math.round(height * scale);
    this.draw();
  }

  draw(ctx = this.ctx, scale = this.scale ?? 1) {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    ctx.lineWidth = LINE_WIDTH;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const points of this.strokes) {
      if (points.length === 1) {
        ctx.beginPath();
        ctx.arc(points[0][0], points[0][1], LINE_WIDTH / 2, 0, Math.PI * 2);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      ctx.moveTo(...points[0]);
      for (const p of points.slice(1)) ctx.lineTo(...p);
      ctx.stroke();
    }
  }

  /** The signature as base64 PNG, within the server's bounds (smaller until it fits). */
  toBase64() {
    let scale = this.scale ?? 1;
    // The size the strokes were written at: the pad may be hidden by now (display: none).
    const { width, height } = this.size ?? { width: 0, height: 0 };
    for (let tries = 0; tries < 4; tries += 1) {
      const out = document.createElement("canvas");
      out.width = Math.max(1, Math.round(width * scale));
      out.height = Math.max(1, Math.round(height * scale));
      this.draw(out.getContext("2d"), scale);
      const data = out.toDataURL("image/png").split(",", 2)[1];
      if (data.length <= MAX_BASE64) return data;
      scale /= 2;
    }
    return null;
  }
}
