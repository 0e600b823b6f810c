import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClickHouseWriter } from '../../src/agent/export/clickhouseWriter';

const row = (i: number) => ({ time: 1795558421, host: 'h', pid: i, tid: i, process: 'p', service: 's', event: 'on_cpu', stack_id: i, stack: ['main'], value: 1 });

test('while ClickHouse is unreachable the queue keeps the newest rows up to its bound and counts every drop', async () => {
  const logs: string[] = [];
  // port 1 on loopback: connection refused at once
  const w = new ClickHouseWriter({ url: 'http://127.0.0.1:1', username: 'default', password: '', database: 'db', batchRows: 100, maxQueuedRows: 1000, log: (l) => logs.push(l) });
  try {
    for (let b = 0; b < 25; b++) {
      w.push('profile_samples', Array.from({ length: 100 }, (_, i) => row(b * 100 + i)));
    }
    w.push('not_in_schema', [{ a: 1 }, { a: 2 }]);
    const s = w.stats();
    assert.equal(s.profile_samples.queued, 1000);
    assert.equal(s.profile_samples.dropped, 1500);
    assert.equal(s.not_in_schema.queued, 2);
    assert.equal(w.queuedRows(), 1002);
    await w.flush();
    assert.equal(w.healthy, false);
    assert.equal(w.queuedRows(), 1002, 'a failed flush keeps every queued row');
    assert.equal(w.stats().profile_samples.written, 0);
    assert.match(logs.join('\n'), /cannot write to http:\/\/127\.0\.0\.1:1/);
  } finally {
    await w.close();
  }
});
