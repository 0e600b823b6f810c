// The triage test bed: the demo system on the namespace test bed (client → gw nginx → slb toxiproxy →
// frontend Node → backend Python → postgres, redis; the frontend also resolves a name at a DNS server on
// the db host for every request) under a steady load, and real faults injected one at a time, each in
// its own window after a healthy one at least as long (the triage's default baseline is the window
// just before). Used by recordTriage.ts (into pkg/plugin/testdata/triagecapture, for the Go tests) and
// by triage.e2e.test.ts (a few scenarios live).
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { startDemoSystem, DemoSystem } from '../../../demo/demoSystem';

/** What the triage over a scenario's window must name first (nothing for the control). */
export interface Expected {
  place: string;
  kind: string;
  /** the service the suspect is about */
  service: string;
}

export interface Scenario {
  name: string;
  /** what is injected, in words */
  fault: string;
  /** the triage's target: a service (the server) and optionally its client */
  target: { service: string; client_service?: string };
  expect: Expected | null;
}

/** Seconds of each fault window, and of the healthy load before it (longer: effects linger a little). */
export const FAULT_S = 5;
export const HEALTHY_S = 7;
export const SLOW_MS = 60;
export const GATEWAY_MS = 100;
export const LOSS_PERCENT = 5;
export const BURN_MS = 12;
export const THINK_MS = 200;
export const RATE = 30;
export const DNS_NAME = 'backend.shop.test';

export const SCENARIOS: Scenario[] = [
  { name: 'control', fault: 'none: the steady load alone', target: { service: 'gateway' }, expect: null },
  {
    name: 'gateway_latency',
    fault: `${GATEWAY_MS} ms latency toxic on the load balancer (toxiproxy)`,
    target: { service: 'gateway' },
    expect: { place: 'gateway', kind: 'latency', service: 'slb' },
  },
  {
    name: 'slow_database',
    fault: `pg_sleep(${SLOW_MS} ms) in the backend's product query`,
    target: { service: 'gateway' },
    expect: { place: 'dependency', kind: 'latency', service: 'postgres' },
  },
  {
    name: 'slow_cache',
    fault: `a redis DEBUG SLEEP of ${SLOW_MS} ms per product view`,
    target: { service: 'gateway' },
    expect: { place: 'dependency', kind: 'latency', service: 'redis' },
  },
  {
    name: 'slow_dns',
    fault: `the DNS server answers after ${SLOW_MS} ms`,
    target: { service: 'gateway' },
    expect: { place: 'dns', kind: 'latency', service: 'dns' },
  },
  {
    name: 'lossy_path',
    fault: `${LOSS_PERCENT}% loss of TCP segments arriving at the backend's host (nftables)`,
    target: { service: 'gateway' },
    expect: { place: 'network_path', kind: 'retransmissions', service: 'backend' },
  },
  {
    name: 'refused',
    fault: 'nftables on the backend host resets connects and data to :8000',
    target: { service: 'gateway' },
    expect: { place: 'server_nic', kind: 'connection_failures', service: 'backend' },
  },
  {
    name: 'cpu_bound',
    fault: `the frontend burns ${BURN_MS} ms of CPU per request (burnCpu)`,
    target: { service: 'gateway' },
    expect: { place: 'server_app', kind: 'cpu', service: 'frontend' },
  },
  {
    name: 'client_wait',
    fault: `a keep-alive client thinks ${THINK_MS} ms between requests`,
    target: { service: 'gateway', client_service: 'loadtester' },
    expect: { place: 'client_app', kind: 'client_wait', service: 'loadtester' },
  },
];

