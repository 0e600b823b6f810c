// The namespace test bed itself: hosts reach each other, each fault really drops, resets, shapes
// or delays, and teardown leaves nothing behind (also after a crashed run).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { Netbed, cleanStaleNetbeds } from './netbed/netbed';
import { assertRoot } from './helpers';

const PORT = 8080;
const BIG = 400_000; // bytes of /big
let bed: Netbed;

/** curl inside `host`; returns curl's exit code, HTTP code and total seconds */
function curlIn(host: string, url: string, extra: string[] = []): { exit: number; code: number; seconds: number } {
  const r = bed.exec(
    host,
    ['curl', '-s', '-o', '/dev/null', '--max-time', '20', '-w', '%{http_code} %{time_total}', ...extra, url],
    { check: false }
  );
  const [code, secs] = r.stdout.trim().split(' ');
  return { exit: r.status, code: Number(code), seconds: Number(secs) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** TcpRetransSegs of a host's namespace (absolute) */
function retransSegs(host: string): number {
  const out = bed.exec(host, ['nstat', '-az', 'TcpRetransSegs']).stdout;
  const m = /TcpRetransSegs\s+(\d+)/.exec(out);
  assert.ok(m, `nstat printed no TcpRetransSegs: ${out}`);
  return Number(m[1]);
}

before(async () => {
  assertRoot();
  bed = Netbed.create(['client', 'gw', 'server']);
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-netbed-'));
  writeFileSync(join(dir, 'small'), 'hello\n');
  writeFileSync(join(dir, 'big'), Buffer.alloc(BIG, 'x'));
  bed.spawn('server', ['python3', '-m', 'http.server', String(PORT), '--bind', bed.ip('server'), '--directory', dir]);
  await bed.waitForListen('server', PORT);
});

after(() => bed?.destroy());

test('hosts have distinct addresses on one subnet and reach each other (ping and HTTP)', () => {
  const ips = Object.values(bed.hosts).map((h) => h.ip);
  assert.equal(new Set(ips).size, 3);
  for (const ip of ips) {
    assert.ok(ip.startsWith(`${bed.subnet}.`), ip);
  }
  const ping = bed.exec('client', ['ping', '-c', '2', '-i', '0.2', '-W', '2', bed.ip('server')], { check: false });
  assert.equal(ping.status, 0, ping.stdout + ping.stderr);
  assert.match(ping.stdout, /2 received/);
  const r = curlIn('client', `http://${bed.ip('server')}:${PORT}/small`);
  assert.deepEqual([r.exit, r.code], [0, 200]);
  // the root namespace has no address on the bed: its subnet is reachable only from inside
  const fromRoot = spawnSync('ip', ['route', 'get', bed.ip('server')], { encoding: 'utf8' });
  assert.doesNotMatch(fromRoot.stdout, new RegExp(`dev ${bed.bridge}\\b`));
});

test('the proxy hop adds its latency (toxiproxy, 50 ms on the request stream)', async () => {
  const proxy = await bed.startProxy('gw', {
    listenPort: PORT,
    upstream: `${bed.ip('server')}:${PORT}`,
    latencyMs: 50,
  });
  const direct: number[] = [];
  const proxied: number[] = [];
  for (let i = 0; i < 5; i++) {
    direct.push(curlIn('client', `http://${bed.ip('server')}:${PORT}/small`).seconds);
    const r = curlIn('client', `http://${proxy.listen}/small`);
    assert.equal(r.code, 200);
    proxied.push(r.seconds);
  }
  const addedMs = (median(proxied) - median(direct)) * 1000;
  // the latency toxic delays the request bytes once: ≈50 ms (a loaded machine adds, never removes)
  assert.ok(
    addedMs >= 45 && addedMs < 250,
    `proxy added ${addedMs.toFixed(1)} ms (direct ${direct}, proxied ${proxied})`
  );
  proxy.setLatency(0);
  const fast = median([0, 1, 2].map(() => curlIn('client', `http://${proxy.listen}/small`).seconds)) * 1000;
  assert.ok(fast < 40, `without the toxic the proxy took ${fast} ms`);
});

test('random loss at the receiver makes the sender retransmit; a clean path retransmits nothing', () => {
  const clean0 = retransSegs('server');
  const ok = curlIn('client', `http://${bed.ip('server')}:${PORT}/big`);
  assert.deepEqual([ok.exit, ok.code], [0, 200]);
  assert.equal(retransSegs('server') - clean0, 0, 'retransmissions on a clean path');

  const rule = bed.addLoss('client', 10, { sport: PORT }); // the server's segments arrive at the client's eth0
  const before = retransSegs('server');
  for (let i = 0; i < 3; i++) {
    const r = curlIn('client', `http://${bed.ip('server')}:${PORT}/big`);
    assert.deepEqual([r.exit, r.code], [0, 200]);
  }
  const dropped = bed.nftCounter('client', 'input', rule);
  const retrans = retransSegs('server') - before;
  assert.ok(dropped > 0, 'the loss rule dropped nothing');
  assert.ok(retrans > 0, `the server retransmitted nothing although ${dropped} segments were dropped`);
  bed.clearFaults('client');
});

test('an nftables reset rule refuses connections with a RST from the server host', () => {
  const rule = bed.addReset('server', { port: PORT });
  const r = curlIn('client', `http://${bed.ip('server')}:${PORT}/small`);
  assert.equal(r.exit, 7, 'curl: "Failed to connect" (connection refused by the RST)');
  assert.equal(bed.nftCounter('server', 'input', rule), 1);
  bed.clearFaults('server');
  assert.equal(curlIn('client', `http://${bed.ip('server')}:${PORT}/small`).code, 200);
});

test('TBF limits bandwidth: 400 kB at 2 Mbit/s take ≥ 1.2 s, without it well under that', () => {
  const free = curlIn('client', `http://${bed.ip('server')}:${PORT}/big`);
  assert.equal(free.code, 200);
  bed.setRate('server', { rateKbit: 2000, burstBytes: 16000, latencyMs: 2000 });
  const shaped = curlIn('client', `http://${bed.ip('server')}:${PORT}/big`);
  assert.equal(shaped.code, 200);
  // 3.2 Mbit at 2 Mbit/s = 1.6 s (the burst saves a little)
  assert.ok(shaped.seconds >= 1.2 && shaped.seconds < 8, `shaped transfer took ${shaped.seconds} s`);
  assert.ok(free.seconds < 1, `unshaped transfer took ${free.seconds} s`);
  bed.clearFaults('server');
});

test('netem availability is probed, not assumed', (t) => {
  const has = Netbed.netemAvailable();
  t.diagnostic(
    `sch_netem ${has ? 'available' : 'not available on this kernel: delays come from TBF queues and the proxy hop'}`
  );
  assert.equal(typeof has, 'boolean');
});

test("teardown removes everything, and a crashed run's leftovers are cleaned at the next start", () => {
  const b = Netbed.create(['a', 'b']);
  const ns = Object.values(b.hosts).map((h) => h.ns);
  const sleeper = b.spawn('a', ['sleep', '60']);
  b.destroy();
  const nsList = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  for (const n of ns) {
    assert.ok(!nsList.includes(n), `${n} still exists`);
  }
  assert.equal(spawnSync('ip', ['link', 'show', b.bridge]).status, 1, 'bridge still exists');
  assert.ok(sleeper.killed || sleeper.exitCode !== null || sleeper.signalCode !== null);

  // leftovers named after a pid that no longer exists (pid 4194303 is above any live pid here)
  const deadPid = 4194303;
  spawnSync('ip', ['netns', 'add', `flnb-${deadPid}-0-x`]);
  spawnSync('ip', ['link', 'add', `fnb${deadPid.toString(36)}-0b`, 'type', 'bridge']);
  assert.ok(cleanStaleNetbeds() >= 2);
  assert.ok(!spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(`flnb-${deadPid}-0-x`));
  assert.equal(spawnSync('ip', ['link', 'show', `fnb${deadPid.toString(36)}-0b`]).status, 1);
});
