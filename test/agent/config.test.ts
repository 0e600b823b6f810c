import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadConfig, ConfigError } from '../../src/agent/config';

const dir = mkdtempSync(join(tmpdir(), 'flowlens-config-'));
const file = (obj: unknown) => {
  const p = join(dir, `${Math.random()}.json`);
  writeFileSync(p, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return p;
};

test('defaults point at the local ClickHouse and ignore its port', () => {
  const c = loadConfig(undefined, {});
  assert.equal(c.clickhouseUrl, 'http://127.0.0.1:18123');
  assert.deepEqual(c.ignorePorts, [18123]);
  assert.equal(c.captureBytes, 1024);
});

test('each bad value is one clear message naming the key', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ captureBytes: 999999 }, /captureBytes=999999 is invalid: expected an integer from 16 to 4096/],
    [{ clickhouseUrl: 'ftp://x' }, /clickhouseUrl="ftp:\/\/x" is invalid: ClickHouse is reached over http/],
    [{ clickhouseUrl: 'not a url' }, /clickhouseUrl="not a url" is invalid: expected an http\(s\) URL/],
    [{ database: 'x; DROP TABLE y' }, /database="x; DROP TABLE y" is invalid/],
    [{ nonsense: 1 }, /unknown key "nonsense"/],
    [{ limits: { connections: 10 } }, /limits.connections=10 is invalid: expected an integer from 1024 to 10000000/],
    [
      { limits: { tables: 1 } },
      /limits: unknown key "tables" \(known keys: connections, processes, packetFlows, redRowsPerSecond\)/,
    ],
    [{ services: [{ name: 'a' }] }, /services\[0\] is invalid: give "process" or "port"/],
    ['{not json', /cannot be read as JSON/],
    ['[1,2]', /must hold a JSON object/],
  ];
  for (const [obj, re] of cases) {
    assert.throws(
      () => loadConfig(file(obj), {}),
      (e: Error) => e instanceof ConfigError && re.test(e.message) && !e.message.includes('\n')
    );
  }
  assert.throws(() => loadConfig(undefined, { FLOWLENS_CAPTURE_BYTES: 'lots' }), /captureBytes="lots" is invalid/);
});

test('file then environment override the defaults', () => {
  const c = loadConfig(file({ captureBytes: 256, services: [{ name: 'web', port: 8080 }] }), {
    FLOWLENS_CLICKHOUSE_URL: 'http://10.0.0.5:8123/',
  });
  assert.equal(c.captureBytes, 256);
  assert.equal(c.clickhouseUrl, 'http://10.0.0.5:8123');
  assert.deepEqual(c.ignorePorts, [], 'a remote store is not on this host: nothing to ignore');
  assert.equal(c.services[0].name, 'web');
});

test('limits: defaults, then the file, then FLOWLENS_LIMIT_* variables; a bad variable names itself', () => {
  assert.deepEqual(loadConfig(undefined, {}).limits, {
    connections: 32768,
    processes: 32768,
    packetFlows: 16384,
    redRowsPerSecond: 10000,
  });
  const c = loadConfig(file({ limits: { connections: 4096, packetFlows: 2048 } }), {
    FLOWLENS_LIMIT_CONNECTIONS: '8192',
    FLOWLENS_LIMIT_RED_ROWS_PER_SECOND: '500',
  });
  assert.deepEqual(c.limits, { connections: 8192, processes: 32768, packetFlows: 2048, redRowsPerSecond: 500 });
  assert.throws(
    () => loadConfig(undefined, { FLOWLENS_LIMIT_PROCESSES: 'lots' }),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message ===
        'config environment FLOWLENS_LIMIT_PROCESSES="lots" is invalid: expected an integer from 1024 to 10000000'
  );
});
