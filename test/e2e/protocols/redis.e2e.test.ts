// Redis against a real redis-server (requirepass, RESP2 and RESP3) driven by real clients: redis-py
// (PyPI `redis`, pipelines, pub/sub) and redis-cli; exact rows per command, key and status at both
// ends, and the password nowhere in the stored rows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, waitForPort, AgentHandle } from '../helpers';

const DB = 'flowlens_e2e_redis';
const PORT = 28202;
const PASSWORD = 'Sup3rSecretPw';
let server: ChildProcess;
let agent: AgentHandle;
let clientOutput = '';

const DRIVER = `
import redis, time, sys
port, pw = int(sys.argv[1]), sys.argv[2]
r = redis.Redis(host='127.0.0.1', port=port, password=pw, protocol=2)
r.set('user:1', 'alice'); r.get('user:1'); r.get('missing')
try: r.lpush('user:1', 'x')
except redis.ResponseError as e: print('WRONGTYPE' in str(e))
p = r.pipeline(transaction=False)
for i in range(3): p.set('k:%d' % i, 'v')
p.get('k:1'); p.execute()
r3 = redis.Redis(host='127.0.0.1', port=port, password=pw, protocol=3)
r3.hset('h:1', 'a', '1'); r3.hgetall('h:1')
ps = r3.pubsub(); ps.subscribe('news', 'sport'); time.sleep(0.2)
r.publish('news', 'hello'); time.sleep(0.2)
got = [ps.get_message(timeout=1) for _ in range(3)]
print([m['type'] for m in got if m])
ps.close(); r.close(); r3.close()
`;

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-redis-'));
  server = spawn(
    'redis-server',
    [
      '--port',
      String(PORT),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--requirepass',
      PASSWORD,
    ],
    { stdio: 'ignore' }
  );
  await waitForPort(PORT);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [{ name: 'redis', port: PORT }],
  });
  const py = spawnSync('python3', ['-c', DRIVER, String(PORT), PASSWORD], { encoding: 'utf8', timeout: 20000 });
  clientOutput = py.stdout + py.stderr;
  // redis-cli: one command per connection (AUTH then the command), incl. an unknown command
  const cli = (...args: string[]) =>
    spawnSync('redis-cli', ['-p', String(PORT), '-a', PASSWORD, '--no-auth-warning', ...args], {
      encoding: 'utf8',
    }).stdout.trim();
  clientOutput += `\n${cli('INCR', 'counter')}\n${cli('NOSUCHCMD', 'x')}`;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await agent.stop(), 0, agent.output());
});

after(() => {
  agent?.proc.kill('SIGKILL');
  server?.kill();
});

test('the clients got what redis-server answers', () => {
  const lines = clientOutput
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  assert.deepEqual(
    lines,
    [
      'True',
      "['subscribe', 'subscribe', 'message']",
      '1',
      "ERR unknown command 'NOSUCHCMD', with args beginning with: 'x'",
    ],
    clientOutput
  );
});

test('exact Redis rows per observation point, command, key and status', async () => {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, request_type, request_resource, endpoint, response_code, response_status, response_exception, client_process, server_process, count() AS n
     FROM ${DB}.l7_flow_log WHERE l7_protocol = 'Redis' AND server_port = ${PORT}
     GROUP BY observation_point, request_type, request_resource, endpoint, response_code, response_status, response_exception, client_process, server_process
     ORDER BY observation_point, request_resource, response_status, client_process`
  );
  const got = rows.map(
    (r) =>
      `${r.observation_point} ${r.request_type}|${r.request_resource}|${r.endpoint}|${r.response_code}|${r.response_status}|${r.response_exception} ${r.client_process}->${r.server_process} x${r.n}`
  );
  const want: string[] = [];
  const setinfo = "ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.";
  for (const op of ['client_process', 'server_process']) {
    const py = (s: string, n: number) => `${op} ${s} python3->redis-server x${n}`;
    const cli = (s: string, n: number) => `${op} ${s} redis-cli->redis-server x${n}`;
    want.push(
      py('AUTH|AUTH ***|AUTH|-1|ok|', 1),
      cli('AUTH|AUTH ***|AUTH|-1|ok|', 2),
      py(
        "CLIENT|CLIENT MAINT_NOTIFICATIONS|CLIENT|-1|client_error|ERR unknown subcommand 'MAINT_NOTIFICATIONS'. Try CLIENT HELP.",
        1
      ),
      // redis-py names itself on each of its two connections (RESP2, RESP3; pub/sub reuses the latter)
      py(`CLIENT|CLIENT SETINFO|CLIENT|-1|client_error|${setinfo}`, 4),
      py('GET|GET k:1|GET|-1|ok|', 1),
      py('GET|GET missing|GET|-1|ok|', 1),
      py('GET|GET user:1|GET|-1|ok|', 1),
      py('HELLO|HELLO ***|HELLO|-1|ok|', 1),
      py('HGETALL|HGETALL h:1|HGETALL|-1|ok|', 1),
      py('HSET|HSET h:1|HSET|-1|ok|', 1),
      cli('INCR|INCR counter|INCR|-1|ok|', 1),
      py(
        'LPUSH|LPUSH user:1|LPUSH|-1|client_error|WRONGTYPE Operation against a key holding the wrong kind of value',
        1
      ),
      cli(
        "NOSUCHCMD|NOSUCHCMD x|NOSUCHCMD|-1|client_error|ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' ",
        1
      ),
      py('PUBLISH|PUBLISH news|PUBLISH|-1|ok|', 1),
      py('SET|SET k:0|SET|-1|ok|', 1),
      py('SET|SET k:1|SET|-1|ok|', 1),
      py('SET|SET k:2|SET|-1|ok|', 1),
      py('SET|SET user:1|SET|-1|ok|', 1),
      py('SUBSCRIBE|SUBSCRIBE news|SUBSCRIBE|-1|ok|', 1)
    );
  }
  assert.deepEqual(got, want);
});

test('no stored field holds the password', async () => {
  const rows = await chQuery<{ n: number }>(
    `SELECT count() AS n FROM ${DB}.l7_flow_log WHERE position(concat(request_resource, request_domain, endpoint, response_exception, request_type), '${PASSWORD}') > 0`
  );
  assert.equal(Number(rows[0].n), 0);
});
