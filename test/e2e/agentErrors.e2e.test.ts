// Bad input at the agent's edges: each gives one clear line, none crashes it, and a ClickHouse
// outage loses no rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, runAgent, startAgent, CLICKHOUSE_URL } from './helpers';

const cfgFile = (obj: object) => {
  const p = join(mkdtempSync(join(tmpdir(), 'flowlens-cfg-')), 'c.json');
  writeFileSync(p, JSON.stringify(obj));
  return p;
};

const lines = (out: string) => out.split('\n').filter((l) => l.trim());

test('a bad config value: one line naming key and value, exit code 2', async () => {
  const r = await runAgent(['--config', cfgFile({ captureBytes: 'abc' })]);
  assert.equal(r.code, 2);
  assert.deepEqual(lines(r.output), [
    'flowlens-agent: config captureBytes="abc" is invalid: expected an integer from 16 to 4096',
  ]);
  const u = await runAgent(['--bogus']);
  assert.equal(u.code, 2);
  assert.match(u.output, /unknown argument --bogus/);
});

test('a missing kernel feature (simulated: BTF path pointed elsewhere): one line with the fix, exit code 1', async () => {
  const r = await runAgent([], { FLOWLENS_BTF_PATH: '/nonexistent/vmlinux' });
  assert.equal(r.code, 1);
  assert.deepEqual(lines(r.output), [
    'flowlens-agent: cannot trace this host: the kernel exposes no BTF (/nonexistent/vmlinux is missing): use a kernel built with CONFIG_DEBUG_INFO_BTF=y (the default on current distributions)',
  ]);
});

test('an unreachable ClickHouse: the agent says so once, keeps capturing, and reports unwritten rows at exit', async () => {
  assertRoot();
  const agent = await startAgent({ clickhouseUrl: 'http://127.0.0.1:1', flushIntervalMs: 100, statusIntervalMs: 0 });
  const srv = http.createServer((_, res) => res.end('x')).listen(28091, '127.0.0.1');
  await new Promise((r) => srv.on('listening', r));
  for (let i = 0; i < 3; i++) {
    await fetch('http://127.0.0.1:28091/x').then((r) => r.text());
  }
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(agent.proc.exitCode, null, 'still running');
  const code = await agent.stop();
  srv.close();
  const out = agent.output();
  assert.equal((out.match(/is not reachable/g) ?? []).length, 1, out);
  assert.match(
    out,
    /clickhouse at http:\/\/127\.0\.0\.1:1 is not reachable \(.*\); capturing anyway and retrying every 5 s/
  );
  assert.match(out, /rows could not be written/);
  assert.equal(code, 1, 'exit code 1 (rows lost), not a crash');
});

test('a ClickHouse outage mid-run loses no rows: they wait in memory and land on recovery', async () => {
  assertRoot();
  await requireClickHouse();
  const DB = 'flowlens_e2e_outage';
  await freeDatabase(DB);
  // a cuttable TCP proxy in front of the real ClickHouse
  const target = new URL(CLICKHOUSE_URL);
  let cut = false;
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const up = net.connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(up);
    client.pipe(up).pipe(client);
    const end = () => {
      client.destroy();
      up.destroy();
    };
    client.on('error', end);
    up.on('error', end);
  });
  await new Promise<void>((r) => proxy.listen(28092, '127.0.0.1', () => r()));
  const agent = await startAgent({
    clickhouseUrl: 'http://127.0.0.1:28092',
    database: DB,
    flushIntervalMs: 100,
    statusIntervalMs: 0,
    ignorePorts: [Number(target.port)],
  });
  const srv = http.createServer((_, res) => res.end('x')).listen(28093, '127.0.0.1');
  await new Promise((r) => srv.on('listening', r));

  const send = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await fetch(`http://127.0.0.1:28093/n${i}`).then((r) => r.text());
    }
  };
  await send(5);
  cut = true;
  for (const s of sockets) {
    s.destroy();
  }
  await send(7); // captured while ClickHouse is unreachable
  await new Promise((r) => setTimeout(r, 1500));
  cut = false;
  await new Promise((r) => setTimeout(r, 1500));
  const code = await agent.stop();
  srv.close();
  proxy.close();
  const out = agent.output();
  assert.equal(code, 0, out);
  assert.match(out, /cannot write to/);
  assert.match(out, /reachable again/);
  const [{ n }] = await chQuery<{ n: string }>(
    `SELECT count() AS n FROM ${DB}.l7_flow_log WHERE server_port = 28093 AND observation_point = 'server_process'`
  );
  assert.equal(Number(n), 12);
});
