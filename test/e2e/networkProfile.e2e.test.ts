// Packet capture end to end in the namespace test bed: a client host, a gateway host running a
// real proxy (toxiproxy) that adds 50 ms, and a server host running a Node HTTP server. The agent
// captures the client's and the server's eth0 (inside their namespaces) and traces the processes.
// Asserted: the 50 ms of the proxy hop between the client-side and the server-side spans while the
// server's own response latency stays small; NIC rows linked to process rows by TCP sequence
// numbers; a slow server and a waiting client in the Network Profile; no capture drops; a stream
// of malformed packets skipped, counted exactly, with the agent still working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Netbed } from './netbed/netbed';
import { keepAliveClient } from './netbed/clients';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, AgentHandle } from './helpers';

const DB = 'flowlens_e2e_netprofile';
const PORT = 8080;
const PROXY_MS = 50;
const SLOW_MS = 300;
const WAIT_MS = 400;
const MALFORMED_ROUNDS = 20;
const MALFORMED_KINDS = 5;

const SERVER = `
const http = require('http');
http.createServer((req, res) => {
  const send = () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok\\n'); };
  if (req.url.startsWith('/slow')) setTimeout(send, ${SLOW_MS}); else send();
}).listen(${PORT}, process.argv[1]);
`;

// one keep-alive connection, three requests, the client pausing between them
const WAITING_CLIENT = keepAliveClient(PORT, WAIT_MS, '/wait');

// Raw IPv4 frames sent with an AF_PACKET socket on junk0, one end of a veth pair inside the client
// host (junk1, the other end, is not captured): a bridge with br_netfilter would drop some of them
// on the way to another host, which would make the count depend on the machine. Each is malformed in its
// own way yet passes the capture filter (version 4, TCP/UDP, first fragment), so the agent's
// decoder must skip and count it.
const MALFORMED_SENDER = `
import socket, struct, sys
mac = bytes.fromhex(sys.argv[1].replace(':', ''))
src, dst, rounds = socket.inet_aton(sys.argv[2]), socket.inet_aton(sys.argv[3]), int(sys.argv[4])
ifname = sys.argv[5]
def ip4(proto, l4, ihl=5, total=None):
    return struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, total if total is not None else 20 + len(l4), 0, 0x4000, 64, proto, 0, src, dst) + l4
def tcp(doff, payload=b''):
    return struct.pack('!HHIIBBHHH', 40000, ${PORT}, 1, 0, doff << 4, 0x18, 512, 0, 0) + payload
frames = [
    ip4(6, tcp(3)),                                  # TCP data offset below its minimum
    ip4(6, tcp(15)),                                 # TCP options past the end of the packet
    ip4(6, tcp(5, b'x' * 10), total=30),             # IP total length shorter than the headers
    ip4(17, struct.pack('!HHHH', 40000, 53, 4, 0)),  # UDP length below its header
    ip4(6, tcp(5), ihl=4),                           # IP header length below its minimum
]
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
for _ in range(rounds):
    for f in frames:
        s.sendto(f, (ifname, 0x0800, 0, 0, mac))
print(len(frames) * rounds)
`;

interface L7 {
  observation_point: string;
  signal_source: string;
  request_resource: string;
  response_code: number;
  response_duration_us: string;
  tcp_seq_request: number;
  tcp_seq_response: number;
  client_ip: string;
  server_ip: string;
  client_process: string;
  server_process: string;
}

interface Timeline {
  netns: string;
  observation_point: string;
  client_ip: string;
  server_ip: string;
  client_port: number;
  conn_latency_us: number;
  ack_latency_us: number;
  server_response_us: number;
  server_response_count: number;
  client_wait_us: number;
  client_wait_count: number;
  packet_count: number;
  n_events: string;
}

