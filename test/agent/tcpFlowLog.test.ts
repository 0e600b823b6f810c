import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpFlowLog, L4FlowLogRow, NetMetricsRow, TcpFlowNative } from '../../src/agent/network/flows/tcpFlowLog';
import {
  FlowRole,
  TcpFlowRecord,
  FLOW_CLOSED,
  FLOW_ESTABLISHED,
  FLOW_RST_RECEIVED,
  FLOW_PREEXISTING,
  ETIMEDOUT,
} from '../../src/agent/network/flows/tcpFlowRecord';

function rec(o: Partial<TcpFlowRecord>): TcpFlowRecord {
  return {
    sockId: 1,
    startNs: 1e9,
    establishedNs: 1.001e9,
    closedNs: 0,
    bytesAcked: 0,
    bytesReceived: 0,
    segsOut: 0,
    segsIn: 0,
    srttUs: 100,
    synLatencyUs: 80,
    retrans: 0,
    zeroWindow: 0,
    rstReceived: 0,
    rstSent: 0,
    tgid: 10,
    netns: 1,
    skErr: 0,
    flags: FLOW_ESTABLISHED,
    localIp: '10.0.0.1',
    peerIp: '10.0.0.2',
    localPort: 40000,
    peerPort: 80,
    role: FlowRole.Client,
    state: 1,
    ...o,
  };
}

function harness(intervalSec = 60) {
  const l4: L4FlowLogRow[] = [];
  const net: NetMetricsRow[] = [];
  const log = new TcpFlowLog({
    host: 'h',
    native: {} as TcpFlowNative,
    namer: {
      socketPid: () => 0,
      peerPid: () => 20,
      comm: (pid) => (pid === 10 ? 'curl' : pid === 20 ? 'nginx' : '?'),
      service: (pid) => (pid === 10 ? 'curl' : 'web'),
      remoteService: (ip) => ip,
    },
    toWallUs: (ns) => Math.round(ns / 1000),
    intervalSec,
    ignorePorts: [],
    sink: { l4: (r) => l4.push(...r), net: (r) => net.push(...r) },
  });
  return { log, l4, net };
}

test('an open flow is metered every poll and logged once per interval; its close is logged with the rest', () => {
  const { log, l4, net } = harness(2);
  log.apply([rec({ bytesAcked: 100, bytesReceived: 1000, segsOut: 2, segsIn: 3 })], 1.5e9, 1);
  log.apply([rec({ bytesAcked: 150, bytesReceived: 5000, segsOut: 3, segsIn: 7 })], 2.5e9, 2);
  assert.equal(l4.length, 0, 'not yet an interval');
  log.apply([rec({ bytesAcked: 200, bytesReceived: 9000, segsOut: 4, segsIn: 9 })], 3.5e9, 3);
  assert.equal(l4.length, 1);
  assert.equal(l4[0].close_type, 'still_open');
  assert.deepEqual(
    [l4[0].byte_tx, l4[0].byte_rx, l4[0].client_process, l4[0].server_process, l4[0].server_service],
    [200, 9000, 'curl', 'nginx', 'web']
  );
  log.apply(
    [rec({ bytesAcked: 260, bytesReceived: 9100, flags: FLOW_ESTABLISHED | FLOW_CLOSED, closedNs: 3.8e9 })],
    4e9,
    4
  );
  assert.equal(l4.length, 2);
  assert.deepEqual([l4[1].byte_tx, l4[1].byte_rx, l4[1].close_type, l4[1].end_time_us], [60, 100, 'normal', 3.8e6]);
  assert.equal(
    net.reduce((s, m) => s + m.byte_rx, 0),
    9100,
    'per-second metrics add up to the total'
  );
  assert.equal(
    net.reduce((s, m) => s + m.new_flow_count, 0),
    1
  );
  assert.equal(
    net.reduce((s, m) => s + m.closed_flow_count, 0),
    1
  );
});

