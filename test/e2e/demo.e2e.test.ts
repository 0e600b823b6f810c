// Smoke test of the main command's job (demo/runDemo.ts): services up, agent capturing, calls
// between the demo services visible in ClickHouse, and a clean stop that loses nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { assertRoot, ROOT } from './helpers';

test('the demo runs, shows every call of the demo system, and stops cleanly', async () => {
  assertRoot();
  const proc = spawn(process.execPath, [join(ROOT, 'build', 'agent', 'demo', 'runDemo.js'), '--duration', '12', '--rate', '25'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number>((r) => proc.on('exit', (c) => r(c ?? 1)));
  assert.equal(code, 0, out);
  const finalSummary = out.slice(out.lastIndexOf('flowlens: stopping'));
  assert.match(finalSummary, /drops: kernel ring 0, export 0, malformed 0, unbound TLS 0; queued 0/);
  for (const edge of ['loadgen -> gateway', 'gateway -> frontend', 'frontend -> backend']) {
    assert.match(finalSummary, new RegExp(`${edge}: \\d+ requests`), `${edge} missing from:\n${finalSummary}`);
  }
  // /api/missing is answered by the frontend without a backend call: the gateway sees more calls than the backend
  const n = (edge: string) => Number(new RegExp(`${edge}: (\\d+) requests`).exec(finalSummary)![1]);
  assert.ok(n('loadgen -> gateway') >= 200, `about 25 req/s for ~12 s, got ${n('loadgen -> gateway')}`);
  assert.equal(n('gateway -> frontend'), n('loadgen -> gateway'));
  assert.ok(n('frontend -> backend') < n('gateway -> frontend'));
  assert.match(out, /where to look:/);
});
