// Connection quality from RTCPeerConnection.getStats(): the selected candidate pair's
// round-trip time and the packet loss of everything received since the last sample.

export const GOOD = "good";
export const FAIR = "fair";
export const POOR = "poor";
export const UNKNOWN = "unknown";

// Thresholds for a conversation: beyond ~300 ms people talk over each other, beyond ~3 %
// loss speech starts to break up and video freezes.
export function classify(rtt, loss) {
  if (rtt == null && loss == null) return UNKNOWN;
  if ((rtt ?? 0) > 0.6 || (loss ?? 0) > 0.08) return POOR;
  if ((rtt ?? 0) > 0.3 || (loss ?? 0) > 0.03) return FAIR;
  return GOOD;
}

function selectedPair(stats) {
  let pair = null;
  stats.forEach((report) => {
    if (report.type === "transport" && report.selectedCandidatePairId) {
      pair = stats.get(report.selectedCandidatePairId) ?? pair;
    }
  });
  if (pair) return pair;
  stats.forEach((report) => {
    if (report.type !== "candidate-pair") return;
    // Firefox marks the pair "selected"; Safari has no transport report.
    if (report.selected || (report.nominated && report.state === "succeeded")) pair = report;
  });
  return pair;
}

export class QualityMonitor {
  constructor(pc, onSample, intervalMs = 2000) {
    this.pc = pc;
    this.onSample = onSample;
    this.intervalMs = intervalMs;
    this.previous = null;
    this.timer = null;
  }

  start() {
    if (this.timer) return;
    this.timer = setInterval(() => this.sample().catch(() => {}), this.intervalMs);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  async sample() {
    if (this.pc.connectionState === "closed") return this.stop();
    const stats = await this.pc.getStats();
    const pair = selectedPair(stats);
    const rtt = typeof pair?.currentRoundTripTime === "number" ? pair.currentRoundTripTime : null;
    let lost = 0;
    let received = 0;
    stats.forEach((report) => {
      if (report.type !== "inbound-rtp") return;
      lost += Math.max(0, report.packetsLost ?? 0);
      received += report.packetsReceived ?? 0;
    });
    let loss = null;
    if (this.previous) {
      const dLost = Math.max(0, lost - this.previous.lost);
      const dReceived = Math.max(0, received - this.previous.received);
      loss = dLost + dReceived > 0 ? dLost / (dLost + dReceived) : 0;
    }
    this.previous = { lost, received };
    const level = classify(rtt, loss);
    this.onSample({ level, rtt, loss });
    return level;
  }
}
