// HTTPS is not a blind spot: curl -> nginx over TLS (both link Debian's libssl.so.3) and a Node
// https client -> Node https server (OpenSSL linked into the node binary) give the same rows as
// plaintext, and secrets sent in headers and the query string are stored nowhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
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
  CLICKHOUSE_AUTH,
  CLICKHOUSE_URL,
} from '../helpers';

const DB = 'flowlens_e2e_tls';
const NGINX_PORT = 28310;
const NODE_PORT = 28311;
const H2_PORT = 28312; // nginx HTTP/2 over TLS (ALPN h2)
const SECRETS = ['SECRET-BEARER-1', 'SECRET-COOKIE-2', 'SECRET-QUERY-3'];
let dir: string;
let nginx: ChildProcess;
let nodeServer: ChildProcess;
let agent: AgentHandle;
const codes: number[] = [];
const h2codes: string[] = [];

function curl(path: string): number {
  const r = spawnSync(
    'curl',
    [
      '-sk',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-H',
      `Authorization: Bearer ${SECRETS[0]}`,
      '-H',
      `Cookie: session=${SECRETS[1]}`,
      `https://127.0.0.1:${NGINX_PORT}${path}`,
    ],
    { encoding: 'utf8' }
  );
  return Number(r.stdout);
}

function get(pool: https.Agent, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(
        {
          host: '127.0.0.1',
          port: NODE_PORT,
          path,
          agent: pool,
          rejectUnauthorized: false,
          headers: { authorization: `Bearer ${SECRETS[0]}` },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        }
      )
      .on('error', reject);
  });
}

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  dir = mkdtempSync(join(tmpdir(), 'flowlens-tls-'));
  const r = spawnSync(
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
  assert.equal(r.status, 0, 'openssl made a test certificate');
  mkdirSync(`${dir}/logs`);
  writeFileSync(
    `${dir}/nginx.conf`,
    `worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/logs/error.log warn;
events { worker_connections 64; }
http { access_log off; client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  server { listen 127.0.0.1:${NGINX_PORT} ssl; ssl_certificate ${dir}/cert.pem; ssl_certificate_key ${dir}/key.pem;
    location = /ok { default_type text/plain; return 200 "ok\\n"; }
    location = /fail { return 500; }
    location / { return 404; } }
  server { listen 127.0.0.1:${H2_PORT} ssl http2; ssl_certificate ${dir}/cert.pem; ssl_certificate_key ${dir}/key.pem;
    location = /ok { default_type text/plain; return 200 "ok\n"; }
    location / { return 404; } } }
`
  );
  nginx = spawn('/usr/sbin/nginx', ['-p', dir, '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'], { stdio: 'inherit' });
  const server = `const https = require('https'); const fs = require('fs');
https.createServer({ key: fs.readFileSync('${dir}/key.pem'), cert: fs.readFileSync('${dir}/cert.pem') }, (req, res) => {
  res.writeHead(req.url.startsWith('/api/a') ? 200 : 404); res.end('x'.repeat(100));
}).listen(${NODE_PORT}, '127.0.0.1');`;
  nodeServer = spawn(process.execPath, ['-e', server], { stdio: 'inherit' });
  await waitForPort(NGINX_PORT);
  await waitForPort(NODE_PORT);
  await waitForPort(H2_PORT);
  agent = await startAgent({ database: DB, flushIntervalMs: 200, statusIntervalMs: 0 });
  assert.match(agent.output(), /TLS: OpenSSL probed in .*libssl\.so.*node/);
  for (let i = 0; i < 3; i++) {
    codes.push(curl(`/ok?token=${SECRETS[2]}`));
  }
  codes.push(curl('/missing'), curl('/missing'), curl('/fail'));
  for (const p of ['/ok', '/ok', '/missing']) {
    const r = spawnSync(
      'curl',
      ['-sk', '--http2', '-o', '/dev/null', '-w', '%{http_code} %{http_version}', `https://127.0.0.1:${H2_PORT}${p}`],
      { encoding: 'utf8' }
    );
    h2codes.push(r.stdout);
  }
  const pool = new https.Agent({ keepAlive: true, maxSockets: 1 });
  for (const p of ['/api/a', '/api/a', '/api/a', '/api/b', '/api/b']) {
    codes.push(await get(pool, `${p}?password=${SECRETS[2]}`));
  }
  pool.destroy();
  assert.equal(await agent.stop(), 0, agent.output());
  assert.match(agent.output(), /unbound TLS 0;/, 'every TLS plaintext found its socket');
});

