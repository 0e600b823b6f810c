// Agent pipeline capacity: recorded-format ring batches of HTTP/1.1 keep-alive traffic (both ends on
// the host: 4 data events and 2 request logs per request) fed through the real Pipeline on one core,
// its rows encoded to RowBinary as the export does. Prints requests/s per core and memory. Usage: node build/agent/bench/pipelineCapacity.js [seconds]
import { EVENT_LAYOUT as L } from '../src/agent/capture/eventDecoder';
import { Pipeline } from '../src/agent/pipeline';
import { EventKind, Direction } from '../src/agent/capture/socketEvent';
import { RowBinaryEncoder, RowBinaryWriter } from '../src/agent/export/rowBinaryEncoder';

const CONNS = 100;
/** Every request has its own query (ids cycle over 100,000: no cache of the agent sees a URL again
 * except at the call's two ends), on one of 200 endpoints (paths), like a REST API's routes. */
let requestNo = 0;
const request = (): string => {
  const n = requestNo++;
  return `GET /api/v1/catalog${n % 200}/products?id=${10000 + (n % 100000)}&currency=EUR HTTP/1.1\r\nHost: shop.internal\r\nUser-Agent: bench\r\nAccept: */*\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n`;
};
const RESPONSE =
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\nDate: Tue, 24 Nov 2026 20:00:00 GMT\r\n\r\n' +
  'x'.repeat(64);

function rec(
  ts: number,
  sock: number,
  tgid: number,
  dir: Direction,
  lport: number,
  rport: number,
  payload: string
): Buffer {
  const p = Buffer.from(payload, 'latin1');
  const len = L.size + p.length;
  const out = Buffer.alloc(8 + Math.ceil(len / 8) * 8);
  out.writeUInt32LE(len, 0);
  const r = 8;
  out.writeBigUInt64LE(BigInt(ts), r + L.ts_ns);
  out.writeBigUInt64LE(0xffff888800000000n + BigInt(sock) * 4096n, r + L.sock_id);
  out.writeUInt32LE(tgid, r + L.tgid);
  out.writeUInt32LE(tgid, r + L.tid);
  out.writeInt32LE(5, r + L.fd);
  out.writeUInt16LE(EventKind.Data, r + L.kind);
  out[r + L.direction] = dir;
  out.writeUInt32LE(p.length, r + L.ret_len);
  out.writeUInt32LE(p.length, r + L.cap_len);
  out.writeUInt16LE(2, r + L.family);
  Buffer.from([127, 0, 0, 1]).copy(out, r + L.saddr);
  Buffer.from([127, 0, 0, 1]).copy(out, r + L.daddr);
  out.writeUInt16LE(lport, r + L.sport);
  out.writeUInt16LE(rport, r + L.dport);
  out[r + L.l4_proto] = 6;
  p.copy(out, r + L.size);
  return out;
}

/** One batch of `perConn` requests on each of CONNS connections, timestamps from `t0`. */
function batch(t0: number, perConn: number): Buffer {
  const parts: Buffer[] = [];
  let ts = t0;
  for (let i = 0; i < perConn; i++) {
    for (let c = 0; c < CONNS; c++) {
      const cport = 40000 + c;
      const req = request();
      parts.push(rec(ts++, 2 * c, 1000, Direction.Egress, cport, 8080, req)); // client write
      parts.push(rec(ts++, 2 * c + 1, 2000, Direction.Ingress, 8080, cport, req)); // server read
      parts.push(rec((ts += 50_000), 2 * c + 1, 2000, Direction.Egress, 8080, cport, RESPONSE)); // server write
      parts.push(rec(ts++, 2 * c, 1000, Direction.Ingress, cport, 8080, RESPONSE)); // client read
    }
  }
  return Buffer.concat(parts);
}

const toWallUs = (ns: number): number => 1_700_000_000_000_000 + Math.round(ns / 1000);

const encoders = new RowBinaryEncoder();
const out = new RowBinaryWriter(4 << 20);
function encode(table: string, rows: object[]): void {
  const codec = rows.length ? encoders.forRow(table, rows[0]) : null;
  if (!codec) {
    return;
  }
  if (out.pos > 2 << 20) {
    out.pos = 0; // the bytes are not sent: reuse the buffer
  }
  for (const r of rows) {
    codec.encode(r as Record<string, unknown>, out);
  }
}

function main(): void {
  const seconds = Number(process.argv[2] ?? 5);
  let rows = 0;
  let metricRows = 0;
  const p = new Pipeline({
    host: 'bench',
    services: [],
    requestTimeoutMs: 30_000,
    toWallUs,
    // rows are encoded to RowBinary as the agent's export does when they are pushed (not sent)
    sink: {
      l7: (r) => {
        rows += r.length;
        encode('l7_flow_log', r);
      },
      appMetrics: (r) => {
        metricRows += r.length;
        encode('app_metrics', r);
      },
    },
    procRoot: '/nonexistent',
  });
  const perConn = 10; // 1000 requests = 4000 events per batch (~1.2 MB), like one drain of a busy ring
  const requestsPerBatch = perConn * CONNS;
  let t = 1e9;
  // warm up the JIT
  for (let i = 0; i < 50; i++) {
    const b = batch(t, perConn);
    t += 1e9;
    p.processBatch(b);
  }
  const batches: Buffer[] = [];
  for (let i = 0; i < 20; i++) {
    batches.push(batch(t, perConn));
    t += 1e9;
  }
  rows = 0;
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  let requests = 0;
  let i = 0;
  while (Number(process.hrtime.bigint() - wall0) < seconds * 1e9) {
    p.processBatch(batches[i++ % batches.length]);
    requests += requestsPerBatch;
    if (i % 20 === 0) {
      p.sweep(t, Math.floor(toWallUs(t) / 1e6)); // RED seconds are wall-clock seconds
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const mem = process.memoryUsage();
  const perCore = requests / cpuSec;
  console.log(
    JSON.stringify({
      requests,
      rowsEmitted: rows,
      cpuSeconds: Number(cpuSec.toFixed(2)),
      requestsPerSecondPerCore: Math.round(perCore),
      eventsPerSecondPerCore: Math.round(perCore * 4),
      rssMB: Math.round(mem.rss / 1e6),
      heapUsedMB: Math.round(mem.heapUsed / 1e6),
    })
  );
}

main();
