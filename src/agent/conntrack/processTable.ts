// pid -> process name and service. Names come from exec events, else from /proc once per pid.
// Bounded: past `maxProcesses` the least recently named process is forgotten (read again from /proc
// if it shows up again), so a host forking without end cannot grow it.
import { readFileSync } from 'node:fs';
import { ServiceRule } from '../config';
import { LruMap, TableStats } from '../lruMap';
import { ProcessTagger, serviceName } from '../tags/processTags';

/** As many as the default pid_max allows live at once; ~100 bytes each. */
export const DEFAULT_MAX_PROCESSES = 32768;

interface ProcessInfo {
  comm: string;
  exitedAtNs: number;
  /** the name came from the exec event: read /proc once on first use, as a process may rename itself after exec */
  fromExec: boolean;
}

export class ProcessTable {
  private readonly procs: LruMap<number, ProcessInfo>;
  private readonly byPort = new Map<number, string>();
  private readonly byProcess = new Map<string, string>();

  constructor(
    rules: ServiceRule[],
    private readonly procRoot = '/proc',
    maxProcesses = DEFAULT_MAX_PROCESSES,
    /** container and Kubernetes tags; without it a service is a configured name or the process name */
    readonly tagger?: ProcessTagger
  ) {
    this.procs = new LruMap(maxProcesses);
    for (const r of rules) {
      if (r.port !== undefined) {
        this.byPort.set(r.port, r.name);
      } else if (r.process !== undefined) {
        this.byProcess.set(r.process, r.name);
      }
    }
  }

  onExec(pid: number, comm: string): void {
    this.procs.set(pid, { comm, exitedAtNs: 0, fromExec: true });
    this.tagger?.forget(pid);
  }

  onExit(pid: number, tsNs: number): void {
    const p = this.procs.peek(pid);
    if (p) {
      p.exitedAtNs = tsNs; // kept a while: rows of its last requests still name it
    }
  }

  comm(pid: number): string {
    if (pid === 0) {
      return '';
    }
    let p = this.procs.get(pid);
    if (!p || p.fromExec) {
      let comm = p?.comm ?? `pid-${pid}`;
      if (!p?.exitedAtNs) {
        try {
          comm = readFileSync(`${this.procRoot}/${pid}/comm`, 'latin1').trim();
        } catch {
          /* gone already: keep the exec name */
        }
      }
      p = { comm, exitedAtNs: p?.exitedAtNs ?? 0, fromExec: false };
      this.procs.set(pid, p);
    }
    return p.comm;
  }

  /** Service of the process `pid`; `serverPort` is its listening port when it is the server end. */
  service(pid: number, serverPort?: number): string {
    const comm = this.comm(pid);
    const configured = (serverPort !== undefined ? this.byPort.get(serverPort) : undefined) ?? this.byProcess.get(comm);
    return this.tagger && pid !== 0 ? this.tagger.service(pid, comm, configured) : serviceName(configured, comm);
  }

  /**
   * Service of a remote end we do not observe: a configured port name, else the pod holding its
   * address (named by the service rule), else the Kubernetes Service of that cluster IP, else the address.
   */
  remoteService(ip: string, port: number, isServer: boolean): string {
    const configured = (isServer && this.byPort.get(port)) || undefined;
    const pod = this.tagger?.podOfIp(ip);
    if (pod || configured) {
      return serviceName(configured, ip, pod ? { containerName: '', runtime: '', pod } : undefined);
    }
    return this.tagger?.serviceOfIp(ip)?.name ?? ip;
  }

  /** Forgets processes that exited more than `keepNs` ago. */
  expire(nowNs: number, keepNs: number): void {
    for (const [pid, p] of this.procs) {
      if (p.exitedAtNs && nowNs - p.exitedAtNs > keepNs) {
        this.procs.delete(pid);
      }
    }
  }

  get size(): number {
    return this.procs.size;
  }

  stats(): TableStats {
    return this.procs.stats('processes');
  }
}
