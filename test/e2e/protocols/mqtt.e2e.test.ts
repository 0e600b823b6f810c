// MQTT against a real mosquitto (password file + ACL, its own port and temp dir) driven by
// mosquitto_pub / mosquitto_sub: QoS 0/1/2, a retained message, MQTT 3.1.1 and 5.0, a refused login
// and an ACL-denied MQTT 5 publish. Exact rows at both ends, and the password nowhere.
// libmosquitto reads each fixed header one byte per read(): the server side exercises the parser's
// reassembly across syscalls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, waitForPort, AgentHandle } from '../helpers';

const DB = 'flowlens_e2e_mqtt';
const PORT = 28260;
const PASSWORD = 'mqttS3cret-e2e';
let broker: ChildProcess;
let agent: AgentHandle;
const results: string[] = [];

function client(tool: 'mosquitto_pub' | 'mosquitto_sub', args: string[], password = PASSWORD): string {
  const r = spawnSync(tool, ['-h', '127.0.0.1', '-p', String(PORT), '-u', 'alice', '-P', password, ...args], {
    encoding: 'utf8',
    timeout: 10000,
  });
  return `${r.status}${r.stdout.trim() ? ' ' + r.stdout.trim().replace(/\n/g, ';') : ''}`;
}

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-mqtt-'));
  writeFileSync(join(dir, 'passwd'), '');
  spawnSync('mosquitto_passwd', ['-b', join(dir, 'passwd'), 'alice', PASSWORD]);
  writeFileSync(join(dir, 'acl'), 'user alice\ntopic readwrite sensors/#\n');
  chmodSync(join(dir, 'acl'), 0o600);
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    `listener ${PORT} 127.0.0.1\nallow_anonymous false\npassword_file ${dir}/passwd\nacl_file ${dir}/acl\npersistence false\nuser root\nlog_dest none\n`
  );
  broker = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'inherit' });
  await waitForPort(PORT);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [{ name: 'mqtt-broker', port: PORT }],
  });
  // a subscriber for three messages (deliveries are not rows), then the publishers
  const sub = spawn(
    'mosquitto_sub',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(PORT),
      '-u',
      'alice',
      '-P',
      PASSWORD,
      '-i',
      'sub1',
      '-t',
      'sensors/#',
      '-C',
      '3',
      '-W',
      '10',
      '-q',
      '1',
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    }
  );
  let subOut = '';
  sub.stdout!.on('data', (d) => (subOut += d));
  await new Promise((r) => setTimeout(r, 700));
  results.push(client('mosquitto_pub', ['-i', 'pub0', '-t', 'sensors/q0', '-m', 'zero', '-q', '0']));
  results.push(client('mosquitto_pub', ['-i', 'pub1', '-t', 'sensors/q1', '-m', 'one', '-q', '1']));
  results.push(client('mosquitto_pub', ['-i', 'pub2', '-t', 'sensors/q2', '-m', 'two', '-q', '2', '-r']));
  await new Promise<void>((r) => sub.on('exit', () => r()));
  results.push(`sub ${subOut.trim().split('\n').length}`);
  results.push(client('mosquitto_pub', ['-i', 'pub5', '-t', 'sensors/v5', '-m', 'five', '-q', '1', '-V', 'mqttv5']));
  // errors: a wrong password (CONNACK 5) and a publish the ACL denies (MQTT 5 PUBACK 0x87)
  results.push(client('mosquitto_pub', ['-i', 'badpw', '-t', 'sensors/x', '-m', 'x'], 'wrong-password'));
  results.push(client('mosquitto_pub', ['-i', 'denied', '-t', 'secret/v5', '-m', 'no', '-q', '1', '-V', 'mqttv5']));
  // the retained message comes back to a late subscriber
  results.push(client('mosquitto_sub', ['-i', 'late', '-t', 'sensors/q2', '-C', '1', '-W', '5']));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await agent.stop(), 0, agent.output());
});

