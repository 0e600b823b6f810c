// A spoofed-source UDP flood from a test namespace against a real dnsmasq, with the real agent:
// its tables stay within their bounds (evictions counted in the status line), its heap stays under
// the bound, and the DNS queries of a real client (dig) made during the flood are logged exactly at
// both ends. dnsmasq answers on one unconnected UDP socket, so every spoofed peer is a connection
// of the agent's: the growth path of the connection table. The flood is bounded in count and time
// and sent only to the bed's own addresses (its spoofed sources are unused addresses of the bed's
// subnet; dnsmasq's answers to them are dropped by the flooder).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Netbed } from './netbed/netbed';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, AgentHandle } from './helpers';

const DB = 'flowlens_e2e_hostile_flood';
const FLOOD = 150_000;
const FLOOD_PER_SEC = 6000;
const FLOOD_MAX_SEC = 30;
const REAL = 50;
/**
 * The agent's memory target. With its tables full the live heap is ~100 MB (~70 MiB of them the
 * connection table and closed-peer memo, bench/spoofedUdpHeap.ts) and V8 lets garbage reach about
 * as much again before a full collection; without the bounds this flood grew the live heap by
 * ~290 MB (200k spoofed queries: +389 MiB).
 */
const HEAP_BOUND_MB = 256;

/** Raw IPv4/UDP DNS queries with random source addresses (the bed's unused .100-.249) and ports. */
const SENDER = `
import random, socket, struct, sys, time
dst, n, rate, maxsec, subnet = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
qname = b''.join(bytes([len(p)]) + p for p in (b'flood', b'test')) + b'\\0' + struct.pack('!HH', 1, 1)
rnd = random.Random(12)
dst_b = socket.inet_aton(dst)
t0 = time.monotonic()
sent = 0
for i in range(n):
    src = socket.inet_aton('%s.%d' % (subnet, 100 + rnd.randrange(150)))
    payload = struct.pack('!HHHHHH', i & 0xffff, 0x0100, 1, 0, 0, 0) + qname
    udp = struct.pack('!HHHH', 1024 + rnd.randrange(64000), 53, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst_b)
    s.sendto(ip + udp, (dst, 0))
    sent += 1
    if i % 200 == 0:
        elapsed = time.monotonic() - t0
        if elapsed > maxsec:
            break
        ahead = i / rate - elapsed
        if ahead > 0:
            time.sleep(ahead)
print(sent, round(time.monotonic() - t0, 1))
`;

