import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describe as describePair, fixture, loadCapture, replay, Chunk } from './redisCaptureReplay';
import { MysqlParser } from '../../../src/agent/protocols/mysql/mysqlParser';
import type { ParsedMessage, SegmentContext } from '../../../src/agent/protocols/types';

// the mariadb 10.11 CLI (COM_QUERY) then mysql-connector-python 26.10.0 with prepared=True
// (COM_STMT_PREPARE/EXECUTE/RESET/CLOSE) against MariaDB 10.11, recorded by a TCP proxy.
const capture = loadCapture(fixture('mysql', 'mariadb-cli-and-mysql-connector.jsonl'));

const INSERT_PREP = 'INSERT INTO users VALUES (?, ?)';
const SELECT_PREP = 'SELECT name FROM users WHERE id = ?';
const EXPECTED = [
  'LOGIN|app|LOGIN|-1|ok|',
  'CREATE|CREATE TABLE users (id int PRIMARY KEY, name varchar(20))|CREATE users|-1|ok|',
  "INSERT|INSERT INTO users VALUES (1, 'ann'), (2, 'bob')|INSERT users|-1|ok|",
  'SELECT|SELECT * FROM users ORDER BY id|SELECT users|-1|ok|',
  "SELEC|SELEC 1|SELEC|1064|client_error|42000: You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'SELEC 1' at line 1",
  "SELECT|SELECT * FROM missing_table|SELECT missing_table|1146|client_error|42S02: Table 'shop.missing_table' doesn't exist",
  "INSERT|INSERT INTO users VALUES (1, 'dup')|INSERT users|1062|client_error|23000: Duplicate entry '1' for key 'PRIMARY'",
  'SELECT| SELECT name FROM users WHERE id = 2|SELECT users|-1|ok|',
  "SET|SET PASSWORD FOR 'app'@'127.0.0.1' = PASSWORD('***')|SET|-1|ok|",
  'COM_QUIT|undefined|COM_QUIT|-1|ok|',
  'LOGIN|app|LOGIN|-1|ok|',
  "SET|SET NAMES 'utf8mb4' COLLATE 'utf8mb4_general_ci'|SET|-1|ok|",
  'SET|SET @@session.autocommit = OFF|SET|-1|ok|',
  'COM_PING|undefined|COM_PING|-1|ok|',
  `COM_STMT_PREPARE|${INSERT_PREP}|COM_STMT_PREPARE users|-1|ok|`,
  `COM_STMT_RESET|${INSERT_PREP}|COM_STMT_RESET users|-1|ok|`,
  `INSERT|${INSERT_PREP}|INSERT users|-1|ok|`,
  `COM_STMT_RESET|${INSERT_PREP}|COM_STMT_RESET users|-1|ok|`,
  `INSERT|${INSERT_PREP}|INSERT users|-1|ok|`,
  'COMMIT|COMMIT|COMMIT|-1|ok|',
  `COM_STMT_CLOSE|${INSERT_PREP}|COM_STMT_CLOSE users|-1|ok|`,
  `COM_STMT_PREPARE|${SELECT_PREP}|COM_STMT_PREPARE users|-1|ok|`,
  `COM_STMT_RESET|${SELECT_PREP}|COM_STMT_RESET users|-1|ok|`,
  `SELECT|${SELECT_PREP}|SELECT users|-1|ok|`,
  `COM_STMT_CLOSE|${SELECT_PREP}|COM_STMT_CLOSE users|-1|ok|`,
  `COM_STMT_PREPARE|${INSERT_PREP}|COM_STMT_PREPARE users|-1|ok|`,
  `COM_STMT_RESET|${INSERT_PREP}|COM_STMT_RESET users|-1|ok|`,
  `INSERT|${INSERT_PREP}|INSERT users|1062|client_error|23000: Duplicate entry '3' for key 'PRIMARY'`,
  `COM_STMT_CLOSE|${INSERT_PREP}|COM_STMT_CLOSE users|-1|ok|`,
  "COM_STMT_PREPARE|SELECT * FROM nope WHERE id = ?|COM_STMT_PREPARE nope|1146|client_error|42S02: Table 'shop.nope' doesn't exist",
  'COM_PING|undefined|COM_PING|-1|ok|',
  'COM_QUIT|undefined|COM_QUIT|-1|ok|',
];

