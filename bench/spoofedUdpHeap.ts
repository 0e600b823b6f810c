// Heap growth of the agent's pipeline under a spoofed-source UDP DNS flood: N queries, each from a
// different source address and port, to one server socket (dnsmasq's unconnected socket: one
// connection per peer), each answered, fed to Pipeline.handle as decoded events. Prints the heap
// before and after and the tables. Usage: [CONNECTIONS=bound] node --expose-gc build/agent/bench/spoofedUdpHeap.js [queries]
import { Pipeline } from '../src/agent/pipeline';
import { Direction, EventKind, SocketEvent } from '../src/agent/capture/socketEvent';

const N = Number(process.argv[2] ?? 200_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  throw new Error('run with node --expose-gc');
}

function dnsMessage(id: number, response: boolean): Buffer {
  const q = Buffer.from([
    3,
    ...Buffer.from('www'),
    7,
    ...Buffer.from('example'),
    3,
    ...Buffer.from('com'),
    0,
    0,
    1,
    0,
    1,
  ]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id & 0xffff, 0);
  h.writeUInt16BE(response ? 0x8180 : 0x0100, 2);
  h.writeUInt16BE(1, 4);
  return Buffer.concat([h, q]);
}

let l4Rows = 0;
let l7Rows = 0;
const p = new Pipeline({
  host: 'bench',
  services: [],
  requestTimeoutMs: 30000,
  limits: process.env.CONNECTIONS ? { connections: Number(process.env.CONNECTIONS) } : undefined,
  toWallUs: (ns) => 1.7e15 + ns / 1000,
  sink: { l7: (r) => (l7Rows += r.length), appMetrics: () => undefined, l4: (r) => (l4Rows += r.length) },
});
const ev = (ts: number, dir: Direction, peerIp: string, peerPort: number, payload: Buffer): SocketEvent => ({
  kind: EventKind.Data,
  tsNs: ts,
  sockId: 0xffff8888_0000,
  tgid: 4242,
  tid: 4242,
  fd: 4,
  direction: dir,
  syscall: 0,
  retLen: payload.length,
  localIp: '10.77.0.2',
  localPort: 53,
  peerIp,
  peerPort,
  l4: 'UDP',
  tcpSeq: 0,
  tcpState: 0,
  syscallTraceId: 0,
  payload,
  comm: 'dnsmasq',
});

gc();
const before = process.memoryUsage().heapUsed;
/** CPU ms of this process: what the work costs, less moved by the machine's other load than wall time */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const t0 = cpuMs();
let ts = 1e12;
for (let i = 0; i < N; i++) {
  const ip = `10.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${i & 0xff}`;
  const port = 1024 + (i % 60000);
  p.handle(ev((ts += 1000), Direction.Ingress, ip, port, dnsMessage(i, false)));
  p.handle(ev((ts += 1000), Direction.Egress, ip, port, dnsMessage(i, true)));
}
p.sweep(ts, Math.floor(ts / 1e9)); // emits the request logs and the finished RED seconds, as the agent does every second
const ms = cpuMs() - t0;
gc();
const after = process.memoryUsage().heapUsed;
const tables = (
  p as unknown as { tableStats?: () => Array<{ name: string; size: number; max: number; evicted: number }> }
).tableStats?.();
console.log(
  `${N} spoofed DNS queries (+ answers) in ${Math.round(ms)} ms of CPU: heap ${(before / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB ` +
    `(+${((after - before) / 2 ** 20).toFixed(1)} MiB); connections ${p.conns.size}; request logs ${l7Rows}; udp flow rows ${l4Rows}` +
    (tables ? `; tables: ${tables.map((t) => `${t.name} ${t.size}/${t.max} evicted ${t.evicted}`).join(', ')}` : '')
);
// the same flows a minute later: idle, every one left is settled (a UDP flow row each), as it would
// have been without a bound; the total work is then comparable
const t1 = cpuMs();
p.sweep(ts + 61e9, Math.floor(ts / 1e9) + 61);
const settleMs = cpuMs() - t1;
console.log(
  `then settling the idle flows: ${Math.round(settleMs)} ms (total ${Math.round(ms + settleMs)} ms of CPU); udp flow rows ${l4Rows}`
);
