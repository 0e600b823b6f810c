// Smoke test of the main command's job (demo/runDemo.ts): the demo system on the namespace test
// bed (as root), the agent capturing processes and the hosts' NICs, every call of the demo system
// visible in ClickHouse, and a clean stop that loses nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { assertRoot, ROOT } from './helpers';

test('the demo runs on the namespace test bed, shows every call of the demo system, and stops cleanly', async () => {
  assertRoot();
  const proc = spawn(
    process.execPath,
    [join(ROOT, 'build', 'agent', 'demo', 'runDemo.js'), '--duration', '12', '--rate', '25'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    }
  );
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number>((r) => proc.on('exit', (c) => r(c ?? 1)));
  assert.equal(code, 0, out);
  assert.match(out, /demo system on the namespace test bed \(one network namespace per host\)/);
  assert.match(out, /-> slb \(toxiproxy-serve\) at 10\.\d+\.\d+\.\d+:8001 in netns flnb-\d+-\d+-slb/);
  assert.match(out, /packet capture on flnb-\d+-\d+-client\/eth0, .*flnb-\d+-\d+-db\/eth0/);
  const finalSummary = out.slice(out.lastIndexOf('flowlens: stopping'));
  assert.match(finalSummary, /drops: kernel ring 0, export 0, malformed 0, unbound TLS 0; queued 0/);
  const edges = [
    'loadgen -> gateway',
    'gateway -> slb',
    'slb -> frontend',
    'frontend -> backend',
    'backend -> postgres',
    'backend -> redis',
  ];
  for (const edge of edges) {
    assert.match(finalSummary, new RegExp(`${edge}: \\d+ requests`), `${edge} missing from:\n${finalSummary}`);
  }
  const n = (edge: string) => Number(new RegExp(`${edge}: (\\d+) requests`).exec(finalSummary)![1]);
  assert.ok(n('loadgen -> gateway') >= 200, `about 25 req/s for ~12 s, got ${n('loadgen -> gateway')}`);
  // every request passes the load balancer to the frontend; /api/missing (1 in 3) goes no further,
  // a checkout (1 in 6) calls the backend twice: 5 backend calls per 6 requests
  // (give or take the requests in flight when the load generator was stopped)
  const near = (a: string, b: string, want: (x: number) => number = (x) => x) =>
    assert.ok(Math.abs(n(a) - want(n(b))) <= 2, `${a}: ${n(a)} requests, ${b}: ${n(b)}\n${finalSummary}`);
  near('gateway -> slb', 'loadgen -> gateway');
  near('slb -> frontend', 'gateway -> slb');
  assert.ok(n('frontend -> backend') < n('slb -> frontend'));
  assert.ok(
    Math.abs(n('frontend -> backend') - (n('slb -> frontend') * 5) / 6) <= 12,
    `frontend -> backend ${n('frontend -> backend')}`
  );
  // each backend call makes one redis and one postgres call
  near('backend -> redis', 'frontend -> backend');
  near('backend -> postgres', 'frontend -> backend');
  // one checkout's trace, assembled by the datasource binary: 9 calls seen at 4 points each
  assert.match(
    out,
    /the trace of GET \/api\/checkout\?item=\d+ \(the gateway's row \d+\):\n  trace fl-[0-9a-f]+: 36 spans/
  );
  assert.match(out, /verdict: .* holds \d+% of the/);
  assert.match(out, /where to look:/);
});
