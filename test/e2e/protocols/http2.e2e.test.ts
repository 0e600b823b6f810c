// HTTP/2 cleartext (h2c, prior knowledge) against Debian's nginx (`listen ... http2`): curl
// --http2-prior-knowledge makes one request per connection (curl 7.88.1 does not reuse an h2c
// connection for a second URL), Node's node:http2 client multiplexes several requests on one
// connection. Exact rows per method/path/status at both ends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, waitForPort, AgentHandle } from '../helpers';

const DB = 'flowlens_e2e_http2';
const PORT = 28244;
let nginx: ChildProcess;
let agent: AgentHandle;
const got: string[] = [];

function curl(path: string): string {
  const r = spawnSync(
    'curl',
    [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{http_version}',
      '--http2-prior-knowledge',
      '-H',
      'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      `http://127.0.0.1:${PORT}${path}`,
    ],
    { encoding: 'utf8' }
  );
  return r.stdout;
}

const MULTIPLEX = `
const http2 = require('node:http2');
const s = http2.connect('http://127.0.0.1:${PORT}');
const paths = ['/ok', '/missing', '/fail', '/ok?page=2', '/ok?page=3', '/missing'];
Promise.all(paths.map((p) => new Promise((res, rej) => {
  const r = s.request({ ':path': p });
  let status = 0; r.on('response', (h) => (status = h[':status'])); r.resume(); r.on('end', () => res(status)); r.on('error', rej); r.end();
}))).then((codes) => { console.log(codes.join(',')); s.close(); });
`;

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  const prefix = mkdtempSync(join(tmpdir(), 'flowlens-h2-nginx-'));
  mkdirSync(join(prefix, 'logs'));
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy; fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${PORT} http2;
    location = /ok { default_type text/plain; return 200 "ok\\n"; }
    location = /fail { return 500; }
    location / { return 404; }
  }
}
`
  );
  nginx = spawn('/usr/sbin/nginx', ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: 'inherit' });
  await waitForPort(PORT);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [{ name: 'web', port: PORT }],
  });
  await new Promise((r) => setTimeout(r, 300)); // let nginx's waitForPort probe connection settle
  for (const p of ['/ok', '/ok?x=1', '/missing', '/fail']) {
    got.push(curl(p));
  }
  got.push(spawnSync(process.execPath, ['-e', MULTIPLEX], { encoding: 'utf8' }).stdout.trim());
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await agent.stop(), 0, agent.output());
});

after(() => {
  agent?.proc.kill('SIGKILL');
  nginx?.kill('SIGQUIT');
});

test('the clients got what nginx serves', () => {
  assert.deepEqual(got, ['200 2', '200 2', '404 2', '500 2', '200,404,500,200,200,404']);
});

test('exact HTTP2 rows per observation point, method, path, endpoint and status', async () => {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, l7_protocol, version, request_type, request_domain, request_resource, endpoint, response_code, response_status,
            client_process, server_process, server_service, count() AS n
     FROM ${DB}.l7_flow_log WHERE server_port = ${PORT}
     GROUP BY observation_point, l7_protocol, version, request_type, request_domain, request_resource, endpoint, response_code, response_status,
              client_process, server_process, server_service
     ORDER BY observation_point, client_process, request_resource`
  );
  const lines = rows.map(
    (r) =>
      `${r.observation_point} ${r.l7_protocol}/${r.version} ${r.request_type} ${r.request_domain} ${r.request_resource} ${r.endpoint} ${r.response_code} ${r.response_status} ${r.client_process}->${r.server_process}(${r.server_service}) x${r.n}`
  );
  const auth = `127.0.0.1:${PORT}`;
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    want.push(
      `${op} HTTP2/2 GET ${auth} /fail /fail 500 server_error curl->nginx(web) x1`,
      `${op} HTTP2/2 GET ${auth} /missing /missing 404 client_error curl->nginx(web) x1`,
      `${op} HTTP2/2 GET ${auth} /ok /ok 200 ok curl->nginx(web) x1`,
      `${op} HTTP2/2 GET ${auth} /ok?x=1 /ok 200 ok curl->nginx(web) x1`,
      `${op} HTTP2/2 GET ${auth} /fail /fail 500 server_error node->nginx(web) x1`,
      `${op} HTTP2/2 GET ${auth} /missing /missing 404 client_error node->nginx(web) x2`,
      `${op} HTTP2/2 GET ${auth} /ok /ok 200 ok node->nginx(web) x1`,
      `${op} HTTP2/2 GET ${auth} /ok?page=2 /ok 200 ok node->nginx(web) x1`,
      `${op} HTTP2/2 GET ${auth} /ok?page=3 /ok 200 ok node->nginx(web) x1`
    );
  }
  assert.deepEqual(lines, want);
});

test("trace context from curl's traceparent header", async () => {
  const rows = await chQuery<{ n: number }>(
    `SELECT count() AS n FROM ${DB}.l7_flow_log WHERE server_port = ${PORT} AND trace_id = '4bf92f3577b34da6a3ce929d0e0e4736' AND span_id = '00f067aa0ba902b7'`
  );
  assert.equal(Number(rows[0].n), 8, 'four curl requests, seen at both ends');
});
