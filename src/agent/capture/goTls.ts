// Finds Go programs that use crypto/tls among running processes and probes each binary once
// (the probes then cover every process that runs it). cmd/flowlens-goprobe reads the binary.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

interface GoProbeReport {
  goVersion: string;
  functions: Record<string, { offset: number; rets: number[] }>;
}

export const GOPROBE_PATH = join(__dirname, '..', '..', '..', '..', '..', 'build', 'bin', 'flowlens-goprobe');

export interface GoTlsAttacher {
  attachGoTls(path: string, writeOffset: number, readOffset: number, retOffsets: number[]): number;
}

export class GoTlsProber {
  /** binary -> probes attached (0: not a Go program using crypto/tls, or not probeable) */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly native: GoTlsAttacher,
    private readonly log: (line: string) => void,
    private readonly goprobe = GOPROBE_PATH,
    private readonly procRoot = '/proc'
  ) {}

  get available(): boolean {
    return existsSync(this.goprobe);
  }

  /** Probes the binaries of processes not seen before; returns how many binaries were probed now. */
  scan(): number {
    let probed = 0;
    let pids: string[];
    try {
      pids = readdirSync(this.procRoot).filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid);
    } catch {
      return 0;
    }
    for (const pid of pids) {
      let exe: string;
      try {
        exe = readlinkSync(`${this.procRoot}/${pid}/exe`);
      } catch {
        continue; // a kernel thread, or gone
      }
      if (this.seen.has(exe) || exe.endsWith(' (deleted)')) {
        continue;
      }
      this.seen.set(exe, 0);
      let report: GoProbeReport;
      try {
        report = JSON.parse(
          execFileSync(this.goprobe, [exe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 })
        );
      } catch {
        continue; // not Go, no crypto/tls, stripped, or too old: the helper said why on stderr
      }
      const w = report.functions['crypto/tls.(*Conn).Write'];
      const r = report.functions['crypto/tls.(*Conn).Read'];
      const n = this.native.attachGoTls(exe, w?.offset ?? 0, r?.offset ?? 0, r?.rets ?? []);
      this.seen.set(exe, n);
      if (n > 0) {
        probed++;
        this.log(`TLS: Go crypto/tls probed in ${exe} (${report.goVersion}, ${n} probes)`);
      }
    }
    return probed;
  }
}
