// gRPC over h2c with Debian's python3-grpcio (1.51) at both ends: a generic-handler server with
// raw-bytes (de)serializers (no protoc) and one client channel making unary calls that return OK,
// NOT_FOUND and INTERNAL, several of them concurrently (multiplexed streams), and a server-streaming
// call. Exact rows per method, grpc-status and message at both ends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, waitForPort, AgentHandle } from '../helpers';

const DB = 'flowlens_e2e_grpc';
const PORT = 28246;
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-grpcio lives
let server: ChildProcess;
let agent: AgentHandle;
let results = '';

const PEER = `
import sys, json, grpc
from concurrent import futures
def ident(b): return b
def serve(port):
    def get(req, ctx): return b'pong:' + req
    def find(req, ctx): ctx.abort(grpc.StatusCode.NOT_FOUND, 'no such item')
    def brk(req, ctx): ctx.abort(grpc.StatusCode.INTERNAL, 'database is down')
    def lst(req, ctx):
        for i in range(3):
            yield b'item%d' % i
    handlers = {
        'Get': grpc.unary_unary_rpc_method_handler(get, ident, ident),
        'Find': grpc.unary_unary_rpc_method_handler(find, ident, ident),
        'Break': grpc.unary_unary_rpc_method_handler(brk, ident, ident),
        'List': grpc.unary_stream_rpc_method_handler(lst, ident, ident),
    }
    s = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    s.add_generic_rpc_handlers((grpc.method_handlers_generic_handler('demo.v1.Items', handlers),))
    s.add_insecure_port('127.0.0.1:%d' % port)
    s.start()
    s.wait_for_termination()
def call(port):
    ch = grpc.insecure_channel('127.0.0.1:%d' % port)
    get = ch.unary_unary('/demo.v1.Items/Get', ident, ident)
    find = ch.unary_unary('/demo.v1.Items/Find', ident, ident)
    brk = ch.unary_unary('/demo.v1.Items/Break', ident, ident)
    lst = ch.unary_stream('/demo.v1.Items/List', ident, ident)
    def name(f):
        try:
            f.result(timeout=10); return 'OK'
        except grpc.RpcError as e:
            return e.code().name
    out = [name(get.future(b'first', metadata=(('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'),)))]
    futs = [get.future(b'a%d' % i) for i in range(3)] + [find.future(b'x%d' % i) for i in range(2)] + [brk.future(b'y')]
    out += [name(f) for f in futs]
    out.append('stream:%d' % len(list(lst(b'z', timeout=10))))
    ch.close()
    print(json.dumps(out), flush=True)
(serve if sys.argv[1] == 'serve' else call)(int(sys.argv[2]))
`;

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-grpc-'));
  const script = join(dir, 'grpc_peer.py');
  writeFileSync(script, PEER);
  server = spawn(PYTHON, [script, 'serve', String(PORT)], { stdio: 'inherit' });
  await waitForPort(PORT);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [{ name: 'items', port: PORT }],
  });
  await new Promise((r) => setTimeout(r, 300));
  const r = spawnSync(PYTHON, [script, 'call', String(PORT)], { encoding: 'utf8', timeout: 30000 });
  results = r.stdout.trim() || r.stderr;
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await agent.stop(), 0, agent.output());
});

after(() => {
  agent?.proc.kill('SIGKILL');
  server?.kill('SIGKILL');
});

test('the client got the statuses the server was told to give', () => {
  assert.equal(results, '["OK", "OK", "OK", "OK", "NOT_FOUND", "NOT_FOUND", "INTERNAL", "stream:3"]');
});

test('exact gRPC rows per observation point, method, grpc-status and message', async () => {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, l7_protocol, request_type, request_domain, request_resource, endpoint, response_code, response_status, response_exception,
            server_service, count() AS n
     FROM ${DB}.l7_flow_log WHERE server_port = ${PORT}
     GROUP BY observation_point, l7_protocol, request_type, request_domain, request_resource, endpoint, response_code, response_status, response_exception, server_service
     ORDER BY observation_point, request_resource`
  );
  const lines = rows.map(
    (r) =>
      `${r.observation_point} ${r.l7_protocol} ${r.request_type} ${r.request_domain} ${r.request_resource} ${r.endpoint} ${r.response_code} ${r.response_status} '${r.response_exception}' (${r.server_service}) x${r.n}`
  );
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    want.push(
      `${op} gRPC POST demo.v1.Items /demo.v1.Items/Break /demo.v1.Items/Break 13 server_error 'database is down' (items) x1`,
      `${op} gRPC POST demo.v1.Items /demo.v1.Items/Find /demo.v1.Items/Find 5 client_error 'no such item' (items) x2`,
      `${op} gRPC POST demo.v1.Items /demo.v1.Items/Get /demo.v1.Items/Get 0 ok '' (items) x4`,
      `${op} gRPC POST demo.v1.Items /demo.v1.Items/List /demo.v1.Items/List 0 ok '' (items) x1`
    );
  }
  assert.deepEqual(lines, want);
});

test('trace context from gRPC metadata, and both ends are python3', async () => {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, client_process, server_process, count() AS n FROM ${DB}.l7_flow_log
     WHERE server_port = ${PORT} AND trace_id = '0af7651916cd43dd8448eb211c80319c' GROUP BY observation_point, client_process, server_process ORDER BY observation_point`
  );
  assert.deepEqual(
    rows.map((r) => `${r.observation_point} ${r.client_process}->${r.server_process} x${r.n}`),
    ['client_process python3->python3 x1', 'server_process python3->python3 x1']
  );
});
