// The connection table under a spoofed-source UDP flood: bounded, evictions settled and counted,
// and a real client's DNS queries during the flood logged exactly at both ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Pipeline } from '../../src/agent/pipeline';
import { Direction, EventKind, SocketEvent } from '../../src/agent/capture/socketEvent';
import type { L7FlowLogRow } from '../../src/agent/requestlog/l7FlowLog';
import type { L4FlowLogRow } from '../../src/agent/network/flows/tcpFlowLog';
import type { AppMetricsRow } from '../../src/agent/metrics/redAggregator';

function dns(id: number, response: boolean): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id & 0xffff, 0);
  h.writeUInt16BE(response ? 0x8180 : 0x0100, 2);
  h.writeUInt16BE(1, 4);
  return Buffer.concat([h, Buffer.from([4, ...Buffer.from('real'), 4, ...Buffer.from('test'), 0, 0, 1, 0, 1])]);
}

const SERVER = { ip: '10.77.0.2', port: 53, tgid: 500, sock: 0x5000 };
const CLIENT = { ip: '10.77.0.1', tgid: 600 };

test('200k-style flood, scaled: the table holds its bound, every flow is settled once, real queries are logged exactly', () => {
  const l7: L7FlowLogRow[] = [];
  const l4: L4FlowLogRow[] = [];
  const red: AppMetricsRow[] = [];
  const LIMIT = 1024;
  const FLOOD = 20_000;
  const REAL = 50;
  const p = new Pipeline({
    host: 'h',
    services: [],
    requestTimeoutMs: 30000,
    procRoot: mkdtempSync(join(tmpdir(), 'flowlens-noproc-')),
    limits: { connections: LIMIT, redRowsPerSecond: 500 },
    toWallUs: (ns) => 1.7e15 + ns / 1000,
    sink: { l7: (r) => l7.push(...r), appMetrics: (r) => red.push(...r), l4: (r) => l4.push(...r) },
  });
  let ts = 1e12;
  const ev = (o: Partial<SocketEvent>): SocketEvent =>
    ({
      kind: EventKind.Data,
      tsNs: (ts += 1000),
      tid: o.tgid,
      fd: 4,
      syscall: 0,
      l4: 'UDP',
      tcpSeq: 0,
      tcpState: 0,
      syscallTraceId: 0,
      comm: '',
      ...o,
      retLen: o.payload!.length,
    }) as SocketEvent;
  p.handle({ ...ev({ payload: Buffer.alloc(0) }), kind: EventKind.Exec, tgid: SERVER.tgid, comm: 'dnsmasq' });
  p.handle({ ...ev({ payload: Buffer.alloc(0) }), kind: EventKind.Exec, tgid: CLIENT.tgid, comm: 'dig' });
  const server = (peerIp: string, peerPort: number, direction: Direction, payload: Buffer) =>
    p.handle(
      ev({
        sockId: SERVER.sock,
        tgid: SERVER.tgid,
        localIp: SERVER.ip,
        localPort: SERVER.port,
        peerIp,
        peerPort,
        direction,
        payload,
      })
    );
  let most = 0;
  for (let i = 0; i < FLOOD; i++) {
    const ip = `172.${16 + ((i >>> 16) & 15)}.${(i >>> 8) & 255}.${i & 255}`;
    server(ip, 1024 + (i % 60000), Direction.Ingress, dns(i, false));
    server(ip, 1024 + (i % 60000), Direction.Egress, dns(i, true));
    if (i % (FLOOD / REAL) === 0) {
      // dig: one socket per query, connected to the server
      const q = i / (FLOOD / REAL);
      const port = 40000 + q;
      const client = (direction: Direction, payload: Buffer) =>
        p.handle(
          ev({
            sockId: 0x9000 + q,
            tgid: CLIENT.tgid,
            localIp: CLIENT.ip,
            localPort: port,
            peerIp: SERVER.ip,
            peerPort: 53,
            direction,
            payload,
          })
        );
      client(Direction.Egress, dns(q, false));
      server(CLIENT.ip, port, Direction.Ingress, dns(q, false));
      server(CLIENT.ip, port, Direction.Egress, dns(q, true));
      client(Direction.Ingress, dns(q, true));
    }
    most = Math.max(most, p.conns.size);
  }
  p.sweep(ts, Math.floor(ts / 1e9) + 2);
  const conns = p.tableStats().find((t) => t.name === 'connections')!;
  assert.equal(most, LIMIT, 'the table filled up to its bound and no further');
  assert.equal(conns.evicted, FLOOD + 2 * REAL - LIMIT);
  assert.ok(p.tableStats().every((t) => t.size <= t.max));
  p.finish();

  // every flow settled exactly once: evicted ones as timeouts, the rest at shutdown
  assert.equal(l4.length, FLOOD + 2 * REAL);
  assert.equal(l4.filter((r) => r.close_type === 'timeout').length, conns.evicted);
  // every query answered in its own second is logged with its answer, the flood's included
  assert.equal(l7.length, FLOOD + 2 * REAL);
  assert.deepEqual(
    l7.filter((r) => r.response_status !== 'ok'),
    []
  );
  const real = l7.filter((r) => r.client_ip === CLIENT.ip);
  assert.equal(
    real.filter(
      (r) => r.observation_point === 'client_process' && r.client_process === 'dig' && r.server_process === 'dnsmasq'
    ).length,
    REAL
  );
  assert.equal(
    real.filter(
      (r) => r.observation_point === 'server_process' && r.client_process === 'dig' && r.server_process === 'dnsmasq'
    ).length,
    REAL
  );
  assert.equal(new Set(real.map((r) => `${r.observation_point}|${r.client_port}`)).size, 2 * REAL);
  // RED: bounded rows, every request counted
  assert.equal(
    red.reduce((n, r) => n + r.request_count, 0),
    FLOOD + 2 * REAL
  );
  assert.ok(red.filter((r) => r.client_service === '(other)').length > 0);
  assert.ok(red.length <= 500 * 3 + 8, `${red.length} rows`);
});
