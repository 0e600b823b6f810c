// MariaDB 10.11 (a temp datadir, a password user over TCP) driven by the mariadb CLI (COM_QUERY) and
// mysql-connector-python with prepared=True (COM_STMT_PREPARE/EXECUTE/RESET/CLOSE): exact rows per
// command, SQL, endpoint, error number and status at both ends, and no password in any field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
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

const DB = 'flowlens_e2e_mysql';
const PORT = 28225;
const PASSWORD = 'mysecret-e2e';
let dir = '';
let server: ChildProcess;
let agent: AgentHandle;
const outputs: string[] = [];

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 30000 });
  assert.ok(r.status === 0 || r.status === 1, `${cmd} ${args.join(' ')}: ${r.status} ${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

const CLI_SQL = `CREATE TABLE users (id int PRIMARY KEY, name varchar(20));
INSERT INTO users VALUES (1, 'ann'), (2, 'bob');
SELECT * FROM users ORDER BY id;
SELEC 1;
SELECT * FROM missing_table;
INSERT INTO users VALUES (1, 'dup');
/* traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' */ SELECT name FROM users WHERE id = 2;
CREATE USER 'other'@'127.0.0.1' IDENTIFIED BY 'secret-other';
`;

const CONNECTOR = `
import mysql.connector
c = mysql.connector.connect(host="127.0.0.1", port=${PORT}, user="app", password="${PASSWORD}", database="shop", ssl_disabled=True)
cur = c.cursor(prepared=True)
for i in (3, 4):
    cur.execute("INSERT INTO users VALUES (%s, %s)", (i, f"u{i}"))
c.commit()
cur.execute("SELECT name FROM users WHERE id = %s", (3,)); print(cur.fetchall())
try: cur.execute("INSERT INTO users VALUES (%s, %s)", (3, "dup"))
except Exception as e: print(type(e).__name__, e)
try: cur.execute("SELECT * FROM nope WHERE id = %s", (3,))
except Exception as e: print(type(e).__name__, e)
c.ping()
c.close()
`;

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  dir = mkdtempSync(join(tmpdir(), 'flowlens-mysql-'));
  run('mariadb-install-db', [
    '--no-defaults',
    `--datadir=${join(dir, 'data')}`,
    '--user=root',
    '--auth-root-authentication-method=socket',
  ]);
  server = spawn(
    'mariadbd',
    [
      '--no-defaults',
      '--user=root',
      `--port=${PORT}`,
      '--bind-address=127.0.0.1',
      `--socket=${join(dir, 'sock')}`,
      `--datadir=${join(dir, 'data')}`,
      `--pid-file=${join(dir, 'pid')}`,
      `--log-error=${join(dir, 'err.log')}`,
      '--skip-log-bin',
    ],
    { stdio: 'ignore' }
  );
  await waitForPort(PORT, 30000);
  // set up over the Unix socket, before the agent: none of it is TCP
  run('mariadb', [
    '--no-defaults',
    '-S',
    join(dir, 'sock'),
    '-u',
    'root',
    '-e',
    `CREATE DATABASE shop; CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}'; GRANT ALL ON *.* TO 'app'@'127.0.0.1';`,
  ]);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [{ name: 'mariadb', port: PORT }],
  });
  outputs.push(
    run(
      'mariadb',
      [
        '--no-defaults',
        '-h',
        '127.0.0.1',
        '-P',
        String(PORT),
        '-u',
        'app',
        `-p${PASSWORD}`,
        '--skip-ssl',
        '--comments',
        '-f',
        'shop',
      ],
      CLI_SQL
    )
  );
  outputs.push(run('python3', ['-c', CONNECTOR]));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await agent.stop(), 0, agent.output());
});

after(() => {
  agent?.proc.kill('SIGKILL');
  server?.kill('SIGKILL');
});

test('the clients got what the server was told to do', () => {
  const all = outputs.join('\n');
  for (const s of [
    'ERROR 1064 (42000)',
    "ERROR 1146 (42S02) at line 5: Table 'shop.missing_table' doesn't exist",
    'ERROR 1062 (23000) at line 6',
    "[('u3',)]",
    "IntegrityError 1062 (23000): Duplicate entry '3'",
    'ProgrammingError 1146 (42S02)',
  ]) {
    assert.ok(all.includes(s), `${s} not in ${all}`);
  }
});

