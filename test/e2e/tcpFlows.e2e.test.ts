// L4 flow logs and net_metrics from TCP tracepoints, on the namespace test bed: a clean transfer
// with exact byte counts and sane SYN/RTT figures, 5% loss that must show retransmissions on that
// flow only, and nftables resets that must show failed connects and the side that sent the RST.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Netbed } from './netbed/netbed';
import { SLOW_READER } from './netbed/clients';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, AgentHandle } from './helpers';

const DB = 'flowlens_e2e_tcp_flows';
const CLEAN_PORT = 8081;
const LOSSY_PORT = 8082;
const REFUSED_PORT = 8083; // a reset answers the SYN
const RESET_PORT = 8084; // connects, then the first data segment is answered by a reset
const SLOW_READER_PORT = 8085; // a client with a small receive buffer that stops reading for a while
const BIG = 1_000_000;
const REFUSED_ATTEMPTS = 3;

interface L4Row {
  observation_point: string;
  server_port: number;
  client_process: string;
  server_process: string;
  byte_tx: string;
  byte_rx: string;
  packet_tx: string;
  packet_rx: string;
  rtt_us: number;
  zero_window_count: number;
  syn_latency_us: number;
  retrans_count: number;
  rst_count: number;
  rst_sender: string;
  conn_failed: number;
  close_type: string;
}

let bed: Netbed;
let agent: AgentHandle;
let rows: L4Row[] = [];
const curlExit: Record<number, number[]> = {};
let kernelRetrans = 0;

/** TcpRetransSegs of the server's namespace, as the kernel counts it */
function retransSegs(): number {
  const m = /TcpRetransSegs\s+(\d+)/.exec(bed.exec('server', ['nstat', '-az', 'TcpRetransSegs']).stdout);
  assert.ok(m, 'nstat printed no TcpRetransSegs');
  return Number(m[1]);
}

function curlIn(port: number, path = '/big'): number {
  const r = bed.exec(
    'client',
    ['curl', '-s', '-o', '/dev/null', '--max-time', '30', `http://${bed.ip('server')}:${port}${path}`],
    { check: false }
  );
  (curlExit[port] ??= []).push(r.status);
  return r.status;
}

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  bed = Netbed.create(['client', 'server']);
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-flows-'));
  writeFileSync(join(dir, 'big'), Buffer.alloc(BIG, 'x'));
  for (const port of [CLEAN_PORT, LOSSY_PORT, RESET_PORT, SLOW_READER_PORT]) {
    bed.spawn('server', ['python3', '-m', 'http.server', String(port), '--bind', bed.ip('server'), '--directory', dir]);
    await bed.waitForListen('server', port);
  }
  // no tail-loss probes: on a loaded machine a late ACK would make a clean flow "retransmit"
  bed.exec('server', ['sysctl', '-q', '-w', 'net.ipv4.tcp_early_retrans=0']);
  bed.addLoss('client', 5, { sport: LOSSY_PORT });
  bed.addReset('server', { port: REFUSED_PORT, on: 'syn' });
  bed.addReset('server', { port: RESET_PORT, on: 'data' });
  agent = await startAgent({ database: DB, flushIntervalMs: 200, statusIntervalMs: 0, flowLogIntervalSec: 60 });
  const retransBefore = retransSegs();
  for (let i = 0; i < 3; i++) {
    curlIn(CLEAN_PORT);
  }
  // receiver-side loss of what the server sends from the lossy port: the server retransmits. One
  // MSS per skb (no GSO), so 5% of ~700 segments per transfer are lost, not 5% of a few dozen
  bed.exec('server', ['ip', 'link', 'set', 'eth0', 'gso_max_segs', '1']);
  for (let i = 0; i < 3; i++) {
    curlIn(LOSSY_PORT);
  }
  for (let i = 0; i < REFUSED_ATTEMPTS; i++) {
    curlIn(REFUSED_PORT, '/');
  }
  curlIn(RESET_PORT, '/');
  // a reader that stops: its small receive buffer fills and it advertises a zero window
  const slow = bed.exec('client', ['python3', '-c', SLOW_READER, bed.ip('server'), String(SLOW_READER_PORT)], {
    check: false,
  });
  assert.equal(slow.stdout.trim(), String(BIG + 0), `slow reader: ${slow.stderr}`);
  kernelRetrans = retransSegs() - retransBefore;
  await new Promise((r) => setTimeout(r, 600)); // the last closes reach the table and one poll
  assert.equal(await agent.stop(), 0, agent.output());
  rows = await chQuery<L4Row>(`SELECT * FROM ${DB}.l4_flow_log ORDER BY server_port, observation_point, start_time_us`);
});

after(() => {
  agent?.proc.kill('SIGKILL');
  bed?.destroy();
});

const at = (port: number, op: string) => rows.filter((r) => r.server_port === port && r.observation_point === op);

test('the clients did what the test bed allows', () => {
  assert.deepEqual(curlExit[CLEAN_PORT], [0, 0, 0]);
  assert.deepEqual(curlExit[LOSSY_PORT], [0, 0, 0], 'TCP recovers 5% loss');
  assert.deepEqual(curlExit[REFUSED_PORT], Array(REFUSED_ATTEMPTS).fill(7), 'curl: could not connect');
  assert.notEqual(curlExit[RESET_PORT][0], 0);
});

