// Automatic tags of every process the agent names: command line, executable, user, container and
// Kubernetes pod. Read from /proc once per pid (again after an exec) and kept in a bounded table;
// pod fields are looked up in the current pod list each time, so a pod the kubelet lists after the
// process was first seen still tags it. Each process is written once to the process_tags dimension
// table (again when its pod or service changes, and hourly while it lives), which every signal joins by
// (host, pid), and metrics by service, at query time: hot rows carry no tag columns.
import { closeSync, readSync, readlinkSync } from 'node:fs';
import { LruMap, TableStats } from '../lruMap';
import { openForeignFile } from '../profiling/foreignFile';
import { CgroupTags, parseProcCgroup } from './cgroupPath';
import type { KubeSource } from './kubeSource';
import type { KubeService, PodIndex, PodTags } from './kubePods';

export interface ProcessTagsRow {
  time: number;
  host: string;
  pid: number;
  start_time: number;
  process: string;
  cmdline: string;
  exe: string;
  user: string;
  container_id: string;
  container_runtime: string;
  container_name: string;
  systemd_unit: string;
  pod_uid: string;
  pod_name: string;
  pod_namespace: string;
  pod_ip: string;
  workload_kind: string;
  workload_name: string;
  node: string;
  label_keys: string[];
  label_values: string[];
  service: string;
}

export interface ProcessTags extends CgroupTags {
  pid: number;
  /** clock ticks after boot (/proc/<pid>/stat field 22): with the pid, names the process across pid reuse */
  startTime: number;
  cmdline: string;
  exe: string;
  user: string;
}

export interface ResolvedTags {
  containerName: string;
  runtime: string;
  pod?: PodTags;
}

/**
 * The service rule, applied here only: a configured name, else the Kubernetes workload, else the
 * container's name, else the process name.
 */
export function serviceName(configured: string | undefined, process: string, t?: ResolvedTags): string {
  return configured || t?.pod?.workloadName || t?.containerName || process;
}

const MAX_CMDLINE = 4096;
const MAX_SMALL = 8192;
/** one dimension row per process per hour while it is named, so a query over any hour finds it */
const REWRITE_SEC = 3600;

/** Reads at most `max` bytes of a /proc file through the foreign-file open (no FIFO, no device). */
function readBounded(path: string, max: number): string {
  const f = openForeignFile(path);
  try {
    const buf = Buffer.alloc(max);
    let got = 0;
    while (got < max) {
      const n = readSync(f.fd, buf, got, max - got, null);
      if (n <= 0) {
        break;
      }
      got += n;
    }
    return buf.toString('utf8', 0, got);
  } finally {
    closeSync(f.fd);
  }
}

/** Field 22 of /proc/<pid>/stat; the comm (field 2) may hold spaces and ')' so count from the last ')'. */
export function startTimeOfStat(stat: string): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) {
    return 0;
  }
  const fields = stat.slice(close + 2).split(' ', 21);
  const v = Number(fields[19]);
  return Number.isSafeInteger(v) ? v : 0;
}

/** uid -> user name from passwd text (the host's, or a container's own through /proc/<pid>/root). */
export function passwdUsers(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n', 100_000)) {
    const f = line.split(':', 4);
    const uid = Number(f[2]);
    if (f.length >= 3 && f[0] && Number.isInteger(uid) && !out.has(uid)) {
      out.set(uid, f[0]);
    }
  }
  return out;
}

/**
 * The uid a process has inside its user namespace, from its host uid and /proc/<pid>/uid_map ("inside outside count"
 * per line; identity "0 0 4294967295" without a user namespace); -1 when the map does not hold it.
 */
export function uidInside(hostUid: number, uidMap: string): number {
  for (const line of uidMap.split('\n', 340)) {
    const [inside, outside, count] = line.trim().split(/\s+/, 3).map(Number);
    if (Number.isSafeInteger(count) && hostUid >= outside && hostUid < outside + count) {
      return inside + (hostUid - outside);
    }
  }
  return -1;
}

/** Containers whose users (their own /etc/passwd) are kept: one read per container, not per process. */
const MAX_CONTAINER_USERS = 512;

