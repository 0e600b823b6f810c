// AMQP 0-9-1 against a real RabbitMQ (its own node name, ports, epmd port and temp dirs; booted once
// for this file) driven by Python pika (PyPI `pika`): declares, bind, publishes, gets (a message, an
// empty queue), an ack, confirm mode, a purge, a passive declare of a missing queue (RabbitMQ closes
// the channel with 404 NOT_FOUND) and a refused login (Connection.Close 403). Exact rows at both
// ends; the PLAIN credentials nowhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, waitForPort, AgentHandle } from '../helpers';

const DB = 'flowlens_e2e_amqp';
const PORT = 28262;
const DIST_PORT = 28263;
const EPMD_PORT = 28264;
const BAD_PASSWORD = 'amqpWr0ng-e2e';
let rabbit: ChildProcess;
let agent: AgentHandle;
let rabbitEnv: NodeJS.ProcessEnv;
const outputs: string[] = [];

const PIKA_SESSION = `
import sys, pika
port = int(sys.argv[1])
conn = pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=port, virtual_host="/", credentials=pika.PlainCredentials("guest", "guest"), heartbeat=0))
ch = conn.channel()
ch.exchange_declare(exchange="orders", exchange_type="direct")
ch.queue_declare(queue="work")
ch.queue_bind(queue="work", exchange="orders", routing_key="new")
ch.basic_publish(exchange="orders", routing_key="new", body=b"order-1")
ch.basic_publish(exchange="", routing_key="work", body=b"order-2")
m1 = ch.basic_get(queue="work", auto_ack=False)
ch.basic_ack(m1[0].delivery_tag)
m2 = ch.basic_get(queue="work", auto_ack=True)
m3 = ch.basic_get(queue="work", auto_ack=True)
ch.confirm_delivery()
ch.basic_publish(exchange="", routing_key="work", body=b"confirmed")
ch.queue_purge(queue="work")
try:
    ch.queue_declare(queue="missing-queue", passive=True)
    print("missing queue exists")
except pika.exceptions.ChannelClosedByBroker as e:
    print("closed", e.reply_code)
conn.close()
print("got", m1[2].decode(), m2[2].decode(), m3[0] is None)
`;

const PIKA_BAD_LOGIN = `
import sys, pika
try:
    pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=int(sys.argv[1]), credentials=pika.PlainCredentials("guest", "${BAD_PASSWORD}"), connection_attempts=1))
    print("logged in")
except pika.exceptions.ProbableAuthenticationError:
    print("refused")
`;

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-amqp-'));
  for (const d of ['home', 'mnesia', 'log']) {
    mkdirSync(join(dir, d));
  }
  writeFileSync(join(dir, 'enabled_plugins'), '[].');
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${PORT}\nloopback_users = none\n`);
  rabbitEnv = {
    ...process.env,
    HOME: join(dir, 'home'),
    ERL_EPMD_PORT: String(EPMD_PORT),
    RABBITMQ_NODENAME: 'flowlens_e2e_amqp@localhost',
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(PORT),
    RABBITMQ_DIST_PORT: String(DIST_PORT),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
  };
  rabbit = spawn('/usr/lib/rabbitmq/bin/rabbitmq-server', [], { env: rabbitEnv, stdio: 'ignore', detached: true });
  await waitForPort(PORT, 60000);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [{ name: 'rabbitmq', port: PORT }],
  });
  for (const script of [PIKA_SESSION, PIKA_BAD_LOGIN]) {
    const r = spawnSync('python3', ['-c', script, String(PORT)], { encoding: 'utf8', timeout: 20000 });
    outputs.push(r.stdout.trim() || r.stderr.trim());
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await agent.stop(), 0, agent.output());
});

after(async () => {
  agent?.proc.kill('SIGKILL');
  if (rabbit?.pid && rabbit.exitCode === null) {
    // the server script's process group (beam.smp and its helpers); then this test's own epmd,
    // which refuses to stop while a node is still registered
    const exited = new Promise((r) => rabbit.on('exit', r));
    try {
      process.kill(-rabbit.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15000))]);
  }
  spawnSync('epmd', ['-port', String(EPMD_PORT), '-kill'], { env: rabbitEnv, stdio: 'ignore' });
});

test('pika got what RabbitMQ answers', () => {
  assert.deepEqual(outputs, ['closed 404\ngot order-1 order-2 True', 'refused']);
});

test('exact AMQP rows per observation point, method, resource and reply code', async () => {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, request_type, request_domain, request_resource, endpoint, response_code, response_status, response_exception,
            client_process, server_process, server_service, count() AS n
     FROM ${DB}.l7_flow_log WHERE l7_protocol = 'AMQP' AND server_port = ${PORT}
     GROUP BY observation_point, request_type, request_domain, request_resource, endpoint, response_code, response_status, response_exception,
              client_process, server_process, server_service
     ORDER BY observation_point, request_type, request_resource, response_code`
  );
  const got = rows.map(
    (r) =>
      `${r.observation_point} ${r.request_type} ${r.request_domain} ${r.request_resource}|${r.endpoint} ${r.response_code} ${r.response_status} ${r.response_exception} ${r.client_process}->${r.server_process}(${r.server_service}) x${r.n}`
  );
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    const s = `python3->beam.smp(rabbitmq)`;
    want.push(
      `${op} Basic.Ack / | -1 ok  ${s} x1`,
      `${op} Basic.Get / work|work 200 ok  ${s} x3`, // GetOk, GetOk, GetEmpty
      `${op} Basic.Publish / orders/new|orders/new -1 ok  ${s} x1`,
      `${op} Basic.Publish / work|work -1 ok  ${s} x1`, // before confirm mode: one-way
      `${op} Basic.Publish / work|work 200 ok  ${s} x1`, // in confirm mode: the broker's Basic.Ack
      `${op} Channel.Open / | 200 ok  ${s} x1`,
      `${op} Confirm.Select / | 200 ok  ${s} x1`,
      `${op} Connection.Close / | 200 ok  ${s} x1`,
      `${op} Connection.Open / /|/ 200 ok  ${s} x1`,
      `${op} Connection.StartOk  | 200 ok  ${s} x1`,
      `${op} Connection.StartOk  | 403 client_error ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile. ${s} x1`,
      `${op} Exchange.Declare / orders|orders 200 ok  ${s} x1`,
      `${op} Queue.Bind / orders/work|orders/work 200 ok  ${s} x1`,
      `${op} Queue.Declare / missing-queue|missing-queue 404 client_error NOT_FOUND - no queue 'missing-queue' in vhost '/' ${s} x1`,
      `${op} Queue.Declare / work|work 200 ok  ${s} x1`,
      `${op} Queue.Purge / work|work 200 ok  ${s} x1`
    );
  }
  assert.deepEqual(got, want);
});

test('the PLAIN credentials are in no stored field', async () => {
  const rows = await chQuery<{ n: number }>(
    `SELECT count() AS n FROM ${DB}.l7_flow_log WHERE position(concat(request_domain, request_resource, endpoint, response_exception), '${BAD_PASSWORD}') > 0
       OR position(concat(request_domain, request_resource, endpoint, response_exception), 'guest') > 0`
  );
  assert.equal(Number(rows[0].n), 0);
});