for (const side of ['client', 'server'] as const) {
  test(`real capture seen from the ${side}: every command, its SQL and its outcome`, () => {
    const r = replay(capture, side);
    assert.deepEqual([...r.protocols.values()], ['MySQL', 'MySQL']);
    assert.equal(r.orphans, 0);
    assert.deepEqual(r.pairs.map(describePair), EXPECTED);
    assert.ok(r.pairs.every((p) => p.request.msg.domain === 'shop'));
    // result sets end at their final EOF: lengths are whole responses
    assert.deepEqual(
      r.pairs.slice(0, 9).map((p) => p.response?.length),
      [20, 11, 50, 138, 168, 53, 50, 81, 11]
    );
    assert.ok(!JSON.stringify(r.pairs.map((p) => [p.request.msg, p.response?.msg])).includes('apppw'));
  });
}

const client: SegmentContext = { egress: true, localPort: 40000, peerPort: 3306, l4: 'TCP' };
const server: SegmentContext = { ...client, egress: false };
const packet = (seq: number, payload: Buffer) =>
  Buffer.concat([
    Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, payload.length >> 16, seq]),
    payload,
  ]);

test('a result set over many syscalls ends at its last EOF, also when the framing is lost', () => {
  const p = new MysqlParser();
  p.parse(capture[0].data, capture[0].data.length, undefined, server); // greeting
  p.parse(capture[1].data, capture[1].data.length, undefined, client); // login
  p.parse(capture[2].data, capture[2].data.length, undefined, server); // OK
  const q = p.parse(packet(0, Buffer.from('\x03SELECT * FROM big', 'latin1')), 22, undefined, client) as ParsedMessage;
  assert.equal(q.endpoint, 'SELECT big');
  const head = Buffer.concat([
    packet(1, Buffer.from([1])),
    packet(2, Buffer.alloc(30, 3)),
    packet(3, Buffer.from('fe00000200', 'hex')),
  ]);
  const rows = Buffer.concat(Array.from({ length: 300 }, (_, i) => packet((4 + i) & 0xff, Buffer.alloc(20, 5))));
  const all = Buffer.concat([head, rows]);
  const first = p.parse(all.subarray(0, 1024), 8192, undefined, server) as ParsedMessage;
  assert.equal(first.totalLength, undefined);
  assert.equal(p.parse(rows.subarray(0, 1024), 8192, undefined, server), null);
  const eof = packet(9, Buffer.from('fe00000200', 'hex'));
  assert.equal(p.parse(eof, eof.length, undefined, server), null);
  assert.equal(first.totalLength, 8192 + 8192 + 9);
});

test('inference: greeting or a whole COM_QUERY; not HTTP, PostgreSQL or Redis', () => {
  const p = new MysqlParser();
  assert.equal(p.infer(capture[0].data, server), true);
  assert.equal(p.infer(capture[3].data, client), true, 'COM_QUERY mid-stream');
  assert.equal(p.infer(Buffer.from('GET / HTTP/1.1\r\n\r\n'), client), false);
  assert.equal(p.infer(Buffer.from('000000080004d2162f', 'hex'), client), false);
  assert.equal(p.infer(Buffer.from('*1\r\n$4\r\nPING\r\n'), client), false);
});

test('a client that reads each packet as header then payload (mysql-connector): same rows', () => {
  const split = capture.flatMap((c) => {
    if (c.dir !== 's2c') {
      return [c];
    }
    return headerThenPayload(c);
  });
  // the agent finds no protocol in the greeting's lone header and payload (the replay helper does not
  // retry inference, so they are left out): the handshake response is what names the connection
  const greeting = new Set([
    split.find((c) => c.conn === 1),
    split.filter((c) => c.conn === 1)[1],
    split.find((c) => c.conn === 2),
    split.filter((c) => c.conn === 2)[1],
  ]);
  const r = replay(
    split.filter((c) => !greeting.has(c)),
    'client'
  );
  assert.equal(r.orphans, 0);
  assert.deepEqual(r.pairs.map(describePair), EXPECTED);
  assert.ok(r.pairs.every((p) => p.request.msg.domain === 'shop'));
});

function headerThenPayload(c: Chunk): Chunk[] {
  const parts: Chunk[] = [];
  for (let off = 0; off + 4 <= c.data.length;) {
    const end = off + 4 + c.data.readUIntLE(off, 3);
    parts.push({ ...c, data: c.data.subarray(off, off + 4) }, { ...c, data: c.data.subarray(off + 4, end) });
    off = end;
  }
  return parts;
}

test('a server that reads each packet as header then payload (mariadbd): same rows', () => {
  const split = capture.flatMap((c) => (c.dir === 'c2s' ? headerThenPayload(c) : [c]));
  const r = replay(split, 'server');
  assert.equal(r.orphans, 0);
  assert.deepEqual(r.pairs.map(describePair), EXPECTED);
  assert.ok(r.pairs.every((p) => p.request.msg.domain === 'shop'));
});