/** A DNS server (UDP, A records of any name → 10.99.0.1) answering after the delay in its file, ms. */
const DNS_SERVER = `
const dgram = require('dgram'); const fs = require('fs');
process.title = 'dnsd';
const [ip, delayFile] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.on('message', (q, from) => {
  if (q.length < 17) return;
  let i = 12; while (i < q.length && q[i] !== 0) i += q[i] + 1;
  const qEnd = i + 5;
  if (qEnd > q.length) return;
  const head = Buffer.from(q.subarray(0, 12)); head[2] = 0x81; head[3] = 0x80; head.writeUInt16BE(1, 6); head.writeUInt16BE(0, 8); head.writeUInt16BE(0, 10);
  const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 99, 0, 1]);
  const reply = Buffer.concat([head, q.subarray(12, qEnd), answer]);
  let delay = 0; try { delay = Number(fs.readFileSync(delayFile, 'utf8')) || 0; } catch {}
  setTimeout(() => s.send(reply, from.port, from.address), delay);
});
s.bind(53, ip);
`;

/** The steady load: RATE requests a second over 3 keep-alive connections to the gateway, each request's
 * query string extended by the mode file's text (the fault's parameters). argv: gateway ip, port, mode file. */
const LOAD = `
const http = require('http'); const fs = require('fs');
process.title = 'loadgen';
const [host, port, modeFile] = process.argv.slice(1);
const every = 3000 / ${RATE};
let n = 0;
async function conn() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (;;) {
    const t0 = Date.now();
    let mode = ''; try { mode = fs.readFileSync(modeFile, 'utf8').trim(); } catch {}
    const path = '/api/products?item=' + (1 + (n++ % 20)) + '&resolve=${DNS_NAME}' + (mode ? '&' + mode : '');
    await new Promise((resolve) => http.get({ host, port, path, agent }, (r) => { r.resume(); r.on('end', resolve); }).on('error', resolve));
    await new Promise((r) => setTimeout(r, Math.max(0, every - (Date.now() - t0))));
  }
}
for (let c = 0; c < 3; c++) conn();
`;

