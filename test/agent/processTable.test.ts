import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ProcessTable } from '../../src/agent/conntrack/processTable';

const proc = mkdtempSync(join(tmpdir(), 'flowlens-proc-'));
const fakeProc = (pid: number, comm: string) => {
  mkdirSync(join(proc, String(pid)), { recursive: true });
  writeFileSync(join(proc, String(pid), 'comm'), comm + '\n');
};

test('a process renamed after exec is named by its new name; an exited one keeps its exec name', () => {
  const t = new ProcessTable([], proc);
  fakeProc(10, 'loadgen');
  t.onExec(10, 'node');
  assert.equal(t.comm(10), 'loadgen');
  t.onExec(11, 'curl');
  t.onExit(11, 5);
  assert.equal(t.comm(11), 'curl');
  assert.equal(t.comm(12), 'pid-12', 'unknown and gone');
});

test('services: port rules name servers, process rules name any end, else the process name', () => {
  fakeProc(20, 'python3');
  fakeProc(21, 'nginx');
  const t = new ProcessTable(
    [
      { name: 'backend', port: 8080 },
      { name: 'gateway', process: 'nginx' },
    ],
    proc
  );
  assert.equal(t.service(20, 8080), 'backend');
  assert.equal(t.service(20), 'python3');
  assert.equal(t.service(21), 'gateway');
  assert.equal(t.remoteService('10.0.0.9', 8080, true), 'backend');
  assert.equal(t.remoteService('10.0.0.9', 5432, true), '10.0.0.9');
});

test('bounded: past its bound the least recently named process is forgotten and read again from /proc when it comes back', () => {
  fakeProc(31, 'worker');
  const t = new ProcessTable([], proc, 2);
  t.onExec(30, 'a');
  t.onExec(31, 'b');
  assert.equal(t.comm(30), 'a', 'not in /proc: its exec name');
  t.onExec(32, 'c'); // 31 was the least recently used
  assert.deepEqual(t.stats(), { name: 'processes', size: 2, max: 2, evicted: 1 });
  assert.equal(t.comm(31), 'worker', 'read again from /proc');
});