after(() => {
  agent?.proc.kill('SIGKILL');
  nginx?.kill('SIGQUIT');
  nodeServer?.kill();
});

test('the clients got their answers over TLS', () => {
  assert.deepEqual(codes, [200, 200, 200, 404, 404, 500, 200, 200, 200, 404, 404]);
});

test('HTTPS rows equal what plaintext gives, at both ends, through libssl (curl -> nginx)', async () => {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT server_port, observation_point, request_type, endpoint, response_code, response_status, client_process, server_process, count() AS n
     FROM ${DB}.l7_flow_log WHERE server_port = ${NGINX_PORT}
     GROUP BY server_port, observation_point, request_type, endpoint, response_code, response_status, client_process, server_process
     ORDER BY server_port, observation_point, endpoint`
  );
  const got = rows.map(
    (r) =>
      `${r.server_port} ${r.observation_point} ${r.request_type} ${r.endpoint} ${r.response_code} ${r.response_status} ${r.client_process}->${r.server_process} x${r.n}`
  );
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    want.push(
      `${NGINX_PORT} ${op} GET /fail 500 server_error curl->nginx x1`,
      `${NGINX_PORT} ${op} GET /missing 404 client_error curl->nginx x2`,
      `${NGINX_PORT} ${op} GET /ok 200 ok curl->nginx x3`
    );
  }
  assert.deepEqual(got, want);
});

// Node's TLSWrap encrypts into memory BIOs and does its socket I/O outside SSL_read/SSL_write: the
// agent ties the plaintext to the socket by the thread's neighbouring ciphertext (conntrack/tlsBinder.ts).
test('HTTPS through the OpenSSL inside node: Node https client and server, keep-alive', async () => {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, request_type, endpoint, request_resource, response_code, response_status, client_process, server_process, count() AS n
     FROM ${DB}.l7_flow_log WHERE server_port = ${NODE_PORT}
     GROUP BY observation_point, request_type, endpoint, request_resource, response_code, response_status, client_process, server_process
     ORDER BY observation_point, endpoint`
  );
  const got = rows.map(
    (r) =>
      `${r.observation_point} ${r.request_type} ${r.request_resource} ${r.response_code} ${r.response_status} ${r.client_process}->${r.server_process} x${r.n}`
  );
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    want.push(
      `${op} GET /api/a?password=*** 200 ok node->node x3`,
      `${op} GET /api/b?password=*** 404 client_error node->node x2`
    );
  }
  assert.deepEqual(got, want);
});

test('HTTP/2 over TLS (nginx, curl with ALPN h2): the decrypted frames parse as HTTP/2', async () => {
  assert.deepEqual(h2codes, ['200 2', '200 2', '404 2']);
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, l7_protocol, request_type, endpoint, response_code, count() AS n
     FROM ${DB}.l7_flow_log WHERE server_port = ${H2_PORT}
     GROUP BY observation_point, l7_protocol, request_type, endpoint, response_code ORDER BY observation_point, endpoint`
  );
  const got = rows.map(
    (r) => `${r.observation_point} ${r.l7_protocol} ${r.request_type} ${r.endpoint} ${r.response_code} x${r.n}`
  );
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    want.push(`${op} HTTP2 GET /missing 404 x1`, `${op} HTTP2 GET /ok 200 x2`);
  }
  assert.deepEqual(got, want);
});

test('no secret from headers or query strings is stored in any column', async () => {
  const dump = await fetch(`${CLICKHOUSE_URL}/`, {
    method: 'POST',
    body: `SELECT * FROM ${DB}.l7_flow_log FORMAT TSV`,
    headers: CLICKHOUSE_AUTH,
  }).then((r) => r.text());
  assert.ok(dump.length > 0);
  for (const s of SECRETS) {
    assert.ok(!dump.includes(s), `${s} leaked into l7_flow_log`);
  }
  assert.match(dump, /\/ok\?token=\*\*\*/);
});