let bed: Netbed;
let agent: AgentHandle | undefined;
let agentOutput = '';
let agentExit = -1;
let l7: L7[] = [];
let timelines: Timeline[] = [];
let malformedSent = 0;
let aliveAfterMalformed = false;

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20000): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function curlIn(path: string, host: string): Promise<void> {
  const r = await bed.execAsync('client', [
    'curl',
    '-s',
    '-o',
    '/dev/null',
    '--max-time',
    '10',
    '-w',
    '%{http_code}',
    `http://${bed.ip(host)}:${PORT}${path}`,
  ]);
  assert.equal(r.stdout, '200', `curl ${path} via ${host}: ${r.stdout} ${r.stderr}`);
}

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  bed = Netbed.create(['client', 'gw', 'server']);
  bed.spawn('server', [process.execPath, '-e', SERVER, bed.ip('server')]);
  await bed.waitForListen('server', PORT);
  bed.exec('client', ['ip', 'link', 'add', 'junk0', 'type', 'veth', 'peer', 'name', 'junk1']);
  bed.exec('client', ['ip', 'link', 'set', 'junk0', 'up']);
  bed.exec('client', ['ip', 'link', 'set', 'junk1', 'up']);
  await bed.startProxy('gw', { listenPort: PORT, upstream: `${bed.ip('server')}:${PORT}`, latencyMs: PROXY_MS });
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [{ name: 'backend', port: PORT }],
    network: {
      capture: {
        netns: [bed.host('client').ns, bed.host('server').ns],
        hostNamespace: false,
        interfaces: ['eth0', 'junk0'],
      },
    },
  });
  assert.match(
    agent.output(),
    new RegExp(
      `packet capture on ${bed.host('client').ns}/eth0, ${bed.host('client').ns}/junk0, ${bed.host('server').ns}/eth0`
    )
  );

  for (let n = 1; n <= 5; n++) {
    await curlIn(`/fast?n=${n}`, 'gw');
  }
  for (let n = 1; n <= 3; n++) {
    await curlIn(`/slow?n=${n}`, 'server');
  }
  const waiting = await bed.execAsync('client', [process.execPath, '-e', WAITING_CLIENT, bed.ip('server')]);
  assert.equal(waiting.status, 0, waiting.stderr);

  const mac = bed.exec('server', ['cat', '/sys/class/net/eth0/address']).stdout.trim();
  const sent = await bed.execAsync('client', [
    'python3',
    '-c',
    MALFORMED_SENDER,
    mac,
    bed.ip('client'),
    bed.ip('server'),
    String(MALFORMED_ROUNDS),
    'junk0',
  ]);
  assert.equal(sent.status, 0, sent.stderr);
  malformedSent = Number(sent.stdout.trim());
  // the agent goes on working after the malformed stream
  await curlIn('/after-malformed', 'server');
  aliveAfterMalformed = agent.proc.exitCode === null;

  const expectedNic = (5 + 3 + 3 + 1) * 2;
  await waitFor(`${expectedNic} NIC request logs`, async () => {
    const [{ n }] = await chQuery<{ n: string }>(
      `SELECT count() AS n FROM ${DB}.l7_flow_log WHERE signal_source = 'packet'`
    );
    return Number(n) >= expectedNic;
  });
  // 5 flows per side through the proxy, 3 slow, 1 keep-alive, 1 after the malformed stream
  await waitFor('20 tcp_timeline rows', async () => {
    const [{ n }] = await chQuery<{ n: string }>(`SELECT count() AS n FROM ${DB}.tcp_timeline`);
    return Number(n) >= 20;
  });
  agentExit = await agent.stop();
  agentOutput = agent.output();
  agent = undefined;
  l7 = await chQuery<L7>(
    `SELECT observation_point, signal_source, request_resource, response_code, response_duration_us, tcp_seq_request, tcp_seq_response,
            client_ip, server_ip, client_process, server_process
     FROM ${DB}.l7_flow_log WHERE server_port = ${PORT}`
  );
  timelines = await chQuery<Timeline>(
    `SELECT netns, observation_point, client_ip, server_ip, client_port, conn_latency_us, ack_latency_us, server_response_us, server_response_count,
            client_wait_us, client_wait_count, packet_count, length(event_time_us) AS n_events
     FROM ${DB}.tcp_timeline WHERE server_port = ${PORT}`
  );
});

after(async () => {
  if (agent) {
    await agent.stop();
  }
  bed?.destroy();
});

