// AutoTracing ids from the kernel: a threaded Python service that calls a dependency twice per
// request. The request it read, its first call, its second call and its response must chain by
// syscall_trace_id (DeepFlow's scheme: a read after a write takes a new id, writes carry the
// thread's id), and each call must carry the same tcp_seq_request at the client and at the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'node:child_process';
import {
  assertRoot,
  chQuery,
  curl,
  freeDatabase,
  requireClickHouse,
  startAgent,
  waitForPort,
  AgentHandle,
} from './helpers';

const DB = 'flowlens_e2e_tracing_ids';
const FRONT_PORT = 28191;
const BACK_PORT = 28192;
const REQUESTS = 6;

// ThreadingHTTPServer: each request on its own thread, calls made on that thread (one connection
// per call, as many Python clients do).
const FRONT = `
import http.client, http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        codes = []
        for path in ('/stock', '/price'):
            c = http.client.HTTPConnection('127.0.0.1', ${BACK_PORT}, timeout=5)
            c.request('GET', path)
            r = c.getresponse(); r.read(); c.close()
            codes.append(str(r.status))
        body = ','.join(codes).encode()
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', ${FRONT_PORT}), H).serve_forever()
`;
const BACK = `
import http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers(); self.wfile.write(b'ok')
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', ${BACK_PORT}), H).serve_forever()
`;

interface Span {
  observation_point: string;
  request_resource: string;
  server_port: number;
  client_port: number;
  start_time_us: string;
  end_time_us: string;
  syscall_trace_id_request: string;
  syscall_trace_id_response: string;
  tcp_seq_request: number;
  tcp_seq_response: number;
}

let agent: AgentHandle;
const servers: ChildProcess[] = [];
let spans: Span[] = [];
const answers: number[] = [];

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  servers.push(
    spawn('python3', ['-c', BACK], { stdio: 'inherit' }),
    spawn('python3', ['-c', FRONT], { stdio: 'inherit' })
  );
  await waitForPort(BACK_PORT);
  await waitForPort(FRONT_PORT);
  agent = await startAgent({ database: DB, flushIntervalMs: 200, statusIntervalMs: 0 });
  for (let i = 0; i < REQUESTS; i++) {
    answers.push((await curl(`http://127.0.0.1:${FRONT_PORT}/order/${i}`)).code);
  }
  assert.equal(await agent.stop(), 0, agent.output());
  spans = await chQuery<Span>(
    `SELECT observation_point, request_resource, server_port, client_port, start_time_us, end_time_us,
            toString(syscall_trace_id_request) AS syscall_trace_id_request, toString(syscall_trace_id_response) AS syscall_trace_id_response,
            tcp_seq_request, tcp_seq_response
     FROM ${DB}.l7_flow_log WHERE server_port IN (${FRONT_PORT}, ${BACK_PORT}) ORDER BY start_time_us`
  );
});

after(() => {
  agent?.proc.kill('SIGKILL');
  for (const s of servers) {
    s.kill();
  }
});

test('every request reached the dependency twice', () => {
  assert.deepEqual(answers, Array(REQUESTS).fill(200));
  const count = (op: string, port: number) =>
    spans.filter((s) => s.observation_point === op && s.server_port === port).length;
  assert.equal(count('server_process', FRONT_PORT), REQUESTS);
  assert.equal(count('client_process', BACK_PORT), 2 * REQUESTS);
  assert.equal(count('server_process', BACK_PORT), 2 * REQUESTS);
});

test('the request, both calls and the response chain by syscall_trace_id, with no id shared across requests', () => {
  const front = spans.filter((s) => s.observation_point === 'server_process' && s.server_port === FRONT_PORT);
  const calls = spans.filter((s) => s.observation_point === 'client_process' && s.server_port === BACK_PORT);
  const allIds = new Set<string>();
  for (const f of front) {
    // the two calls made inside this request (one thread per request: time containment is exact)
    const mine = calls.filter(
      (c) => BigInt(c.start_time_us) >= BigInt(f.start_time_us) && BigInt(c.end_time_us) <= BigInt(f.end_time_us)
    );
    assert.deepEqual(
      mine.map((c) => c.request_resource),
      ['/stock', '/price'],
      `calls inside ${f.request_resource}`
    );
    const [stock, price] = mine;
    for (const id of [f.syscall_trace_id_request, f.syscall_trace_id_response, stock.syscall_trace_id_response]) {
      assert.notEqual(id, '0', `${f.request_resource}: an id is missing`);
    }
    assert.equal(
      stock.syscall_trace_id_request,
      f.syscall_trace_id_request,
      `${f.request_resource}: the first call carries the request's id`
    );
    assert.equal(
      price.syscall_trace_id_request,
      stock.syscall_trace_id_response,
      `${f.request_resource}: the second call carries the id of the first reply`
    );
    assert.equal(
      f.syscall_trace_id_response,
      price.syscall_trace_id_response,
      `${f.request_resource}: the response carries the id of the last reply`
    );
    for (const id of [f.syscall_trace_id_request, stock.syscall_trace_id_response, price.syscall_trace_id_response]) {
      assert.ok(!allIds.has(id), `id ${id} of ${f.request_resource} also belongs to another request`);
      allIds.add(id);
    }
  }
});

test('a call seen at both ends has the same tcp_seq_request and tcp_seq_response at the client and the server', () => {
  const calls = spans.filter((s) => s.observation_point === 'client_process' && s.server_port === BACK_PORT);
  const served = spans.filter((s) => s.observation_point === 'server_process' && s.server_port === BACK_PORT);
  for (const c of calls) {
    assert.notEqual(c.tcp_seq_request, 0);
    const same = served.filter((s) => s.client_port === c.client_port && s.tcp_seq_request === c.tcp_seq_request);
    assert.equal(
      same.length,
      1,
      `${c.request_resource} from port ${c.client_port}: one server span with seq ${c.tcp_seq_request}`
    );
    assert.equal(same[0].tcp_seq_response, c.tcp_seq_response);
  }
});
