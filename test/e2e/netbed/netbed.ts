/**
 * A multi-host network test bed on one machine: each "host" is a network namespace with one
 * interface `eth0` (a veth whose other end is a port of a Linux bridge in the root namespace, as
 * pod NICs sit on a Kubernetes node's bridge), an address on a private /24 that exists only inside
 * this bed, loopback up and a default route via the subnet. Real servers run inside a host with
 * `bed.spawn(host, argv)`; faults are injected with nftables (random loss, TCP resets), tc TBF
 * (bandwidth / queueing delay) and a real proxy hop (toxiproxy, from the Go module proxy, installed
 * by scripts/setup.sh) that adds latency like a gateway or load balancer would. This kernel has no
 * `sch_netem`: `Netbed.netemAvailable()` says so and the bed never relies on it.
 *
 * Usage (as root):
 *   const bed = Netbed.create(['client', 'gw', 'server']);
 *   try {
 *     bed.spawn('server', ['python3', '-m', 'http.server', '8080', '--bind', bed.ip('server')]);
 *     await bed.waitForListen('server', 8080);
 *     const proxy = await bed.startProxy('gw', { listenPort: 8080, upstream: `${bed.ip('server')}:8080`, latencyMs: 50 });
 *     bed.exec('client', ['curl', '-s', `http://${bed.ip('gw')}:8080/`]);
 *     bed.addLoss('server', 5);             // 5% of TCP packets arriving at server's eth0 dropped
 *     bed.addReset('server', { port: 8080 }); // SYNs to 8080 answered with a RST by the server host
 *     bed.setRate('client', { rateKbit: 8000, burstBytes: 16000, latencyMs: 200 });
 *   } finally {
 *     bed.destroy();                         // servers, proxies, namespaces, veths, bridge
 *   }
 *
 * Names carry the creating pid (`flnb-<pid>-<n>-<host>` namespaces, `fnb<pid36>-<n>…` links), so
 * concurrent runs never collide and `cleanStaleNetbeds()` (called by every create) removes what a
 * crashed run left behind. Everything is synchronous except waiting, so destroy() also runs from a
 * process 'exit' handler when a test forgot it or failed before its `after` hook.
 * Only addresses inside the bed are ever targeted.
 */