function one(rows: L7[], where: (r: L7) => boolean, what: string): L7 {
  const m = rows.filter(where);
  assert.equal(
    m.length,
    1,
    `${what}: ${m.length} rows\n${JSON.stringify(
      rows.filter((r) => r.request_resource === rows.find(where)?.request_resource),
      null,
      1
    )}`
  );
  return m[0];
}

test('the proxy hop adds ≈50 ms between client-side and server-side spans, at the NICs and in the processes', (t) => {
  const gw = bed.ip('gw');
  const gaps: string[] = [];
  for (let n = 1; n <= 5; n++) {
    const path = `/fast?n=${n}`;
    const cn = one(
      l7,
      (r) => r.observation_point === 'client_nic' && r.request_resource === path && r.server_ip === gw,
      `client_nic ${path}`
    );
    const sn = one(
      l7,
      (r) => r.observation_point === 'server_nic' && r.request_resource === path && r.client_ip === gw,
      `server_nic ${path}`
    );
    const cp = one(
      l7,
      (r) => r.observation_point === 'client_process' && r.request_resource === path && r.client_process === 'curl',
      `client_process ${path}`
    );
    const sp = one(
      l7,
      (r) => r.observation_point === 'server_process' && r.request_resource === path && r.server_process === 'node',
      `server_process ${path}`
    );
    for (const r of [cn, sn, cp, sp]) {
      assert.equal(r.response_code, 200);
    }
    const nicGapMs = (Number(cn.response_duration_us) - Number(sn.response_duration_us)) / 1000;
    const procGapMs = (Number(cp.response_duration_us) - Number(sp.response_duration_us)) / 1000;
    gaps.push(`${nicGapMs.toFixed(1)}/${procGapMs.toFixed(1)}`);
    assert.ok(
      nicGapMs >= PROXY_MS - 5 && nicGapMs < PROXY_MS + 100,
      `${path}: client NIC - server NIC = ${nicGapMs} ms`
    );
    assert.ok(
      procGapMs >= PROXY_MS - 5 && procGapMs < PROXY_MS + 100,
      `${path}: client process - server process = ${procGapMs} ms`
    );
    // NIC rows and process rows of the same connection share the TCP sequence numbers
    assert.deepEqual(
      [cn.tcp_seq_request, cn.tcp_seq_response],
      [cp.tcp_seq_request, cp.tcp_seq_response],
      `${path}: client NIC vs process seq`
    );
    assert.deepEqual(
      [sn.tcp_seq_request, sn.tcp_seq_response],
      [sp.tcp_seq_request, sp.tcp_seq_response],
      `${path}: server NIC vs process seq`
    );
    assert.notEqual(cn.tcp_seq_request, 0);
  }
  t.diagnostic(`client - server span duration, NIC/process (ms): ${gaps.join(', ')}`);
  // Network Profile: the server answers at once; the client side waits for the proxy
  const serverSide = timelines.filter((t) => t.observation_point === 'server_nic' && t.client_ip === gw);
  const clientSide = timelines.filter((t) => t.observation_point === 'client_nic' && t.server_ip === gw);
  assert.equal(serverSide.length, 5);
  assert.equal(clientSide.length, 5);
  t.diagnostic(
    `server response latency at the server NIC (µs): ${serverSide.map((x) => x.server_response_us).join(', ')}; at the client NIC: ${clientSide.map((x) => x.server_response_us).join(', ')}`
  );
  for (const t of serverSide) {
    assert.equal(t.netns, bed.host('server').ns);
    assert.equal(t.server_response_count, 1);
    assert.ok(t.server_response_us < (PROXY_MS - 5) * 1000, `server NIC: server response ${t.server_response_us} µs`);
    assert.ok(t.conn_latency_us > 0 && t.conn_latency_us < 50_000, `server NIC: connection ${t.conn_latency_us} µs`);
    assert.equal(Number(t.n_events), t.packet_count);
  }
  const sorted = serverSide.map((x) => x.server_response_us).sort((a, b) => a - b);
  assert.ok(sorted[2] < 20_000, `server NIC: median server response ${sorted[2]} µs`);
  for (const t of clientSide) {
    assert.ok(
      t.server_response_us >= (PROXY_MS - 5) * 1000 && t.server_response_us < (PROXY_MS + 100) * 1000,
      `client NIC: server response ${t.server_response_us} µs`
    );
  }
});