let bed: Netbed;
let agent: AgentHandle;
let sent = 0;
let floodSec = 0;
let digAnswers: string[] = [];
let output = '';

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  bed = Netbed.create(['client', 'flooder', 'server']);
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-flood-'));
  writeFileSync(join(dir, 'flood.py'), SENDER);
  bed.spawn('server', [
    'dnsmasq',
    '-k',
    '--conf-file=/dev/null',
    '--port=53',
    `--listen-address=${bed.ip('server')}`,
    '--bind-interfaces',
    '--no-resolv',
    '--no-hosts',
    '--local=/test/',
    '--address=/real.test/10.1.2.3',
    '--address=/flood.test/10.1.2.4',
    '-u',
    'root',
    `--pid-file=${dir}/pid`,
    '--log-facility=/dev/null',
  ]);
  await bed.waitForListen('server', 53);
  // the spoofed sources resolve to the flooder's interface, which drops dnsmasq's answers: left
  // unresolved, every answer would wait for ARP and fill dnsmasq's send buffer, stalling it
  const mac = bed.exec('flooder', ['cat', '/sys/class/net/eth0/address']).stdout.trim();
  const neighbors = Array.from(
    { length: 150 },
    (_, i) => `neigh replace ${bed.subnet}.${100 + i} lladdr ${mac} dev eth0 nud permanent\n`
  ).join('');
  bed.exec('server', ['ip', '-batch', '-'], { input: neighbors });
  agent = await startAgent({ database: DB, statusIntervalMs: 1000, network: { capture: { enabled: false } } });
  const flood = bed.execAsync(
    'flooder',
    [
      'python3',
      join(dir, 'flood.py'),
      bed.ip('server'),
      String(FLOOD),
      String(FLOOD_PER_SEC),
      String(FLOOD_MAX_SEC),
      bed.subnet,
    ],
    (FLOOD_MAX_SEC + 20) * 1000
  );
  // the real client, one query every ~0.4 s while the flood runs
  const digs = (async () => {
    await new Promise((r) => setTimeout(r, 2000));
    for (let i = 0; i < REAL; i++) {
      const r = await bed.execAsync(
        'client',
        ['dig', `@${bed.ip('server')}`, 'real.test', 'A', '+tries=1', '+time=5', '+noall', '+comments'],
        10000
      );
      digAnswers.push(
        /status: (\w+)/.exec(r.stdout)?.[1] ??
          (/timed out/.test(r.stdout) ? 'timed out' : `no answer: ${r.stdout}${r.stderr}`)
      );
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  const [f] = await Promise.all([flood, digs]);
  assert.equal(f.status, 0, f.stderr);
  [sent, floodSec] = f.stdout.trim().split(' ').map(Number);
  assert.equal(await agent.stop(), 0, agent.output());
  output = agent.output();
});

after(() => {
  agent?.proc.kill('SIGKILL');
  bed?.destroy();
});

const answered = () => digAnswers.filter((a) => a === 'NOERROR').length;

/** Every status line's figures (the periodic ones and the closing one). */
function statusLines(): Array<{
  heapMb: number;
  buffersMb: number;
  rssMb: number;
  ringDrops: number;
  conns: [number, number, number];
}> {
  return output
    .split('\n')
    .filter((l) => l.includes('tables (entries/bound evicted)'))
    .map((l) => ({
      heapMb: Number(/heap (\d+) MB/.exec(l)![1]),
      buffersMb: Number(/buffers (\d+) MB/.exec(l)![1]),
      rssMb: Number(/rss (\d+) MB/.exec(l)![1]),
      ringDrops: Number(/kernel ring (\d+)/.exec(l)![1]),
      conns: /[:,] connections (\d+)\/(\d+) (\d+)/.exec(l)!.slice(1).map(Number) as [number, number, number],
    }));
}

test('the flood ran, bounded, and dig got answers meanwhile', () => {
  assert.ok(sent >= FLOOD * 0.5, `only ${sent} spoofed queries sent in ${floodSec} s`);
  // a query the server's kernel dropped (dnsmasq's socket full while it waited for a CPU) is not
  // the agent's to see at the server; each one is asserted below as what it was
  assert.ok(answered() >= REAL - 5, digAnswers.join('\n'));
  assert.deepEqual(
    digAnswers.filter((a) => a !== 'NOERROR'),
    new Array(REAL - answered()).fill('timed out')
  );
});

test('the connection table held its bound and counted its evictions; the heap stayed under its bound', () => {
  const lines = statusLines();
  assert.ok(lines.length >= 5, output);
  const last = lines[lines.length - 1];
  const [, bound, evicted] = last.conns;
  assert.equal(bound, 32768);
  assert.ok(
    lines.every((l) => l.conns[0] <= bound),
    lines.map((l) => l.conns.join('/')).join(' ')
  );
  assert.ok(evicted > 0, `no eviction: ${last.conns}`);
  const peakHeap = Math.max(...lines.map((l) => l.heapMb));
  assert.ok(peakHeap < HEAP_BOUND_MB, `heap peaked at ${peakHeap} MB: ${lines.map((l) => l.heapMb).join(' ')}`);
  // the figures for the report
  process.stdout.write(
    `# flood: ${sent} spoofed queries in ${floodSec} s; peak heap ${peakHeap} MB, peak rss ${Math.max(...lines.map((l) => l.rssMb))} MB (export queue buffers up to ${Math.max(...lines.map((l) => l.buffersMb))} MB); ` +
      `connections evicted ${evicted}; kernel ring drops ${last.ringDrops}\n`
  );
});

test('the agent saw the flood: a connection and a request log per spoofed peer it read', async () => {
  const [r] = await chQuery<{ n: string; peers: string }>(
    `SELECT count() AS n, uniqExact(client_ip, client_port) AS peers FROM ${DB}.l7_flow_log
     WHERE observation_point = 'server_process' AND l7_protocol = 'DNS' AND request_resource = 'flood.test'`
  );
  const last = statusLines().pop()!;
  // what the kernel ring dropped under the burst is counted; the rest is logged
  assert.ok(Number(r.n) >= sent * 0.5, `${r.n} flood rows of ${sent} sent (ring drops ${last.ringDrops})`);
  assert.ok(Number(r.peers) > last.conns[1], `${r.peers} distinct peers: more than the table holds`);
});

test('the real queries made during the flood are logged exactly at both ends (and an unanswered one as such at the client)', async () => {
  const rows = await chQuery<{ op: string; procs: string; status: string; n: string }>(
    `SELECT observation_point AS op, concat(client_process, '->', server_process) AS procs, response_status AS status, count() AS n FROM ${DB}.l7_flow_log
     WHERE l7_protocol = 'DNS' AND request_resource = 'real.test' GROUP BY op, procs, status ORDER BY op`
  );
  const lost = REAL - answered();
  assert.deepEqual(
    rows.map((r) => [r.op, r.procs, r.status, Number(r.n)]),
    [
      ['client_process', 'dig->dnsmasq', 'ok', answered()],
      ...(lost ? [['client_process', 'dig->', 'server_error', lost]] : []),
      ['server_process', 'dig->dnsmasq', 'ok', answered()],
    ]
  );
});
