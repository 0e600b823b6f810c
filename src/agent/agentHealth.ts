// The agent's own event-loop delay: the one thread parses every captured byte, so a slow parser
// shows here first (a backtracking pattern over a hostile payload froze it for seconds). Printed as
// one segment of the status line: p99 and max over the last status interval.
//
// A 10 ms timer measures how late it fires. perf_hooks' monitorEventLoopDelay does the same in C++,
// but its reset() drops the tick interval that spans the reset: a block that starts right after a
// status line would go unseen, so the measurement is kept here, where the interval is ours.

const TICK_MS = 10;
/** Delays are counted in 1 ms buckets up to this; longer ones share the last bucket (max stays exact). */
const MAX_BUCKET_MS = 1000;

export class EventLoopDelay {
  private readonly buckets = new Uint32Array(MAX_BUCKET_MS + 1);
  private samples = 0;
  private maxMs = 0;
  /** the largest delay the process spent on CPU (its own blocking) */
  private maxBusyMs = 0;
  private last = performance.now();
  private lastCpu = process.cpuUsage();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  private tick(): void {
    const now = performance.now();
    const cpu = process.cpuUsage(this.lastCpu);
    this.lastCpu = process.cpuUsage();
    const delayMs = Math.max(0, now - this.last - TICK_MS);
    this.last = now;
    this.record(delayMs, Math.min(delayMs, (cpu.user + cpu.system) / 1000));
  }

  /** Counts one delay, `busyMs` of it on CPU (exposed for tests; the whole delay when not given). */
  record(delayMs: number, busyMs = delayMs): void {
    this.buckets[Math.min(MAX_BUCKET_MS, Math.floor(delayMs))]++;
    this.samples++;
    if (delayMs > this.maxMs) {
      this.maxMs = delayMs;
    }
    if (busyMs > this.maxBusyMs) {
      this.maxBusyMs = busyMs;
    }
  }

  /** p99 and max delay (ms) since the previous call; starts a new interval. A block still under way when this runs counts in the next interval, once its tick fires. */
  takeInterval(): { p99Ms: number; maxMs: number; maxBusyMs: number } {
    const rank = Math.ceil(this.samples * 0.99);
    let p99Ms = 0;
    for (let b = 0, seen = 0; b <= MAX_BUCKET_MS; b++) {
      seen += this.buckets[b];
      if (seen >= rank) {
        p99Ms = b === MAX_BUCKET_MS ? this.maxMs : b + 1; // a bucket's upper bound
        break;
      }
    }
    const result = { p99Ms: Math.min(p99Ms, this.maxMs), maxMs: this.maxMs, maxBusyMs: this.maxBusyMs };
    this.buckets.fill(0);
    this.samples = 0;
    this.maxMs = 0;
    this.maxBusyMs = 0;
    return result;
  }

  /** The status line segment, e.g. `event loop p99 2 ms max 14 ms (busy max 3 ms)`; starts a new interval. */
  statusText(): string {
    const d = this.takeInterval();
    return `event loop p99 ${Math.round(d.p99Ms)} ms max ${Math.round(d.maxMs)} ms (busy max ${Math.round(d.maxBusyMs)} ms)`;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
