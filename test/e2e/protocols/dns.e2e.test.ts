// DNS over UDP and TCP against a real dnsmasq with dig as the client: exact rows per name, type and
// code at both ends. dnsmasq answers on an unconnected UDP socket, so the server side exercises the
// peer address taken from recvmsg/sendmsg's sockaddr.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, AgentHandle } from '../helpers';

const DB = 'flowlens_e2e_dns';
const PORT = 28300;
let dnsmasq: ChildProcess;
let agent: AgentHandle;
const answers: string[] = [];

function dig(name: string, type: string, tcp = false): string {
  const args = ['@127.0.0.1', '-p', String(PORT), name, type, '+tries=1', '+time=3', '+noall', '+comments'];
  if (tcp) {
    args.push('+tcp');
  }
  const r = spawnSync('dig', args, { encoding: 'utf8' });
  return /status: (\w+)/.exec(r.stdout)?.[1] ?? `no answer: ${r.stdout}${r.stderr}`;
}

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-dns-'));
  dnsmasq = spawn(
    'dnsmasq',
    [
      '-k',
      '--conf-file=/dev/null',
      `--port=${PORT}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      '--local=/test/',
      '--address=/known.test/10.1.2.3',
      '-u',
      'root',
      `--pid-file=${dir}/pid`,
      '--log-facility=/dev/null',
    ],
    { stdio: 'inherit' }
  );
  await new Promise((r) => setTimeout(r, 500));
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [{ name: 'dns', port: PORT }],
  });
  for (let i = 0; i < 3; i++) {
    answers.push(dig('known.test', 'A'));
  }
  answers.push(dig('known.test', 'AAAA'));
  for (let i = 0; i < 2; i++) {
    answers.push(dig('missing.test', 'A'));
  }
  for (let i = 0; i < 2; i++) {
    answers.push(dig('known.test', 'A', true));
  }
  answers.push(dig('outside.example', 'A'));
  assert.equal(await agent.stop(), 0, agent.output());
});

after(() => {
  agent?.proc.kill('SIGKILL');
  dnsmasq?.kill();
});

test('dig got the answers dnsmasq was told to give', () => {
  // dnsmasq answers NXDOMAIN for a type it holds no record of under --local (the AAAA query)
  assert.deepEqual(answers, [
    'NOERROR',
    'NOERROR',
    'NOERROR',
    'NXDOMAIN',
    'NXDOMAIN',
    'NXDOMAIN',
    'NOERROR',
    'NOERROR',
    'REFUSED',
  ]);
});

test('exact DNS rows per observation point, transport, type, name and code', async () => {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, l4_protocol, request_type, request_resource, response_code, response_status, response_exception,
            client_process, server_process, server_service, count() AS n
     FROM ${DB}.l7_flow_log WHERE l7_protocol = 'DNS' AND server_port = ${PORT}
     GROUP BY observation_point, l4_protocol, request_type, request_resource, response_code, response_status, response_exception,
              client_process, server_process, server_service
     ORDER BY observation_point, l4_protocol, request_resource, request_type, response_code`
  );
  const got = rows.map(
    (r) =>
      `${r.observation_point} ${r.l4_protocol} ${r.request_type} ${r.request_resource} ${r.response_code} ${r.response_status} ${r.response_exception} ${r.client_process}->${r.server_process}(${r.server_service}) x${r.n}`
  );
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    want.push(
      `${op} TCP A known.test 0 ok  dig->dnsmasq(dns) x2`,
      `${op} UDP A known.test 0 ok  dig->dnsmasq(dns) x3`,
      `${op} UDP AAAA known.test 3 client_error NXDOMAIN dig->dnsmasq(dns) x1`,
      `${op} UDP A missing.test 3 client_error NXDOMAIN dig->dnsmasq(dns) x2`,
      `${op} UDP A outside.example 5 client_error REFUSED dig->dnsmasq(dns) x1`
    );
  }
  assert.deepEqual(got, want);
});

test('UDP flows in l4_flow_log: one per dig at each end, one datagram each way', async () => {
  const rows = await chQuery<{ observation_point: string; n: string; tx: string; rx: string; procs: string }>(
    `SELECT observation_point, count() AS n, sum(packet_tx) AS tx, sum(packet_rx) AS rx, arrayStringConcat(groupUniqArray(concat(client_process, '->', server_process)), ',') AS procs
     FROM ${DB}.l4_flow_log WHERE l4_protocol = 'UDP' AND server_port = ${PORT} GROUP BY observation_point ORDER BY observation_point`
  );
  assert.deepEqual(
    rows.map((r) => [r.observation_point, Number(r.n), Number(r.tx), Number(r.rx), r.procs]),
    [
      ['client_process', 7, 7, 7, 'dig->dnsmasq'],
      ['server_process', 7, 7, 7, 'dig->dnsmasq'],
    ]
  );
});
