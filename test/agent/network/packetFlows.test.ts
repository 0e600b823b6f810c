import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePacket, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../../../src/agent/network/packets/packetDecoder';
import { CaptureInterfaceInfo, PacketFlows, TcpTimelineRow } from '../../../src/agent/network/packets/packetFlows';
import { defaultParsers } from '../../../src/agent/protocols/registry';
import type { L7FlowLogRow } from '../../../src/agent/requestlog/l7FlowLog';
import { tcpPacket, udpPacket } from './packetFixtures';

const C = '10.9.0.10';
const S = '10.9.0.11';
const T0 = 1_700_000_000_000_000;

function setup(ifaces: Record<number, CaptureInterfaceInfo>, pids: Record<string, number> = {}) {
  const timeline: TcpTimelineRow[] = [];
  const l7: L7FlowLogRow[] = [];
  const flows = new PacketFlows({
    host: 'h1',
    parsers: defaultParsers(),
    iface: (id) => ifaces[id],
    baseUs: T0 - 1e6,
    sink: { timeline: (r) => timeline.push(...r), l7: (r) => l7.push(...r) },
    directory: {
      pidOf: (ip, port, pip, pport) => pids[`${ip}:${port}>${pip}:${pport}`] ?? 0,
      comm: (pid) => (pid === 11 ? 'curl' : pid === 22 ? 'nginx' : ''),
      service: (pid) => (pid === 22 ? 'web' : pid === 11 ? 'curl' : ''),
      remoteService: (ip) => ip,
    },
  });
  return { flows, timeline, l7 };
}

