// Go crypto/tls: a Go HTTPS server and a Go keep-alive client. Go code gets no uretprobes, so
// Read's plaintext comes from uprobes on its RET instructions (cmd/flowlens-goprobe finds them).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  assertRoot,
  chQuery,
  freeDatabase,
  requireClickHouse,
  startAgent,
  waitForPort,
  AgentHandle,
  ROOT,
} from '../helpers';

const DB = 'flowlens_e2e_gotls';
const PORT = 28314;
let server: ChildProcess;
let agent: AgentHandle;
let answers: string[] = [];

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-gotls-'));
  const go =
    process.env.GO ??
    spawnSync('sh', ['-c', 'command -v go || echo /usr/local/go/bin/go'], { encoding: 'utf8' }).stdout.trim();
  const b = spawnSync(go, ['build', '-o', join(dir, 'gotls'), './test/e2e/protocols/gotls'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(b.status, 0, `go build: ${b.stderr}`);
  const c = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      `${dir}/key.pem`,
      '-out',
      `${dir}/cert.pem`,
    ],
    { stdio: 'ignore' }
  );
  assert.equal(c.status, 0);
  server = spawn(join(dir, 'gotls'), ['server', `${dir}/cert.pem`, `${dir}/key.pem`, String(PORT)], {
    stdio: 'inherit',
  });
  await waitForPort(PORT);
  agent = await startAgent({ database: DB, flushIntervalMs: 200, statusIntervalMs: 0 });
  assert.match(agent.output(), /TLS: Go crypto\/tls probed in .*gotls \(go1\.\d+/);
  const urls = ['/go/ok', '/go/ok', '/go/ok', '/go/missing', '/go/missing'].map((p) => `https://127.0.0.1:${PORT}${p}`);
  answers = spawnSync(join(dir, 'gotls'), ['client', ...urls], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n');
  assert.equal(await agent.stop(), 0, agent.output());
});

after(() => {
  agent?.proc.kill('SIGKILL');
  server?.kill();
});

test('the Go client got its answers over TLS', () => {
  assert.deepEqual(answers, ['200', '200', '200', '404', '404']);
});

test('Go HTTPS rows equal what plaintext gives, at both ends, on one keep-alive connection', async () => {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, request_type, endpoint, response_code, response_status, client_process, server_process, uniqExact(client_port) AS conns, count() AS n
     FROM ${DB}.l7_flow_log WHERE server_port = ${PORT}
     GROUP BY observation_point, request_type, endpoint, response_code, response_status, client_process, server_process
     ORDER BY observation_point, endpoint`
  );
  const got = rows.map(
    (r) =>
      `${r.observation_point} ${r.request_type} ${r.endpoint} ${r.response_code} ${r.response_status} ${r.client_process}->${r.server_process} conns=${r.conns} x${r.n}`
  );
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    want.push(
      `${op} GET /go/missing 404 client_error gotls->gotls conns=1 x2`,
      `${op} GET /go/ok 200 ok gotls->gotls conns=1 x3`
    );
  }
  assert.deepEqual(got, want);
});