/** A load tester on one keep-alive connection: COUNT requests, thinking argv[3] ms between them. */
const LOAD_TESTER = `
const http = require('http');
process.title = 'loadtester';
const [host, port, think] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
(async () => {
  for (let i = 0; i < 15; i++) {
    if (i && Number(think)) await new Promise((r) => setTimeout(r, Number(think)));
    await new Promise((resolve, reject) => http.get({ host, port, path: '/api/products?item=' + (i + 1) + '&resolve=${DNS_NAME}', agent }, (r) => { r.resume(); r.on('end', resolve); }).on('error', reject));
  }
  agent.destroy();
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

export interface Window {
  scenario: string;
  /** unix seconds: the fault window is [from, to) */
  from: number;
  to: number;
}

export interface TriageBed {
  sys: DemoSystem;
  /** services for the agent's config */
  agentConfig(): object;
  /** runs the scenarios in order: healthy load, then the fault's window; returns each fault window */
  run(scenarios: Scenario[], log: (line: string) => void): Promise<Window[]>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for the next whole second (windows start on second boundaries, as RED's per-second rows). */
async function nextSecond(): Promise<number> {
  const now = Date.now();
  await sleep(1000 - (now % 1000) + 5);
  return Math.floor(Date.now() / 1000);
}

export async function startTriageBed(dataDir: string): Promise<TriageBed> {
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-triagebed-'));
  const modeFile = join(dir, 'mode');
  const dnsDelayFile = join(dir, 'dns-delay');
  writeFileSync(modeFile, '');
  writeFileSync(dnsDelayFile, '0');
  const sys = await startDemoSystem({
    layout: 'netbed',
    dataDir,
    failRate: 0,
    frontendEnv: (e) => ({ DNS_SERVER: `${e.postgres!.ip}:53` }),
    frontendNodeFlags: ['--perf-basic-prof'],
  });
  const bed = sys.bed!;
  bed.spawn('db', [process.execPath, '-e', DNS_SERVER, bed.ip('db'), dnsDelayFile]);
  const gw = sys.endpoints.gateway!;
  let load: ChildProcess | undefined;
  // the clients run node under their own names (the process name the kernel reports from exec: a
  // short-lived client may be gone before its process.title is read)
  const named = (name: string) => {
    const path = join(dir, name);
    symlinkSync(process.execPath, path);
    return path;
  };
  const loadtester = named('loadtester');
  const loadgen = named('loadgen');
  const tester = (think: number) =>
    bed.execAsync('client', [loadtester, '-e', LOAD_TESTER, gw.ip, String(gw.port), String(think)]);
  const mode = (m: string) => writeFileSync(modeFile, m);

  /** Injects a scenario's fault; returns what removes it. */
  async function inject(s: Scenario): Promise<() => Promise<void>> {
    switch (s.name) {
      case 'control':
        return async () => undefined;
      case 'gateway_latency':
        sys.slb!.setLatency(GATEWAY_MS);
        return async () => sys.slb!.setLatency(0);
      case 'slow_database':
        mode(`slow=postgres&slow_ms=${SLOW_MS}`);
        return async () => mode('');
      case 'slow_cache':
        mode(`slow=redis&slow_ms=${SLOW_MS}`);
        return async () => mode('');
      case 'slow_dns':
        writeFileSync(dnsDelayFile, String(SLOW_MS));
        return async () => writeFileSync(dnsDelayFile, '0');
      case 'lossy_path': {
        const h = bed.addLoss('back', LOSS_PERCENT, { dport: 8000 });
        return async () => bed.removeNftRule('back', 'input', h);
      }
      case 'refused': {
        const hs = [bed.addReset('back', { port: 8000, on: 'syn' }), bed.addReset('back', { port: 8000, on: 'data' })];
        return async () => hs.forEach((h) => bed.removeNftRule('back', 'input', h));
      }
      case 'cpu_bound':
        mode(`burn=${BURN_MS}`);
        return async () => mode('');
      case 'client_wait': {
        const run = tester(THINK_MS);
        return async () => {
          const r = await run;
          if (r.status !== 0) {
            throw new Error(`load tester: ${r.stderr}`);
          }
        };
      }
    }
    throw new Error(`no such scenario ${s.name}`);
  }

  return {
    sys,
    agentConfig: () => {
      const c = sys.agentConfig();
      return {
        ...c,
        services: [
          ...c.services,
          { name: 'dns', port: 53 },
          { name: 'loadtester', process: 'loadtester' },
          { name: 'loadgen', process: 'loadgen' },
        ],
      };
    },
    async run(scenarios, log) {
      load = bed.spawn('client', [loadgen, '-e', LOAD, gw.ip, String(gw.port), modeFile]);
      const windows: Window[] = [];
      await sleep(2000); // connections warm
      for (const s of scenarios) {
        const healthyFrom = await nextSecond();
        // the load tester's healthy run (no think time) inside the baseline of the client-wait window
        if (s.name === 'client_wait') {
          await sleep((HEALTHY_S - FAULT_S + 1) * 1000);
          const r = await tester(0);
          if (r.status !== 0) {
            throw new Error(`load tester: ${r.stderr}`);
          }
        }
        await sleep(Math.max(0, healthyFrom * 1000 + HEALTHY_S * 1000 - Date.now() - 500));
        const from = await nextSecond();
        const remove = await inject(s);
        await sleep(Math.max(0, (from + FAULT_S) * 1000 - Date.now()));
        await remove();
        const to = Math.max(from + FAULT_S, Math.floor(Date.now() / 1000));
        windows.push({ scenario: s.name, from, to: from + FAULT_S });
        log(`${s.name}: ${new Date(from * 1000).toISOString()} .. +${FAULT_S} s (removed at +${to - from} s)`);
      }
      await sleep(HEALTHY_S * 1000); // the last fault's effects pass, as after every other
      return windows;
    },
    async stop() {
      load?.kill('SIGTERM');
      await sys.stop();
    },
  };
}