test('a slow server shows a large server response latency at both NICs', (t) => {
  const server = bed.ip('server');
  for (let n = 1; n <= 3; n++) {
    const nic = one(
      l7,
      (r) => r.observation_point === 'server_nic' && r.request_resource === `/slow?n=${n}`,
      `server_nic /slow?n=${n}`
    );
    assert.ok(
      Number(nic.response_duration_us) >= (SLOW_MS - 5) * 1000,
      `slow request took ${nic.response_duration_us} µs at the server NIC`
    );
  }
  const slow = timelines.filter((t) => t.server_ip === server && t.server_response_us >= (SLOW_MS - 5) * 1000);
  assert.deepEqual(slow.map((t) => t.observation_point).sort(), [
    'client_nic',
    'client_nic',
    'client_nic',
    'server_nic',
    'server_nic',
    'server_nic',
  ]);
  t.diagnostic(
    `server response latency of /slow (µs): ${slow.map((x) => `${x.observation_point} ${x.server_response_us}`).join(', ')}`
  );
  for (const x of slow) {
    assert.ok(x.server_response_us < (SLOW_MS + 200) * 1000, `server response ${x.server_response_us} µs`);
    assert.equal(x.client_wait_count, 0);
  }
});

test('a client that waits between requests shows a large client wait latency', (t) => {
  const server = bed.ip('server');
  const keepAlive = timelines.filter((t) => t.server_ip === server && t.server_response_count === 3);
  assert.deepEqual(keepAlive.map((t) => t.observation_point).sort(), ['client_nic', 'server_nic']);
  t.diagnostic(
    `keep-alive flow: ${keepAlive.map((x) => `${x.observation_point} client wait ${x.client_wait_us} µs x${x.client_wait_count}, server response ${x.server_response_us} µs x${x.server_response_count}`).join('; ')}`
  );
  for (const x of keepAlive) {
    assert.equal(x.client_wait_count, 2, `${x.observation_point}: client waits`);
    assert.ok(
      x.client_wait_us >= (WAIT_MS - 10) * 1000 && x.client_wait_us < (WAIT_MS + 200) * 1000,
      `${x.observation_point}: client wait ${x.client_wait_us} µs`
    );
    assert.ok(x.server_response_us < 100_000, `${x.observation_point}: server response ${x.server_response_us} µs`);
  }
  const waits = l7.filter((r) => r.request_resource.startsWith('/wait') && r.signal_source === 'packet');
  assert.equal(waits.length, 6, 'three requests at each NIC');
});

test('capture drops are exported and zero at this load; malformed packets are skipped and counted exactly', (t) => {
  assert.equal(agentExit, 0, agentOutput);
  assert.ok(aliveAfterMalformed, 'the agent died during the malformed stream');
  assert.equal(malformedSent, MALFORMED_ROUNDS * MALFORMED_KINDS);
  one(
    l7,
    (r) => r.observation_point === 'client_nic' && r.request_resource === '/after-malformed',
    'a request after the malformed stream'
  );
  const m =
    /packets (\d+) on (\d+) interfaces.*capture drops: kernel (\d+), ring freezes (\d+), user space (\d+), malformed packets (\d+)/.exec(
      agentOutput
        .split('\n')
        .filter((l) => l.includes('stopped.'))
        .join('')
    );
  assert.ok(m, `no capture figures in the closing line:\n${agentOutput}`);
  const [packets, interfaces, kernel, freezes, user, malformed] = m.slice(1).map(Number);
  t.diagnostic(
    `packets ${packets} on ${interfaces} interfaces; drops: kernel ${kernel}, freezes ${freezes}, user space ${user}; malformed ${malformed} of ${malformedSent} sent`
  );
  assert.equal(interfaces, 3);
  assert.ok(packets > 100, `${packets} packets captured`);
  assert.deepEqual({ kernel, freezes, user }, { kernel: 0, freezes: 0, user: 0 });
  assert.equal(malformed, malformedSent);
});
