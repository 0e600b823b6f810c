// NATS against a real nats-server (its own port, max_payload 1024) driven by two clients: the Python
// nats-py client (PyPI `nats-py`) for CONNECT, SUB + MSG delivery, PUB, a request/reply, UNSUB and
// PINGs; and a minimal raw-protocol client (a Python socket speaking the text protocol) in verbose
// mode for +OK and two -ERR: a SUB with an invalid subject and a PUB above max_payload. Exact rows at
// both ends; CONNECT's user/pass nowhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, waitForPort, AgentHandle } from '../helpers';

const DB = 'flowlens_e2e_nats';
const PORT = 28261;
const SECRET = 'natsPassw0rd-e2e';
let server: ChildProcess;
let agent: AgentHandle;
const outputs: string[] = [];

const NATS_PY = `
import asyncio, sys, nats
async def main(port):
    nc = await nats.connect(f"nats://127.0.0.1:{port}", name="e2e-py")
    got = []
    async def on_msg(msg):
        got.append(msg.data)
    sub = await nc.subscribe("orders.created", cb=on_msg)
    async def echo(msg):
        await msg.respond(b"pong:" + msg.data)
    await nc.subscribe("svc.echo", cb=echo)
    await nc.flush()
    for i in range(3):
        await nc.publish("orders.created", b"order-%d" % i)
    await nc.flush()
    r = await nc.request("svc.echo", b"hi", timeout=2)
    await sub.unsubscribe()
    await nc.flush()
    print("got", len(got), r.data.decode())
    await nc.close()
asyncio.run(main(int(sys.argv[1])))
`;

const RAW_CLIENT = `
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.recv(4096)  # INFO
s.settimeout(1)
out = b""
def send(b):
    # read each answer before the next command, so the client sees them before the server's close
    global out
    s.sendall(b)
    try:
        out += s.recv(4096)
    except (socket.timeout, ConnectionResetError):
        pass
send(b'CONNECT {"verbose":true,"pedantic":false,"name":"e2e-raw","user":"bob","pass":"${SECRET}","lang":"python","version":"0"}\\r\\n')
send(b"PUB raw.ok 2\\r\\nhi\\r\\n")
send(b"SUB bad..subject 7\\r\\n")
send(b"PING\\r\\n")
# the server refuses on the control line alone (2000 > max_payload), answers -ERR and closes
send(b"PUB raw.big 2000\\r\\n")
print(out.decode().replace("\\r\\n", ";"))
`;

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-nats-'));
  writeFileSync(join(dir, 'nats.conf'), `listen: 127.0.0.1:${PORT}\nmax_payload: 1024\n`);
  server = spawn('nats-server', ['-c', join(dir, 'nats.conf')], { stdio: 'inherit' });
  await waitForPort(PORT);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [{ name: 'nats', port: PORT }],
  });
  for (const script of [NATS_PY, RAW_CLIENT]) {
    const r = spawnSync('python3', ['-c', script, String(PORT)], { encoding: 'utf8', timeout: 15000 });
    outputs.push(r.stdout.trim() || r.stderr.trim());
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await agent.stop(), 0, agent.output());
});

after(() => {
  agent?.proc.kill('SIGKILL');
  server?.kill();
});

test('the clients got what nats-server answers', () => {
  assert.deepEqual(outputs, ['got 3 pong:hi', "+OK;+OK;-ERR 'Invalid Subject';PONG;-ERR 'Maximum Payload Violation';"]);
});

test('exact NATS rows per observation point, verb, subject and status', async () => {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, request_domain, request_type, endpoint, response_status, response_exception, client_process, server_process, server_service, count() AS n
     FROM ${DB}.l7_flow_log WHERE l7_protocol = 'NATS' AND server_port = ${PORT}
     GROUP BY observation_point, request_domain, request_type, endpoint, response_status, response_exception, client_process, server_process, server_service
     ORDER BY observation_point, request_domain, request_type, endpoint, response_status`
  );
  const got = rows.map(
    (r) =>
      `${r.observation_point} ${r.request_domain} ${r.request_type} ${r.endpoint} ${r.response_status} ${r.response_exception} ${r.client_process}->${r.server_process}(${r.server_service}) x${r.n}`
  );
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    const s = 'python3->nats-server(nats)';
    want.push(
      `${op} e2e-py CONNECT  ok  ${s} x1`,
      `${op} e2e-py PING  ok  ${s} x4`, // connect, two flush() and the request's setup flush
      `${op} e2e-py PUB _INBOX.* ok  ${s} x1`, // the responder's reply
      `${op} e2e-py PUB orders.created ok  ${s} x3`,
      `${op} e2e-py PUB svc.echo ok  ${s} x1`, // the request (reply subject = an inbox)
      `${op} e2e-py SUB _INBOX.* ok  ${s} x1`,
      `${op} e2e-py SUB orders.created ok  ${s} x1`,
      `${op} e2e-py SUB svc.echo ok  ${s} x1`,
      `${op} e2e-py UNSUB orders.created ok  ${s} x1`,
      `${op} e2e-raw CONNECT  ok  ${s} x1`,
      `${op} e2e-raw PING  ok  ${s} x1`,
      `${op} e2e-raw PUB raw.big client_error Maximum Payload Violation ${s} x1`,
      `${op} e2e-raw PUB raw.ok ok  ${s} x1`,
      `${op} e2e-raw SUB bad..subject client_error Invalid Subject ${s} x1`
    );
  }
  assert.deepEqual(got, want);
});

test('the CONNECT password is in no stored field', async () => {
  const rows = await chQuery<{ n: number }>(
    `SELECT count() AS n FROM ${DB}.l7_flow_log WHERE position(concat(request_domain, request_resource, endpoint, response_exception), '${SECRET}') > 0`
  );
  assert.equal(Number(rows[0].n), 0);
});
