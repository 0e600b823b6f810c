// Memcached against a real memcached driven by pymemcache (PyPI, classic text commands, noreply,
// a value too large for the cache) and `printf | nc` (meta commands incl. quiet mode, an unknown
// command): exact rows per command, key, code and status at both ends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, waitForPort, AgentHandle } from '../helpers';

const DB = 'flowlens_e2e_memcached';
const PORT = 28204;
let server: ChildProcess;
let agent: AgentHandle;
let clientOutput = '';

const DRIVER = `
import sys
from pymemcache.client.base import Client
c = Client(('127.0.0.1', int(sys.argv[1])))
print(c.set('user:1', 'alice', noreply=False), c.get('user:1'), c.get('missing'))
c.set('quiet', 'q', noreply=True)
print(c.add('user:1', 'bob', noreply=False), c.delete('nokey', noreply=False), c.incr('nokey', 1, noreply=False))
try: c.set('huge', 'x' * (2 * 1024 * 1024), noreply=False)
except Exception as e: print(type(e).__name__)
c.close()
`;

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  server = spawn('memcached', ['-p', String(PORT), '-U', '0', '-l', '127.0.0.1', '-u', 'root'], { stdio: 'ignore' });
  await waitForPort(PORT);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [{ name: 'memcached', port: PORT }],
  });
  const py = spawnSync('python3', ['-c', DRIVER, String(PORT)], { encoding: 'utf8', timeout: 20000 });
  clientOutput = py.stdout + py.stderr;
  const nc = spawnSync(
    'sh',
    [
      '-c',
      `printf 'ms mk 2 T0\\r\\nhi\\r\\nmg mk v\\r\\nmg nokey v\\r\\nmg a v q\\r\\nmn\\r\\nbogus\\r\\n' | nc -q1 127.0.0.1 ${PORT}`,
    ],
    { encoding: 'utf8', timeout: 10000 }
  );
  clientOutput += nc.stdout;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await agent.stop(), 0, agent.output());
});

after(() => {
  agent?.proc.kill('SIGKILL');
  server?.kill();
});

test('the clients got what memcached answers', () => {
  assert.deepEqual(clientOutput.split(/\r?\n/).filter(Boolean), [
    "True b'alice' None",
    'False False None',
    'MemcacheServerError',
    'HD',
    'VA 2',
    'hi',
    'EN',
    'MN',
    'ERROR',
  ]);
});

test('exact Memcached rows per observation point, command, key, code and status', async () => {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, request_type, request_resource, endpoint, response_code, response_status, response_exception, client_process, server_process, count() AS n
     FROM ${DB}.l7_flow_log WHERE l7_protocol = 'Memcached' AND server_port = ${PORT}
     GROUP BY observation_point, request_type, request_resource, endpoint, response_code, response_status, response_exception, client_process, server_process
     ORDER BY observation_point, request_resource, response_code, response_status`
  );
  const got = rows.map(
    (r) =>
      `${r.observation_point} ${r.request_type}|${r.request_resource}|${r.endpoint}|${r.response_code}|${r.response_status}|${r.response_exception} ${r.client_process}->${r.server_process} x${r.n}`
  );
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    const py = (s: string) => `${op} ${s} python3->memcached x1`;
    const nc = (s: string) => `${op} ${s} nc->memcached x1`;
    want.push(
      py('ADD|ADD user:1|ADD|-1|ok|NOT_STORED'),
      nc('BOGUS|BOGUS|BOGUS|-1|client_error|ERROR'),
      py('DELETE|DELETE nokey|DELETE|-1|ok|NOT_FOUND'),
      py('GET|GET missing|GET|0|ok|'),
      py('GET|GET user:1|GET|1|ok|'),
      py('INCR|INCR nokey|INCR|-1|ok|NOT_FOUND'),
      nc('MG|MG a|MG|-1|ok|'), // quiet: logged at once, its miss answered by silence
      nc('MG|MG mk|MG|1|ok|'),
      nc('MG|MG nokey|MG|0|ok|'),
      nc('MN|MN|MN|-1|ok|'),
      nc('MS|MS mk|MS|-1|ok|'),
      py('SET|SET huge|SET|-1|server_error|SERVER_ERROR object too large for cache'),
      py('SET|SET quiet|SET|-1|ok|'), // noreply
      py('SET|SET user:1|SET|-1|ok|')
    );
  }
  assert.deepEqual(got, want);
});