after(() => {
  agent?.proc.kill('SIGKILL');
  broker?.kill();
});

test('the clients got what mosquitto was told to give', () => {
  assert.deepEqual(results, ['0', '0', '0', 'sub 3', '0', '5', '0', '0 two']);
});

test('exact MQTT rows per observation point, packet type, topic, client id and code', async () => {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, request_type, request_domain, request_resource, endpoint, response_code, response_status, response_exception,
            client_process, server_process, server_service, count() AS n
     FROM ${DB}.l7_flow_log WHERE l7_protocol = 'MQTT' AND server_port = ${PORT}
     GROUP BY observation_point, request_type, request_domain, request_resource, endpoint, response_code, response_status, response_exception,
              client_process, server_process, server_service
     ORDER BY observation_point, request_domain, request_type, request_resource`
  );
  const got = rows.map(
    (r) =>
      `${r.observation_point} ${r.request_domain} ${r.request_type} ${r.request_resource}|${r.endpoint} ${r.response_code} ${r.response_status} ${r.response_exception} ${r.client_process}->${r.server_process}(${r.server_service}) x${r.n}`
  );
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    const pub = `mosquitto_pub->mosquitto(mqtt-broker)`;
    const sub = `mosquitto_sub->mosquitto(mqtt-broker)`;
    want.push(
      `${op} badpw CONNECT alice| 5 client_error Connection Refused: not authorized ${pub} x1`,
      `${op} denied CONNECT alice| 0 ok  ${pub} x1`,
      `${op} denied DISCONNECT | -1 ok  ${pub} x1`,
      `${op} denied PUBLISH secret/v5|secret/v5 135 client_error Not authorized ${pub} x1`,
      `${op} late CONNECT alice| 0 ok  ${sub} x1`,
      `${op} late DISCONNECT | -1 ok  ${sub} x1`,
      `${op} late SUBSCRIBE sensors/q2|sensors/q2 0 ok  ${sub} x1`,
      `${op} pub0 CONNECT alice| 0 ok  ${pub} x1`,
      `${op} pub0 DISCONNECT | -1 ok  ${pub} x1`,
      `${op} pub0 PUBLISH sensors/q0|sensors/q0 -1 ok  ${pub} x1`,
      `${op} pub1 CONNECT alice| 0 ok  ${pub} x1`,
      `${op} pub1 DISCONNECT | -1 ok  ${pub} x1`,
      `${op} pub1 PUBLISH sensors/q1|sensors/q1 0 ok  ${pub} x1`,
      `${op} pub2 CONNECT alice| 0 ok  ${pub} x1`,
      `${op} pub2 DISCONNECT | -1 ok  ${pub} x1`,
      `${op} pub2 PUBLISH sensors/q2|sensors/q2 0 ok  ${pub} x1`,
      `${op} pub5 CONNECT alice| 0 ok  ${pub} x1`,
      `${op} pub5 DISCONNECT | -1 ok  ${pub} x1`,
      `${op} pub5 PUBLISH sensors/v5|sensors/v5 16 ok  ${pub} x1`, // MQTT 5 PUBACK 0x10: no matching subscribers
      `${op} sub1 CONNECT alice| 0 ok  ${sub} x1`,
      `${op} sub1 DISCONNECT | -1 ok  ${sub} x1`,
      `${op} sub1 SUBSCRIBE sensors/#|sensors/# 1 ok  ${sub} x1`
    );
  }
  assert.deepEqual(got, want);
});

test('the password is in no stored field', async () => {
  const rows = await chQuery<{ n: number }>(
    `SELECT count() AS n FROM ${DB}.l7_flow_log WHERE l7_protocol = 'MQTT' AND (position(concat(request_domain, request_resource, endpoint, response_exception), '${PASSWORD}') > 0
       OR position(concat(request_domain, request_resource, endpoint, response_exception), 'wrong-password') > 0)`
  );
  assert.equal(Number(rows[0].n), 0);
});
