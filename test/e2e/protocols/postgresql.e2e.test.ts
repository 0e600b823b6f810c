// PostgreSQL 15 (a temp cluster, md5 auth over TCP) driven by psql (simple protocol) and psycopg 3
// with prepare=True (extended protocol: Parse/Sync, then Bind/Describe/Execute/Sync on a named
// statement): exact rows per request, SQL, endpoint, SQLSTATE and status at both ends, no secrets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  assertRoot,
  freeDatabase,
  requireClickHouse,
  startAgent,
  waitForPort,
  AgentHandle,
  describeL7Rows,
  tracedIds,
  rowsContaining,
} from '../helpers';

const DB = 'flowlens_e2e_postgresql';
const PORT = 28220;
const BIN = '/usr/lib/postgresql/15/bin';
const PASSWORD = 'pgsecret-e2e';
let dir = '';
let agent: AgentHandle;
const outputs: string[] = [];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, input, timeout: 30000 });
  assert.ok(r.status === 0 || r.status === 3 || r.status === 1, `${cmd} ${args.join(' ')}: ${r.status} ${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

const asPostgres = (args: string[]) => run('runuser', ['-u', 'postgres', '--', ...args]);

const PSQL_SQL = `CREATE TABLE users (id int PRIMARY KEY, name text);
INSERT INTO users VALUES (1, 'ann'), (2, 'bob');
SELECT * FROM users ORDER BY id;
SELEC 1;
SELECT * FROM missing_table;
INSERT INTO users VALUES (1, 'dup');
/* traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' */ SELECT name FROM users WHERE id = 2;
CREATE ROLE app LOGIN PASSWORD 'sekret-role';
`;

const PSYCOPG = `
import psycopg, sys
with psycopg.connect(host="127.0.0.1", port=${PORT}, user="postgres", password="${PASSWORD}", dbname="shop", sslmode="disable") as c:
    c.autocommit = True
    cur = c.cursor()
    for i in (3, 4):
        cur.execute("INSERT INTO users VALUES (%s, %s)", (i, f"u{i}"), prepare=True)
    print(cur.execute("SELECT name FROM users WHERE id = %s", (3,), prepare=True).fetchall())
    print(cur.execute("SELECT name FROM users WHERE id = %s", (4,), prepare=True).fetchall())
    try: cur.execute("INSERT INTO users VALUES (%s, %s)", (3, "dup"), prepare=True)
    except Exception as e: print(type(e).__name__)
    try: cur.execute("SELECT * FROM nope WHERE id = %s", (3,), prepare=True)
    except Exception as e: print(type(e).__name__)
`;

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  dir = mkdtempSync(join(tmpdir(), 'flowlens-pg-'));
  chmodSync(dir, 0o755);
  chownSync(dir, Number(run('id', ['-u', 'postgres']).trim()), 0);
  writeFileSync(join(dir, 'pw'), `${PASSWORD}\n`);
  chmodSync(join(dir, 'pw'), 0o644);
  asPostgres([
    `${BIN}/initdb`,
    '-D',
    join(dir, 'data'),
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=md5',
    `--pwfile=${join(dir, 'pw')}`,
  ]);
  asPostgres([
    `${BIN}/pg_ctl`,
    '-D',
    join(dir, 'data'),
    '-l',
    join(dir, 'log'),
    '-o',
    `-p ${PORT} -k ${dir} -c listen_addresses=127.0.0.1 -c password_encryption=md5`,
    '-w',
    'start',
  ]);
  await waitForPort(PORT);
  asPostgres(['psql', '-h', dir, '-p', String(PORT), '-X', '-q', '-c', 'CREATE DATABASE shop']);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [{ name: 'pg', port: PORT }],
  });
  outputs.push(
    run(
      'psql',
      ['-h', '127.0.0.1', '-p', String(PORT), '-U', 'postgres', '-d', 'shop', '-X', '-f', '-'],
      { PGPASSWORD: PASSWORD },
      PSQL_SQL
    )
  );
  outputs.push(run('python3', ['-c', PSYCOPG]));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await agent.stop(), 0, agent.output());
});

after(() => {
  agent?.proc.kill('SIGKILL');
  if (dir) {
    spawnSync('runuser', ['-u', 'postgres', '--', `${BIN}/pg_ctl`, '-D', join(dir, 'data'), '-m', 'immediate', 'stop']);
  }
});

test('the clients got what the server was told to do', () => {
  const all = outputs.join('\n');
  for (const s of [
    'CREATE TABLE',
    'INSERT 0 2',
    'syntax error at or near "SELEC"',
    'relation "missing_table" does not exist',
    'duplicate key value',
    'CREATE ROLE',
    "[('u3',)]",
    "[('u4',)]",
    'UniqueViolation',
    'UndefinedTable',
  ]) {
    assert.ok(all.includes(s), `${s} not in ${all}`);
  }
});

const PSQL_ROWS = [
  'STARTUP|postgres|STARTUP|-1|ok|',
  'CREATE|CREATE TABLE users (id int PRIMARY KEY, name text);|CREATE users|-1|ok|',
  "INSERT|INSERT INTO users VALUES (1, 'ann'), (2, 'bob');|INSERT users|-1|ok|",
  'SELECT|SELECT * FROM users ORDER BY id;|SELECT users|-1|ok|',
  'SELEC|SELEC 1;|SELEC|42601|client_error|42601: syntax error at or near "SELEC"',
  'SELECT|SELECT * FROM missing_table;|SELECT missing_table|-1|client_error|42P01: relation "missing_table" does not exist',
  'INSERT|INSERT INTO users VALUES (1, \'dup\');|INSERT users|23505|client_error|23505: duplicate key value violates unique constraint "users_pkey"',
  "SELECT|/* traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' */ SELECT name FROM users WHERE id = 2;|SELECT users|-1|ok|",
  "CREATE|CREATE ROLE app LOGIN PASSWORD '***';|CREATE|-1|ok|",
  'TERMINATE||TERMINATE|-1|ok|',
];
const PSYCOPG_ROWS = [
  'STARTUP|postgres|STARTUP|-1|ok|',
  'PREPARE|INSERT INTO users VALUES ($1, $2)|PREPARE users|-1|ok|',
  'INSERT|INSERT INTO users VALUES ($1, $2)|INSERT users|-1|ok| x2',
  'PREPARE|SELECT name FROM users WHERE id = $1|PREPARE users|-1|ok|',
  'SELECT|SELECT name FROM users WHERE id = $1|SELECT users|-1|ok| x2',
  'INSERT|INSERT INTO users VALUES ($1, $2)|INSERT users|23505|client_error|23505: duplicate key value violates unique constraint "users_pkey"',
  'PREPARE|SELECT * FROM nope WHERE id = $1|PREPARE nope|-1|client_error|42P01: relation "nope" does not exist',
  'TERMINATE||TERMINATE|-1|ok|',
];

test('exact PostgreSQL rows per observation point, client, request and outcome', async () => {
  const got = await describeL7Rows(DB, 'PostgreSQL', PORT);
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    want.push(
      ...PSQL_ROWS.map((r) => `${op} psql->postgres shop ${r}`),
      ...PSYCOPG_ROWS.map((r) => `${op} python3->postgres shop ${r}`)
    );
  }
  assert.deepEqual(got, want.sort());
});

test('trace context from the SQL comment, and no password anywhere', async () => {
  const traced = await tracedIds(DB, 'PostgreSQL');
  assert.deepEqual(traced, [{ trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331' }]);
  assert.equal(await rowsContaining(DB, 'secret'), 0);
});
