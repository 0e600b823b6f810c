// The agent's own lifecycle as rows of agent_events: `start` when a run begins, `stop` when it stops
// cleanly. Both go through the writer like every signal (bounded queue, retries, deduplication), so
// a start recorded while ClickHouse is down arrives when it is back. A run killed or crashed writes
// no stop: the next start's restart annotation says so (pkg/query/annotations.go).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { release } from 'node:os';

export type AgentEventKind = 'start' | 'stop';

/** One row of agent_events (src/shared/schema.ts). */
export interface AgentEventRow {
  time: number;
  time_us: number;
  host: string;
  agent_pid: number;
  run_start_us: number;
  event: AgentEventKind;
  agent_version: string;
  kernel: string;
  reason: string;
}

export interface AgentLifecycleOptions {
  host: string;
  sink: (rows: AgentEventRow[]) => void;
  pid?: number;
  version?: string;
  kernel?: string;
  /** wall clock in µs since the epoch */
  nowUs?: () => number;
}

/** Wall clock in µs: the ms clock alone gives a start and a quick stop the same µs. */
const wallUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** The agent's version from the project's package.json (the agent runs from build/agent); "unknown" without it. */
export function agentVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' && pkg.version ? pkg.version.slice(0, 64) : 'unknown';
  } catch {
    return 'unknown';
  }
}

export class AgentLifecycle {
  private runStartUs = 0;
  private stopped = false;
  private readonly nowUs: () => number;
  private readonly version: string;
  private readonly kernel: string;

  constructor(private readonly o: AgentLifecycleOptions) {
    this.nowUs = o.nowUs ?? wallUs;
    this.version = o.version ?? agentVersion();
    this.kernel = o.kernel ?? release();
  }

  /** Records the start of this run (once). */
  start(reason: string): void {
    if (this.runStartUs) {
      return;
    }
    this.runStartUs = this.nowUs();
    this.emit('start', this.runStartUs, reason);
  }

  /** Records a clean stop (once, after start): call it before the final flush so the row goes with the last rows. */
  stop(reason: string): void {
    if (!this.runStartUs || this.stopped) {
      return;
    }
    this.stopped = true;
    this.emit('stop', this.nowUs(), reason);
  }

  private emit(event: AgentEventKind, us: number, reason: string): void {
    this.o.sink([
      {
        time: Math.floor(us / 1e6),
        time_us: us,
        host: this.o.host,
        agent_pid: this.o.pid ?? process.pid,
        run_start_us: this.runStartUs,
        event,
        agent_version: this.version,
        kernel: this.kernel,
        reason: reason.slice(0, 1024),
      },
    ]);
  }
}
