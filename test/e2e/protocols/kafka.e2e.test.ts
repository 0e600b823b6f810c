// Kafka against a real Apache Kafka 3.9.1 broker (KRaft, broker+controller in one JVM, jars from
// Maven Central via test/e2e/kafka/pom.xml) driven by kafka-python 3.0.12 (test/e2e/kafka/client.py):
// create a topic twice (TOPIC_ALREADY_EXISTS), Metadata for a missing topic, 5 Produce acks=1,
// 3 Produce acks=0 (one-way), consume everything back. Exact rows at both ends where the count is
// the client's choice; Fetch and the clients' own Metadata refreshes vary with timing.
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

const DB = 'flowlens_e2e_kafka';
const PORT = 28280;
const CONTROLLER_PORT = 28281;
const TOPIC = 'flowlens-e2e';
const MISSING = 'flowlens-missing';
let broker: ChildProcess;
let agent: AgentHandle;
let seen: Record<string, unknown>;

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-kafka-'));
  broker = spawn('sh', [join(ROOT, 'test', 'e2e', 'kafka', 'broker.sh'), dir, String(PORT), String(CONTROLLER_PORT)], {
    stdio: 'inherit',
    detached: true,
  });
  await waitForPort(PORT, 60000);
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(broker.exitCode, null, `the broker exited (is port ${PORT} taken?)`);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [{ name: 'kafka', port: PORT }],
  });
  const r = spawnSync(
    'python3',
    [join(ROOT, 'test', 'e2e', 'kafka', 'client.py'), `127.0.0.1:${PORT}`, TOPIC, MISSING, '5', '3'],
    { encoding: 'utf8', timeout: 60000 }
  );
  assert.equal(r.status, 0, r.stderr);
  seen = JSON.parse(r.stdout.trim().split('\n').pop()!);
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(await agent.stop(), 0, agent.output());
});

after(() => {
  agent?.proc.kill('SIGKILL');
  if (broker?.pid) {
    try {
      process.kill(-broker.pid, 'SIGKILL'); // the shell and the JVM it exec'd
    } catch {
      // already gone
    }
  }
});

test('the client did what it was told', () => {
  assert.deepEqual(seen, {
    second_create: 'TOPIC_ALREADY_EXISTS',
    missing_metadata: [3],
    acks1_offsets: [0, 1, 2, 3, 4],
    consumed: 8,
  });
});

async function rows(where: string): Promise<string[]> {
  const r = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, request_type, request_domain, request_resource, endpoint, response_code, response_status, response_exception,
            client_process, server_process, count() AS n
     FROM ${DB}.l7_flow_log WHERE l7_protocol = 'Kafka' AND server_port = ${PORT} AND ${where}
     GROUP BY observation_point, request_type, request_domain, request_resource, endpoint, response_code, response_status, response_exception, client_process, server_process
     ORDER BY observation_point, request_type, request_domain, request_resource, response_code`
  );
  return r.map(
    (x) =>
      `${x.observation_point} ${x.request_type} ${x.request_domain} ${x.request_resource} [${x.endpoint}] ${x.response_code} ${x.response_status} ${x.response_exception} ${x.client_process}->${x.server_process} x${x.n}`
  );
}

test('exact Produce, CreateTopics and missing-topic Metadata rows at both ends', async () => {
  const got = await rows(`(request_type IN ('Produce', 'CreateTopics') OR request_resource = '${MISSING}')`);
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    want.push(
      `${op} CreateTopics flowlens-admin ${TOPIC} [CreateTopics ${TOPIC}] 0 ok  python3->java x1`,
      `${op} CreateTopics flowlens-admin ${TOPIC} [CreateTopics ${TOPIC}] 36 client_error Topic '${TOPIC}' already exists. python3->java x1`,
      `${op} Metadata flowlens-admin ${MISSING} [Metadata ${MISSING}] 3 client_error UNKNOWN_TOPIC_OR_PARTITION python3->java x1`,
      `${op} Produce flowlens-producer ${TOPIC} [Produce ${TOPIC}] 0 ok  python3->java x5`,
      `${op} Produce flowlens-producer-acks0 ${TOPIC} [Produce ${TOPIC}] -1 ok  python3->java x3`
    );
  }
  assert.deepEqual(got, want);
});

test('Fetch rows: at least one with the topic, all ok, the same count at both ends', async () => {
  // the consumer long-polls (fetch_max_wait_ms=100) until it has all 8 messages: how many Fetch
  // requests that takes depends on timing, and fetch sessions leave the topic out once it is known
  const got = await chQuery<{ observation_point: string; n: number; with_topic: number; bad: number }>(
    `SELECT observation_point, count() AS n, countIf(request_resource = '${TOPIC}') AS with_topic, countIf(response_status != 'ok') AS bad
     FROM ${DB}.l7_flow_log WHERE l7_protocol = 'Kafka' AND server_port = ${PORT} AND request_type = 'Fetch' GROUP BY observation_point ORDER BY observation_point`
  );
  assert.equal(got.length, 2, JSON.stringify(got));
  for (const r of got) {
    assert.ok(Number(r.n) >= 1 && Number(r.n) <= 40, JSON.stringify(r));
    assert.ok(Number(r.with_topic) >= 1, JSON.stringify(r));
    assert.equal(Number(r.bad), 0, JSON.stringify(r));
  }
  assert.equal(Number(got[0].n), Number(got[1].n));
});