test('a reused socket address: the closed flow and the new one in the same read stay apart', () => {
  const { log, l4, net } = harness();
  log.apply([rec({ bytesReceived: 500 })], 1.5e9, 1);
  const reopened = rec({ startNs: 2e9, bytesReceived: 70 });
  const closed = rec({ bytesReceived: 800, flags: FLOW_ESTABLISHED | FLOW_CLOSED, closedNs: 1.9e9 });
  log.apply([reopened, closed], 2.5e9, 2);
  assert.equal(l4.length, 1);
  assert.equal(l4[0].byte_rx, 800);
  assert.equal(
    net.reduce((s, m) => s + m.byte_rx, 0),
    870
  );
  assert.equal(
    net.reduce((s, m) => s + m.new_flow_count, 0),
    2
  );
  assert.equal(log.counters.lostFlows, 0);
});

test('close types and RST senders follow the side of the socket', () => {
  const { log, l4 } = harness();
  log.apply(
    [
      rec({ sockId: 1, flags: FLOW_CLOSED | FLOW_RST_RECEIVED, rstReceived: 1, establishedNs: 0 }), // refused connect
      rec({ sockId: 2, flags: FLOW_ESTABLISHED | FLOW_CLOSED | FLOW_RST_RECEIVED, rstReceived: 1 }), // client got a reset
      rec({
        sockId: 3,
        role: FlowRole.Server,
        localPort: 80,
        peerPort: 40001,
        flags: FLOW_ESTABLISHED | FLOW_CLOSED | FLOW_RST_RECEIVED,
        rstReceived: 1,
      }),
      rec({ sockId: 4, flags: FLOW_ESTABLISHED | FLOW_CLOSED, skErr: ETIMEDOUT }),
    ],
    2e9,
    2
  );
  assert.deepEqual(
    l4.map((r) => [r.observation_point, r.close_type, r.rst_sender, r.conn_failed]),
    [
      ['client_process', 'connect_failed', 'server', 1],
      ['client_process', 'reset_by_server', 'server', 0],
      ['server_process', 'reset_by_client', 'client', 0],
      ['client_process', 'timeout', '', 0],
    ]
  );
});

test('a flow opened before the agent: side from the ports, not counted as new', () => {
  const { log, net } = harness();
  log.apply(
    [
      rec({
        role: FlowRole.Unknown,
        flags: FLOW_ESTABLISHED | FLOW_PREEXISTING,
        localPort: 8080,
        peerPort: 51000,
        tgid: 0,
      }),
    ],
    2e9,
    2
  );
  assert.equal(net[0].observation_point, 'server_process');
  assert.equal(net[0].server_port, 8080);
  assert.equal(net[0].new_flow_count, 0);
});

test('net_metrics rows per poll are bounded: flows of further new ends (spoofed clients) count in one (other) row', () => {
  const net: NetMetricsRow[] = [];
  const log = new TcpFlowLog({
    host: 'h',
    native: {} as TcpFlowNative,
    namer: {
      socketPid: () => 0,
      peerPid: () => 0,
      comm: () => 'nginx',
      service: () => 'web',
      remoteService: (ip) => ip,
    },
    toWallUs: (ns) => Math.round(ns / 1000),
    intervalSec: 60,
    ignorePorts: [],
    sink: { l4: () => undefined, net: (r) => net.push(...r) },
  });
  const flows = Array.from({ length: 12_000 }, (_, i) =>
    rec({
      sockId: 1000 + i,
      role: FlowRole.Server,
      localPort: 80,
      peerPort: 40000,
      peerIp: `172.16.${i >> 8}.${i & 255}`,
      segsIn: 1,
      bytesReceived: 0,
    })
  );
  log.apply(flows, 2e9, 2);
  const other = net.filter((r) => r.client_service === '(other)');
  assert.equal(net.length, 10_001);
  assert.deepEqual(
    other.map((r) => [r.observation_point, r.server_service, r.server_port, r.new_flow_count, r.packet_tx]),
    [['server_process', '(other)', 0, 2000, 2000]]
  );
  assert.equal(
    net.reduce((n, r) => n + r.new_flow_count, 0),
    12_000,
    'every flow counted'
  );
  assert.equal(log.counters.netRowsOverflow, 2000);
  assert.deepEqual(log.stats(), { name: 'tcp flows', size: 12_000, max: 65536 + 16384, evicted: 0 });
});