test('a clean transfer: one row per flow at each end, exact bytes, sane SYN latency and RTT, no loss', () => {
  for (const op of ['client_process', 'server_process']) {
    const flows = at(CLEAN_PORT, op);
    assert.equal(flows.length, 3, `${op}: one closing row per connection`);
    for (const f of flows) {
      assert.equal(f.client_process, 'curl');
      assert.equal(f.server_process, 'python3');
      // the body plus python's response headers (~150 B) went server → client
      assert.ok(Number(f.byte_rx) >= BIG && Number(f.byte_rx) < BIG + 1000, `${op} byte_rx ${f.byte_rx}`);
      // one GET request went client → server
      assert.ok(Number(f.byte_tx) > 50 && Number(f.byte_tx) < 500, `${op} byte_tx ${f.byte_tx}`);
      assert.ok(Number(f.packet_rx) > 10 && Number(f.packet_tx) > 2, `${op} packets ${f.packet_tx}/${f.packet_rx}`);
      assert.ok(f.syn_latency_us > 0 && f.syn_latency_us < 200_000, `${op} syn_latency_us ${f.syn_latency_us}`);
      assert.ok(f.rtt_us > 0 && f.rtt_us < 200_000, `${op} rtt_us ${f.rtt_us}`);
      assert.equal(f.retrans_count, 0);
      assert.equal(f.zero_window_count, 0);
      assert.equal(f.rst_count, 0);
      assert.equal(f.close_type, 'normal');
      assert.equal(f.conn_failed, 0);
    }
  }
});

test('5% loss: the lossy flows retransmit, at the server that sent the lost segments', () => {
  const server = at(LOSSY_PORT, 'server_process');
  assert.equal(server.length, 3);
  const retrans = server.reduce((s, r) => s + r.retrans_count, 0);
  // ~700 data segments per transfer at 5% loss: each transfer loses some
  for (const r of server) {
    assert.ok(r.retrans_count > 0, `retrans_count ${r.retrans_count} on a lossy flow`);
    assert.ok(Number(r.byte_rx) >= BIG, 'the transfer completed');
  }
  // the same figure the kernel's own counter gives for the server's namespace (only these flows lose)
  assert.ok(kernelRetrans > 0);
  assert.ok(
    Math.abs(retrans - kernelRetrans) <= Math.max(2, kernelRetrans * 0.1),
    `flow logs ${retrans} vs TcpRetransSegs ${kernelRetrans}`
  );
});

test('resets: a refused connect is a failed connection with the RST from the server; a reset mid-flow is reset_by_server', () => {
  const refused = at(REFUSED_PORT, 'client_process');
  assert.equal(refused.length, REFUSED_ATTEMPTS);
  for (const r of refused) {
    assert.equal(r.conn_failed, 1);
    assert.equal(r.close_type, 'connect_failed');
    assert.equal(r.rst_sender, 'server');
    assert.ok(r.rst_count >= 1);
    assert.equal(r.client_process, 'curl');
    assert.equal(r.zero_window_count, 0, 'a connect that failed never had a window to close');
  }
  assert.equal(at(REFUSED_PORT, 'server_process').length, 0, 'no server socket was ever created');
  const reset = at(RESET_PORT, 'client_process');
  assert.equal(reset.length, 1);
  assert.equal(reset[0].conn_failed, 0);
  assert.equal(reset[0].close_type, 'reset_by_server');
  assert.equal(reset[0].rst_sender, 'server');
  assert.equal(reset[0].zero_window_count, 0);
});

test('net_metrics per second add up to the flow logs', async () => {
  const m = await chQuery<{
    server_port: number;
    observation_point: string;
    new_flows: string;
    closed: string;
    failed: string;
    retrans: string;
    bytes_rx: string;
  }>(
    `SELECT server_port, observation_point, sum(new_flow_count) AS new_flows, sum(closed_flow_count) AS closed, sum(conn_failed_count) AS failed,
            sum(retrans_count) AS retrans, sum(byte_rx) AS bytes_rx
     FROM ${DB}.net_metrics WHERE observation_point = 'client_process' OR server_port = ${LOSSY_PORT} GROUP BY server_port, observation_point ORDER BY server_port, observation_point`
  );
  const get = (port: number, op: string) => m.find((r) => r.server_port === port && r.observation_point === op);
  const clean = get(CLEAN_PORT, 'client_process')!;
  assert.equal(Number(clean.new_flows), 3);
  assert.equal(Number(clean.closed), 3);
  assert.equal(
    Number(clean.bytes_rx),
    at(CLEAN_PORT, 'client_process').reduce((s, r) => s + Number(r.byte_rx), 0)
  );
  assert.equal(Number(get(REFUSED_PORT, 'client_process')!.failed), REFUSED_ATTEMPTS);
  assert.equal(
    Number(get(LOSSY_PORT, 'server_process')!.retrans),
    at(LOSSY_PORT, 'server_process').reduce((s, r) => s + r.retrans_count, 0)
  );
});

test('a reader that stops: the sender sees its zero window', () => {
  const server = at(SLOW_READER_PORT, 'server_process');
  assert.equal(server.length, 1);
  assert.ok(server[0].zero_window_count >= 1, `zero_window_count ${server[0].zero_window_count}`);
  assert.equal(server[0].close_type, 'normal');
  assert.equal(server[0].client_process, 'python3');
});