interface Entry {
  tags: ProcessTags;
  /** what the last dimension row said about the pod (its uid, or '' before the pod was known) */
  writtenPod: string;
  /** the service the last dimension row said (metrics join the dimension by it) */
  writtenService?: string;
  writtenAtSec: number;
  /** the service last named, for that process name, configured name and pod list (most calls end here) */
  service?: string;
  serviceOf?: string;
  serviceConfigured?: string;
  serviceIndex?: PodIndex;
}

export interface ProcessTaggerOptions {
  host: string;
  procRoot?: string;
  maxProcesses: number;
  kube?: KubeSource;
  /** the process_tags rows */
  sink?: (rows: ProcessTagsRow[]) => void;
  nowSec?: () => number;
  /** passwd text for user names (default: the agent's /etc/passwd, the host's users) */
  passwd?: string;
}

export class ProcessTagger {
  private readonly table: LruMap<number, Entry>;
  private readonly procRoot: string;
  private users?: Map<number, string>;
  /** container id -> its own users (empty when its /etc/passwd could not be read) */
  private readonly containerUsers = new LruMap<string, Map<number, string>>(MAX_CONTAINER_USERS);
  private pending: ProcessTagsRow[] = [];
  /** wall seconds at the last flush: the hourly rewrite needs no finer clock, and naming runs per row */
  private clockSec = Math.floor(Date.now() / 1000);
  /** /proc reads that failed (process gone, or a file the agent refuses) */
  unreadable = 0;

  constructor(private readonly o: ProcessTaggerOptions) {
    this.table = new LruMap(o.maxProcesses);
    this.procRoot = o.procRoot ?? '/proc';
  }

  /** A new program in `pid` (exec) or a new pid (fork): its tags are read again on next use. */
  forget(pid: number): void {
    this.table.delete(pid);
  }

  /** Tags of `pid`, read from /proc at first use. */
  tags(pid: number): ProcessTags {
    let e = this.table.get(pid);
    if (!e) {
      e = { tags: this.read(pid), writtenPod: '-', writtenAtSec: 0 };
      this.table.set(pid, e);
    }
    return e.tags;
  }

  /** The container and pod of `pid` as the current pod list tells them. */
  resolve(t: ProcessTags): ResolvedTags {
    const idx = this.o.kube?.index;
    const c = t.containerId ? idx?.byContainerId.get(t.containerId) : undefined;
    const pod = c?.pod ?? (t.podUid ? idx?.byUid.get(t.podUid) : undefined);
    return { containerName: c?.name ?? '', runtime: t.runtime || c?.runtime || '', pod };
  }

  /** The service of `pid` (serviceName's rule), writing its dimension row when it is new or changed. */
  service(pid: number, process: string, configured?: string): string {
    const t = this.tags(pid);
    const e = this.table.peek(pid)!;
    const now = this.o.nowSec?.() ?? this.clockSec;
    const index = this.o.kube?.index;
    if (
      e.service !== undefined &&
      e.serviceOf === process &&
      e.serviceConfigured === configured &&
      e.serviceIndex === index &&
      now - e.writtenAtSec < REWRITE_SEC
    ) {
      return e.service;
    }
    const r = this.resolve(t);
    const service = serviceName(configured, process, r);
    [e.service, e.serviceOf, e.serviceConfigured, e.serviceIndex] = [service, process, configured, index];
    const podKey = r.pod?.uid ?? '';
    if (
      this.o.sink &&
      (e.writtenPod !== podKey || e.writtenService !== service || now - e.writtenAtSec >= REWRITE_SEC)
    ) {
      e.writtenPod = podKey;
      e.writtenService = service;
      e.writtenAtSec = now;
      this.pending.push(this.row(t, r, process, service, now));
    }
    return service;
  }

  /** The pod holding `ip` now (not a host-network pod), for a peer this host does not observe. */
  podOfIp(ip: string): PodTags | undefined {
    return this.o.kube?.index?.byIp.get(ip);
  }

  /** The Kubernetes Service whose cluster IP `ip` is (a client's peer before kube-proxy's NAT). */
  serviceOfIp(ip: string): KubeService | undefined {
    return this.o.kube?.index?.servicesByIp.get(ip);
  }