/** An HTTP/1.1 exchange on one connection seen by capture socket `sock`; `outgoingFromClient` = the client's own NIC */
function exchange(flows: PacketFlows, sock: number, outgoingFromClient: boolean, dupRequest = false) {
  const c0 = 7000;
  const s0 = 90000;
  const req = 'GET /api/items?id=7 HTTP/1.1\r\nHost: web\r\n\r\n';
  const body = '{"ok":true}';
  const res = `HTTP/1.1 503 Service Unavailable\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const send = (dir: 0 | 1, dt: number, seq: number, ack: number, flags: number, payload = '') => {
    const [src, dst, sport, dport] = dir === 0 ? [C, S, 41000, 8080] : [S, C, 8080, 41000];
    const outgoing = dir === 0 ? outgoingFromClient : !outgoingFromClient;
    flows.onPacket(
      decodePacket(tcpPacket({ src, dst, sport, dport, seq, ack, flags, payload }), sock, T0 + dt, outgoing, 0)!
    );
  };
  send(0, 0, c0, 0, TCP_SYN);
  send(1, 100, s0, c0 + 1, TCP_SYN | TCP_ACK);
  send(0, 200, c0 + 1, s0 + 1, TCP_ACK);
  send(0, 1000, c0 + 1, s0 + 1, TCP_ACK | TCP_PSH, req);
  if (dupRequest) {
    send(0, 201000, c0 + 1, s0 + 1, TCP_ACK | TCP_PSH, req); // retransmitted: must not be a second request
  }
  send(1, 251000, s0 + 1, c0 + 1 + req.length, TCP_ACK | TCP_PSH, res);
  send(0, 251100, c0 + 1 + req.length, s0 + 1 + res.length, TCP_ACK | TCP_FIN);
  send(1, 251200, s0 + 1 + res.length, c0 + 2 + req.length, TCP_ACK | TCP_FIN);
  return { reqSeq: c0 + 1, resSeq: s0 + 1 };
}

test('the client NIC: one request log linked by TCP sequence numbers, and the flow timeline', () => {
  const { flows, timeline, l7 } = setup(
    { 1: { netns: 'client', ifname: 'eth0', localAddrs: new Set([C]) } },
    { [`${C}:41000>${S}:8080`]: 11, [`${S}:8080>${C}:41000`]: 22 }
  );
  const { reqSeq, resSeq } = exchange(flows, 1, true, true);
  flows.flush();
  assert.equal(l7.length, 1);
  const r = l7[0];
  assert.deepEqual(
    [
      r.observation_point,
      r.signal_source,
      r.l7_protocol,
      r.request_type,
      r.request_resource,
      r.endpoint,
      r.response_code,
      r.response_status,
    ],
    ['client_nic', 'packet', 'HTTP', 'GET', '/api/items?id=7', '/api/items', 503, 'server_error']
  );
  assert.deepEqual([r.tcp_seq_request, r.tcp_seq_response], [reqSeq, resSeq]);
  assert.deepEqual([r.client_ip, r.client_port, r.server_ip, r.server_port], [C, 41000, S, 8080]);
  assert.deepEqual(
    [r.client_pid, r.client_process, r.server_pid, r.server_process, r.server_service],
    [11, 'curl', 22, 'nginx', 'web']
  );
  assert.equal(r.start_time_us, T0 + 1000);
  assert.equal(r.end_time_us, T0 + 251000);
  assert.equal(timeline.length, 0, 'the timeline is written when the flow settles');
  flows.sweep(T0 + 251200 + 1_100_000);
  assert.equal(timeline.length, 1);
  const t = timeline[0];
  assert.deepEqual(
    [
      t.observation_point,
      t.interface,
      t.netns,
      t.client_port,
      t.server_port,
      t.conn_latency_us,
      t.server_response_us,
      t.server_response_count,
      t.client_wait_count,
      t.packet_count,
      t.retrans_count,
    ],
    ['client_nic', 'eth0', 'client', 41000, 8080, 200, 250000, 1, 0, 8, 1]
  );
  assert.deepEqual(t.event_direction, [0, 1, 0, 0, 0, 1, 0, 1]);
  assert.equal(flows.size, 0);
});

test('which side a NIC is on: the server host, and a bridge port facing the client or the server', () => {
  const { flows, l7 } = setup({
    1: { netns: 'server', ifname: 'eth0', localAddrs: new Set([S]) },
    2: { netns: '', ifname: 'veth-client', localAddrs: new Set() },
    3: { netns: '', ifname: 'veth-server', localAddrs: new Set() },
  });
  exchange(flows, 1, false);
  exchange(flows, 2, false); // the client's packets arrive from the pod on its veth: client side
  exchange(flows, 3, true); // the client's packets leave toward the pod: server side
  flows.flush();
  assert.equal(l7.length, 0, 'no pid for either end yet: named at the next sweep');
  flows.sweep(T0 + 2e6);
  flows.flush();
  assert.deepEqual(
    l7.map((r) => r.observation_point),
    ['server_nic', 'client_nic', 'server_nic']
  );
});

test('a flow first seen mid-stream: ends guessed from the ports, corrected by the parser', () => {
  const { flows, l7, timeline } = setup({ 1: { netns: '', ifname: 'eth0', localAddrs: new Set([S]) } });
  // client port 80 < server port 9000: the port guess gets it backwards
  const p = (src: string, dst: string, sport: number, dport: number, seq: number, payload: string, dt: number) =>
    flows.onPacket(
      decodePacket(
        tcpPacket({ src, dst, sport, dport, seq, ack: 1, flags: TCP_ACK | TCP_PSH, payload }),
        1,
        T0 + dt,
        false,
        0
      )!
    );
  p(C, S, 80, 9000, 500, 'GET /x HTTP/1.1\r\n\r\n', 0);
  p(S, C, 9000, 80, 800, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 10);
  flows.finish();
  assert.equal(l7.length, 1);
  assert.deepEqual(
    [l7[0].client_port, l7[0].server_port, l7[0].request_resource, l7[0].response_code],
    [80, 9000, '/x', 200]
  );
  assert.equal(timeline.length, 1);
});

test('the flow table is bounded: the least recently active flow is settled (timeline row) to admit a new one, and counted', () => {
  const timeline: TcpTimelineRow[] = [];
  const flows = new PacketFlows({
    host: 'h',
    parsers: [],
    iface: () => undefined,
    maxFlows: 2,
    sink: { timeline: (r) => timeline.push(...r), l7: () => undefined },
    directory: { pidOf: () => 0, comm: () => '', service: () => '', remoteService: () => '' },
  });
  const packet = (sport: number, seq: number, flags: number) =>
    flows.onPacket(decodePacket(tcpPacket({ src: C, dst: S, sport, dport: 80, seq, flags }), 1, T0, true, 0)!);
  packet(999, 1, TCP_SYN); // a real flow, active between the flood's flows
  for (let i = 0; i < 5; i++) {
    packet(1000 + i, 1, TCP_SYN);
    packet(999, 2 + i, TCP_ACK);
  }
  assert.equal(flows.size, 2);
  assert.equal(flows.counters.evictedFlows, 4, 'flood flows 1000..1003 made room for the next ones');
  flows.flush();
  assert.deepEqual(
    timeline.map((r) => [r.client_port, r.packet_count]),
    [1000, 1001, 1002, 1003].map((port) => [port, 1])
  );
  flows.finish();
  const last = timeline.slice(4).map((r) => [r.client_port, r.packet_count]);
  assert.deepEqual(
    last.sort(),
    [
      [1004, 1],
      [999, 6],
    ].sort(),
    'the real flow kept all its packets in one row'
  );
  assert.deepEqual(flows.stats(), { name: 'packet flows', size: 0, max: 2, evicted: 4 });
});

test('DNS over UDP at the client NIC: one request log, ends from the ports', () => {
  const { flows, l7, timeline } = setup({ 1: { netns: '', ifname: 'eth0', localAddrs: new Set([C]) } });
  const query = Buffer.from(
    '2fbb01200001000000000001056b6e6f776e0474657374000001000100002904d000000000000c000a0008b1c1a7e0f6bc1b4e',
    'hex'
  );
  const answer = Buffer.from(
    '2fbb85800001000100000001056b6e6f776e0474657374000001000100c00c000100010000000000040a010203000029',
    'hex'
  );
  flows.onPacket(decodePacket(udpPacket(C, S, 53000, 53, query), 1, T0, true, 0)!);
  flows.onPacket(decodePacket(udpPacket(S, C, 53, 53000, answer), 1, T0 + 700, false, 0)!);
  flows.finish();
  assert.equal(l7.length, 1);
  assert.deepEqual(
    [
      l7[0].observation_point,
      l7[0].l7_protocol,
      l7[0].request_resource,
      l7[0].client_port,
      l7[0].server_port,
      l7[0].l4_protocol,
      l7[0].response_duration_us,
    ],
    ['client_nic', 'DNS', 'known.test', 53000, 53, 'UDP', 700]
  );
  assert.equal(timeline.length, 0, 'timelines are for TCP flows');
});