const INSERT_PREP = 'INSERT INTO users VALUES (?, ?)';
const SELECT_PREP = 'SELECT name FROM users WHERE id = ?';
const CLI_ROWS = [
  'LOGIN|app|LOGIN|-1|ok|',
  'CREATE|CREATE TABLE users (id int PRIMARY KEY, name varchar(20))|CREATE users|-1|ok|',
  "INSERT|INSERT INTO users VALUES (1, 'ann'), (2, 'bob')|INSERT users|-1|ok|",
  'SELECT|SELECT * FROM users ORDER BY id|SELECT users|-1|ok|',
  "SELEC|SELEC 1|SELEC|1064|client_error|42000: You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'SELEC 1' at line 1",
  "SELECT|SELECT * FROM missing_table|SELECT missing_table|1146|client_error|42S02: Table 'shop.missing_table' doesn't exist",
  "INSERT|INSERT INTO users VALUES (1, 'dup')|INSERT users|1062|client_error|23000: Duplicate entry '1' for key 'PRIMARY'",
  "SELECT|/* traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' */ SELECT name FROM users WHERE id = 2|SELECT users|-1|ok|",
  "CREATE|CREATE USER 'other'@'127.0.0.1' IDENTIFIED BY '***'|CREATE|-1|ok|",
  'COM_QUIT||COM_QUIT|-1|ok|',
];
const CONNECTOR_ROWS = [
  'LOGIN|app|LOGIN|-1|ok|',
  "SET|SET NAMES 'utf8mb4' COLLATE 'utf8mb4_general_ci'|SET|-1|ok|",
  'SET|SET @@session.autocommit = OFF|SET|-1|ok|',
  'COM_PING||COM_PING|-1|ok| x2',
  `COM_STMT_PREPARE|${INSERT_PREP}|COM_STMT_PREPARE users|-1|ok| x2`,
  `COM_STMT_RESET|${INSERT_PREP}|COM_STMT_RESET users|-1|ok| x3`,
  `INSERT|${INSERT_PREP}|INSERT users|-1|ok| x2`,
  'COMMIT|COMMIT|COMMIT|-1|ok|',
  `COM_STMT_CLOSE|${INSERT_PREP}|COM_STMT_CLOSE users|-1|ok| x2`,
  `COM_STMT_PREPARE|${SELECT_PREP}|COM_STMT_PREPARE users|-1|ok|`,
  `COM_STMT_RESET|${SELECT_PREP}|COM_STMT_RESET users|-1|ok|`,
  `SELECT|${SELECT_PREP}|SELECT users|-1|ok|`,
  `COM_STMT_CLOSE|${SELECT_PREP}|COM_STMT_CLOSE users|-1|ok|`,
  `INSERT|${INSERT_PREP}|INSERT users|1062|client_error|23000: Duplicate entry '3' for key 'PRIMARY'`,
  "COM_STMT_PREPARE|SELECT * FROM nope WHERE id = ?|COM_STMT_PREPARE nope|1146|client_error|42S02: Table 'shop.nope' doesn't exist",
  'COM_QUIT||COM_QUIT|-1|ok|',
];

test('exact MySQL rows per observation point, client, command and outcome', async () => {
  const got = await describeL7Rows(DB, 'MySQL', PORT);
  const want: string[] = [];
  for (const op of ['client_process', 'server_process']) {
    want.push(
      ...CLI_ROWS.map((r) => `${op} mariadb->mariadbd shop ${r}`),
      ...CONNECTOR_ROWS.map((r) => `${op} python3->mariadbd shop ${r}`)
    );
  }
  assert.deepEqual(got, want.sort());
});

test('trace context from the SQL comment, and no password anywhere', async () => {
  const traced = await tracedIds(DB, 'MySQL');
  assert.deepEqual(traced, [{ trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331' }]);
  assert.equal(await rowsContaining(DB, 'secret'), 0);
});