  /** Sends the dimension rows gathered since the last flush (and moves the hourly rewrite's clock). */
  flush(): void {
    this.clockSec = Math.floor(Date.now() / 1000);
    if (this.pending.length && this.o.sink) {
      const rows = this.pending;
      this.pending = [];
      this.o.sink(rows);
    }
  }

  stats(): TableStats[] {
    return [this.table.stats('process tags'), this.containerUsers.stats('container users')];
  }

  private row(t: ProcessTags, r: ResolvedTags, process: string, service: string, now: number): ProcessTagsRow {
    const p = r.pod;
    return {
      time: now,
      host: this.o.host,
      pid: t.pid,
      start_time: t.startTime,
      process,
      cmdline: t.cmdline,
      exe: t.exe,
      user: t.user,
      container_id: t.containerId,
      container_runtime: r.runtime,
      container_name: r.containerName,
      systemd_unit: t.systemdUnit,
      pod_uid: p?.uid ?? t.podUid,
      pod_name: p?.name ?? '',
      pod_namespace: p?.namespace ?? '',
      pod_ip: p?.ip ?? '',
      workload_kind: p?.workloadKind ?? '',
      workload_name: p?.workloadName ?? '',
      node: p?.node ?? '',
      label_keys: p?.labels.map((l) => l[0]) ?? [],
      label_values: p?.labels.map((l) => l[1]) ?? [],
      service,
    };
  }

  private read(pid: number): ProcessTags {
    const dir = `${this.procRoot}/${pid}`;
    const attempt = <T>(f: () => T, dflt: T): T => {
      try {
        return f();
      } catch {
        this.unreadable++;
        return dflt;
      }
    };
    const cg = attempt(() => parseProcCgroup(readBounded(`${dir}/cgroup`, MAX_SMALL)), parseProcCgroup(''));
    const cmdline = attempt(
      () => readBounded(`${dir}/cmdline`, MAX_CMDLINE).replace(/\0+$/, '').replace(/\0/g, ' '),
      ''
    );
    const exe = attempt(() => readlinkSync(`${dir}/exe`).slice(0, MAX_CMDLINE), '');
    const status = attempt(() => readBounded(`${dir}/status`, MAX_SMALL), '');
    const uidLine = /\nUid:\s+(\d+)/.exec(status);
    const uid = uidLine ? Number(uidLine[1]) : -1;
    const startTime = attempt(() => startTimeOfStat(readBounded(`${dir}/stat`, MAX_SMALL)), 0);
    return { ...cg, pid, startTime, cmdline, exe, user: uid >= 0 ? this.userName(dir, cg.containerId, uid) : '' };
  }

  /**
   * A host process's user is named by the host's /etc/passwd; a container's by its own (/proc/<pid>/root/etc/passwd,
   * its uid mapped into its user namespace): the host's file would name a container's uid 33 www-data where the
   * image says otherwise. A uid without a name (or a container whose file is unreadable) is its number.
   */
  private userName(dir: string, containerId: string, hostUid: number): string {
    if (!containerId) {
      return this.userNames().get(hostUid) ?? String(hostUid);
    }
    let users = this.containerUsers.get(containerId);
    if (!users) {
      try {
        users = passwdUsers(readBounded(`${dir}/root/etc/passwd`, 1 << 20));
      } catch {
        users = new Map();
      }
      this.containerUsers.set(containerId, users);
    }
    let inside = hostUid;
    try {
      inside = uidInside(hostUid, readBounded(`${dir}/uid_map`, MAX_SMALL));
    } catch {
      // no uid_map (an old kernel, a process gone): the uid as the host sees it
    }
    return users.get(inside) ?? String(inside >= 0 ? inside : hostUid);
  }

  private userNames(): Map<number, string> {
    if (!this.users) {
      let text = this.o.passwd;
      if (text === undefined) {
        try {
          text = readBounded('/etc/passwd', 1 << 20);
        } catch {
          text = '';
        }
      }
      this.users = passwdUsers(text);
    }
    return this.users;
  }
}