import { spawn, spawnSync, ChildProcess, SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const NS_PREFIX = 'flnb-';
const LINK_PREFIX = 'fnb';
const REPO_ROOT = join(__dirname, '..', '..', '..', '..', '..');
/** where scripts/setup.sh installs toxiproxy's server */
export const TOXIPROXY_BIN = process.env.FLOWLENS_TOXIPROXY ?? join(REPO_ROOT, 'build', 'tools', 'toxiproxy-server');

export interface NetbedHost {
  /** the name the test gave it */
  name: string;
  /** the network namespace (`ip netns exec <ns>`) */
  ns: string;
  /** its address on the bed's subnet */
  ip: string;
  /** the interface inside the namespace */
  ifname: string;
  /** the veth end in the root namespace (a port of the bridge) */
  rootIfname: string;
}

export interface ExecResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface RateLimit {
  rateKbit: number;
  burstBytes: number;
  /** how long a packet may wait in the TBF queue before being dropped */
  latencyMs: number;
  /** 'host' shapes what the host sends (its eth0); 'root' shapes what it receives (the bridge port) */
  side?: 'host' | 'root';
}

export interface ProxyOptions {
  listenPort: number;
  /** host:port the proxy forwards to */
  upstream: string;
  /** latency added to every chunk of the chosen stream(s) */
  latencyMs?: number;
  jitterMs?: number;
  /** 'upstream' = client->server bytes, 'downstream' = server->client; default upstream */
  stream?: 'upstream' | 'downstream' | 'both';
}

export interface Proxy {
  host: string;
  listen: string;
  apiPort: number;
  pid: number;
  /** replaces the latency toxic (0 removes it) */
  setLatency: (latencyMs: number, stream?: ProxyOptions['stream']) => void;
}

interface Tracked {
  proc: ChildProcess;
  name: string;
}

const liveBeds = new Set<Netbed>();
let bedCounter = 0;
let exitHookInstalled = false;
let netemCache: boolean | undefined;

function run(argv: string[], opts: { input?: string; timeoutMs?: number; check?: boolean } = {}): ExecResult {
  const r = spawnSync(argv[0], argv.slice(1), {
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 20000,
  });
  const res = {
    status: r.status ?? -1,
    stdout: r.stdout ?? '',
    stderr: (r.stderr ?? '') + (r.error ? String(r.error) : ''),
  };
  if (opts.check !== false && res.status !== 0) {
    throw new Error(`netbed: \`${argv.join(' ')}\` failed (${res.status}): ${res.stderr.trim() || res.stdout.trim()}`);
  }
  return res;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killNamespacePids(ns: string): void {
  const pids = run(['ip', 'netns', 'pids', ns], { check: false }).stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Removes namespaces and links left by runs whose process is gone. Returns how many it removed. */
export function cleanStaleNetbeds(): number {
  let removed = 0;
  const nsList = run(['ip', 'netns', 'list'], { check: false }).stdout;
  for (const line of nsList.split('\n')) {
    const name = line.split(' ')[0];
    const m = /^flnb-(\d+)-\d+-/.exec(name);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
      killNamespacePids(name);
      run(['ip', 'netns', 'del', name], { check: false });
      removed++;
    }
  }
  const links = run(['ip', '-o', 'link', 'show'], { check: false }).stdout;
  for (const line of links.split('\n')) {
    const m = /^\d+:\s+(fnb([0-9a-z]+)-[0-9a-z]+[bv][0-9]*)[@:]/.exec(line);
    if (m) {
      const pid = parseInt(m[2], 36);
      if (pid !== process.pid && !pidAlive(pid)) {
        run(['ip', 'link', 'del', m[1]], { check: false });
        removed++;
      }
    }
  }
  return removed;
}

export class Netbed {
  readonly id: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly hosts: Record<string, NetbedHost> = {};
  private readonly children: Tracked[] = [];
  private destroyed = false;

  private constructor(id: string, bridge: string, subnet: string) {
    this.id = id;
    this.bridge = bridge;
    this.subnet = subnet;
  }

  /** Builds the bed: a bridge, one namespace per host name, veth pairs, addresses, routes. */
  static create(hostNames: string[], opts: { subnetThirdOctet?: number } = {}): Netbed {
    if (process.getuid?.() !== 0) {
      throw new Error('netbed: network namespaces need root');
    }
    if (hostNames.length === 0 || hostNames.length > 200 || new Set(hostNames).size !== hostNames.length) {
      throw new Error('netbed: give 1..200 distinct host names');
    }
    for (const h of hostNames) {
      if (!/^[a-z][a-z0-9]{0,15}$/.test(h)) {
        throw new Error(`netbed: host name "${h}" must be lower-case letters/digits, at most 16`);
      }
    }
    cleanStaleNetbeds();
    const n = bedCounter++;
    const tag = `${process.pid.toString(36)}-${n.toString(36)}`;
    // 10.<200..249>.<x>.0/24: distinct per process and bed, used only inside the bed's bridge
    const second = 200 + (process.pid % 50);
    const third = opts.subnetThirdOctet ?? (Math.floor(process.pid / 50) + n) % 256;
    const bed = new Netbed(`${NS_PREFIX}${process.pid}-${n}`, `${LINK_PREFIX}${tag}b`, `10.${second}.${third}`);
    liveBeds.add(bed);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const b of liveBeds) {
          b.destroy();
        }
      });
    }
    try {
      run(['ip', 'link', 'add', bed.bridge, 'type', 'bridge']);
      // no STP/forwarding delay: ports forward as soon as they are up
      run(['ip', 'link', 'set', bed.bridge, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
      run(['ip', 'link', 'set', bed.bridge, 'up']);
      hostNames.forEach((name, i) => {
        const host: NetbedHost = {
          name,
          ns: `${bed.id}-${name}`,
          ip: `${bed.subnet}.${10 + i}`,
          ifname: 'eth0',
          rootIfname: `${LINK_PREFIX}${tag}v${i}`,
        };
        run(['ip', 'netns', 'add', host.ns]);
        bed.hosts[name] = host;
        run(['ip', 'link', 'add', host.rootIfname, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns]);
        run(['ip', 'link', 'set', host.rootIfname, 'master', bed.bridge]);
        run(['ip', 'link', 'set', host.rootIfname, 'up']);
        const inNs = ['ip', 'netns', 'exec', host.ns];
        run([...inNs, 'ip', 'link', 'set', 'lo', 'up']);
        run([...inNs, 'ip', 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
        run([...inNs, 'ip', 'link', 'set', 'eth0', 'up']);
        // a default route so a host can reach any bed address (the /24 route comes with the address)
        run([...inNs, 'ip', 'route', 'add', 'default', 'dev', 'eth0']);
      });
      // the bridge learns MACs as soon as ports carry traffic; wait for carrier on every port
      for (const h of Object.values(bed.hosts)) {
        bed.waitForCarrier(h);
      }
    } catch (err) {
      bed.destroy();
      throw err;
    }
    return bed;
  }

  /** Whether this kernel has sch_netem (`tc qdisc add … netem`). This machine's does not. */
  static netemAvailable(): boolean {
    if (netemCache === undefined) {
      const ns = `${NS_PREFIX}${process.pid}-netemprobe`;
      run(['ip', 'netns', 'add', ns], { check: false });
      netemCache =
        run(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], {
          check: false,
        }).status === 0;
      run(['ip', 'netns', 'del', ns], { check: false });
    }
    return netemCache;
  }

  private waitForCarrier(h: NetbedHost): void {
    for (let i = 0; i < 100; i++) {
      const out = run(['ip', 'netns', 'exec', h.ns, 'cat', '/sys/class/net/eth0/operstate'], {
        check: false,
      }).stdout.trim();
      if (out === 'up') {
        return;
      }
      spawnSync('sleep', ['0.02']);
    }
    throw new Error(`netbed: eth0 of ${h.name} did not come up`);
  }

  host(name: string): NetbedHost {
    const h = this.hosts[name];
    if (!h) {
      throw new Error(`netbed: no host "${name}" (have ${Object.keys(this.hosts).join(', ')})`);
    }
    return h;
  }

  ip(name: string): string {
    return this.host(name).ip;
  }

  /** argv prefixed to run inside a host's namespace */
  nsArgv(name: string, argv: string[]): string[] {
    return ['ip', 'netns', 'exec', this.host(name).ns, ...argv];
  }

  /** Runs a command inside a host to completion; throws on a non-zero exit unless check=false. */
  exec(name: string, argv: string[], opts: { input?: string; timeoutMs?: number; check?: boolean } = {}): ExecResult {
    return run(this.nsArgv(name, argv), opts);
  }

  /** Runs a command inside a host without blocking the event loop (for clients timed by the test). */
  execAsync(name: string, argv: string[], timeoutMs = 30000): Promise<ExecResult & { ms: number }> {
    return new Promise((resolve) => {
      const t0 = Date.now();
      const proc = this.spawn(name, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      proc.stdout!.on('data', (d) => (stdout += d));
      proc.stderr!.on('data', (d) => (stderr += d));
      const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      proc.on('close', (code) => {
        clearTimeout(t);
        resolve({ status: code ?? -1, stdout, stderr, ms: Date.now() - t0 });
      });
    });
  }

  /**
   * Starts a long-running process inside a host (`ip netns exec` execs it in place, so the child's
   * pid is the program's own). Killed by destroy(). Output is inherited unless opts.stdio says otherwise.
   */
  spawn(name: string, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) {
      throw new Error('netbed: destroyed');
    }
    const full = this.nsArgv(name, argv);
    const proc = spawn(full[0], full.slice(1), { stdio: 'ignore', ...opts });
    this.children.push({ proc, name: `${name}: ${argv.join(' ')}` });
    return proc;
  }

  /** Waits until something listens on TCP `port` inside a host. */
  async waitForListen(name: string, port: number, timeoutMs = 15000): Promise<void> {
    const start = Date.now();
    for (;;) {
      const out = this.exec(name, ['ss', '-Hltn', `sport = :${port}`], { check: false }).stdout;
      if (out.trim()) {
        return;
      }
      if (Date.now() - start > timeoutMs) {
        throw new Error(`netbed: nothing listens on port ${port} in ${name} after ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private ensureNftTable(name: string): void {
    const ns = this.host(name).ns;
    if (run(['ip', 'netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'netbed'], { check: false }).status === 0) {
      return;
    }
    run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], {
      input: `table inet netbed {
  chain input { type filter hook input priority 0; policy accept; }
  chain output { type filter hook output priority 0; policy accept; }
}
`,
    });
  }

  /** Adds one nftables rule to a host's input or output chain; returns its handle. */
  addNftRule(name: string, chain: 'input' | 'output', rule: string): number {
    this.ensureNftTable(name);
    const out = this.exec(name, ['nft', '-e', '-a', `add rule inet netbed ${chain} ${rule}`]).stdout;
    const m = /# handle (\d+)/.exec(out);
    if (!m) {
      throw new Error(`netbed: nft printed no handle for "${rule}": ${out}`);
    }
    return Number(m[1]);
  }

  removeNftRule(name: string, chain: 'input' | 'output', handle: number): void {
    this.exec(name, ['nft', 'delete', 'rule', 'inet', 'netbed', chain, 'handle', String(handle)]);
  }

  /**
   * Random loss of `percent` (0.1 resolution) of the TCP packets arriving at a host's eth0. Dropped
   * at the receiver's input, so the sender sees real loss and retransmits (a drop at the sender's
   * own output is a local error and is resent without counting as a retransmission).
   * `sport`/`dport` limit it to segments from/to that port.
   */
  addLoss(name: string, percent: number, opts: { sport?: number; dport?: number } = {}): number {
    if (!(percent > 0 && percent <= 100)) {
      throw new Error(`netbed: loss percent must be in (0, 100], got ${percent}`);
    }
    const ports = `${opts.sport ? `tcp sport ${opts.sport} ` : ''}${opts.dport ? `tcp dport ${opts.dport} ` : ''}`;
    return this.addNftRule(
      name,
      'input',
      `iifname "eth0" meta l4proto tcp ${ports}numgen random mod 1000 < ${Math.round(percent * 10)} counter drop`
    );
  }

  /**
   * TCP resets injected by nftables on a host:
   * - on: 'syn' (default) — connection attempts to `port` on this host are answered with a RST
   *   (the peer's connect fails with ECONNREFUSED; the RST comes from this host);
   * - on: 'data' — established segments to `port` carrying data are answered with a RST
   *   (connections are reset mid-stream).
   */
  addReset(name: string, opts: { port: number; on?: 'syn' | 'data' }): number {
    const flags =
      (opts.on ?? 'syn') === 'syn' ? 'tcp flags & (syn | ack) == syn' : 'tcp flags & (syn | rst) == 0 meta length > 80';
    return this.addNftRule(
      name,
      'input',
      `iifname "eth0" tcp dport ${opts.port} ${flags} counter reject with tcp reset`
    );
  }

  /** Packets an nftables rule matched (its counter). */
  nftCounter(name: string, chain: 'input' | 'output', handle: number): number {
    const out = this.exec(name, ['nft', '-a', 'list', 'chain', 'inet', 'netbed', chain]).stdout;
    for (const line of out.split('\n')) {
      if (line.includes(`# handle ${handle}`)) {
        const m = /counter packets (\d+)/.exec(line);
        return m ? Number(m[1]) : 0;
      }
    }
    throw new Error(`netbed: no rule with handle ${handle} in ${name}/${chain}`);
  }

  /** Bandwidth limit with queueing delay: a TBF qdisc on the host's eth0 (or its bridge port). */
  setRate(name: string, r: RateLimit): void {
    const h = this.host(name);
    const argv = [
      'tc',
      'qdisc',
      'replace',
      'dev',
      r.side === 'root' ? h.rootIfname : h.ifname,
      'root',
      'tbf',
      'rate',
      `${r.rateKbit}kbit`,
      'burst',
      String(r.burstBytes),
      'latency',
      `${r.latencyMs}ms`,
    ];
    if (r.side === 'root') {
      run(argv);
    } else {
      this.exec(name, argv);
    }
  }

  /** Removes every fault on a host: nftables rules and TBF qdiscs. */
  clearFaults(name: string): void {
    const h = this.host(name);
    this.exec(name, ['nft', 'delete', 'table', 'inet', 'netbed'], { check: false });
    this.exec(name, ['tc', 'qdisc', 'del', 'dev', h.ifname, 'root'], { check: false });
    run(['tc', 'qdisc', 'del', 'dev', h.rootIfname, 'root'], { check: false });
  }

  /**
   * A real proxy hop (toxiproxy) inside host `name`, listening on its address, forwarding to
   * `upstream`, adding `latencyMs` to each chunk of the chosen stream. Its API listens on the
   * host's loopback and is driven with curl inside the namespace.
   */
  async startProxy(name: string, o: ProxyOptions): Promise<Proxy> {
    if (!existsSync(TOXIPROXY_BIN)) {
      throw new Error(`netbed: toxiproxy is not installed at ${TOXIPROXY_BIN}: run scripts/setup.sh`);
    }
    const h = this.host(name);
    const apiPort = 8474;
    const proc = this.spawn(name, [TOXIPROXY_BIN, '-host', '127.0.0.1', '-port', String(apiPort)], { stdio: 'ignore' });
    await this.waitForListen(name, apiPort);
    const listen = `${h.ip}:${o.listenPort}`;
    const proxyName = `p${o.listenPort}`;
    this.toxiApi(name, apiPort, 'POST', '/proxies', { name: proxyName, listen, upstream: o.upstream, enabled: true });
    const setLatency = (latencyMs: number, stream: ProxyOptions['stream'] = o.stream ?? 'upstream') => {
      for (const s of ['upstream', 'downstream']) {
        this.toxiApi(name, apiPort, 'DELETE', `/proxies/${proxyName}/toxics/latency_${s}`, undefined, false);
      }
      if (latencyMs > 0) {
        for (const s of stream === 'both' ? ['upstream', 'downstream'] : [stream]) {
          this.toxiApi(name, apiPort, 'POST', `/proxies/${proxyName}/toxics`, {
            name: `latency_${s}`,
            type: 'latency',
            stream: s,
            toxicity: 1,
            attributes: { latency: latencyMs, jitter: o.jitterMs ?? 0 },
          });
        }
      }
    };
    if (o.latencyMs) {
      setLatency(o.latencyMs);
    }
    await this.waitForListen(name, o.listenPort);
    return { host: name, listen, apiPort, pid: proc.pid!, setLatency };
  }

  private toxiApi(name: string, port: number, method: string, path: string, body?: object, check = true): string {
    const argv = ['curl', '-s', '-S', '-X', method, '-w', '\n%{http_code}', `http://127.0.0.1:${port}${path}`];
    if (body) {
      argv.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body));
    }
    const out = this.exec(name, argv, { check }).stdout;
    const code = Number(out.trim().split('\n').pop());
    if (check && !(code >= 200 && code < 300)) {
      throw new Error(`netbed: toxiproxy ${method} ${path} -> ${code}: ${out}`);
    }
    return out;
  }

  /** Stops every process started in the bed, then removes namespaces, veths and the bridge. Idempotent. */
  destroy(): void {
    if (this.destroyed) {
      return;
    }
    this.destroyed = true;
    liveBeds.delete(this);
    for (const c of this.children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        try {
          c.proc.kill('SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const h of Object.values(this.hosts)) {
      killNamespacePids(h.ns); // anything a server forked
      run(['ip', 'netns', 'del', h.ns], { check: false }); // takes eth0 and so its veth peer with it
      run(['ip', 'link', 'del', h.rootIfname], { check: false });
    }
    run(['ip', 'link', 'del', this.bridge], { check: false });
  }
}
