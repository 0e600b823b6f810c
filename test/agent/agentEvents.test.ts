import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentEventRow, AgentLifecycle, agentVersion } from '../../src/agent/agentEvents';
import { columnTypesOf } from '../../src/agent/export/schemaEncoders';
import { RowBinaryEncoder } from '../../src/agent/export/rowBinaryEncoder';
import { TABLES } from '../../src/shared/schema';

function lifecycle(clock: number[]) {
  const rows: AgentEventRow[] = [];
  const l = new AgentLifecycle({
    host: 'node-a',
    pid: 4242,
    version: '0.1.0',
    kernel: '6.8.0',
    sink: (r) => rows.push(...r),
    nowUs: () => clock.shift()!,
  });
  return { l, rows };
}

test('a run writes one start and one stop row, the stop carrying its run start; repeats are ignored', () => {
  const { l, rows } = lifecycle([1_795_558_421_123_456, 1_795_558_481_000_001, 1_795_558_490_000_000]);
  l.stop('interrupted'); // before start: nothing to stop
  l.start('config /etc/flowlens.json');
  l.start('again');
  l.stop('terminated');
  l.stop('interrupted');
  assert.deepEqual(rows, [
    {
      time: 1_795_558_421,
      time_us: 1_795_558_421_123_456,
      host: 'node-a',
      agent_pid: 4242,
      run_start_us: 1_795_558_421_123_456,
      event: 'start',
      agent_version: '0.1.0',
      kernel: '6.8.0',
      reason: 'config /etc/flowlens.json',
    },
    {
      time: 1_795_558_481,
      time_us: 1_795_558_481_000_001,
      host: 'node-a',
      agent_pid: 4242,
      run_start_us: 1_795_558_421_123_456,
      event: 'stop',
      agent_version: '0.1.0',
      kernel: '6.8.0',
      reason: 'terminated',
    },
  ]);
});

test('rows are exactly the columns of agent_events and encode to RowBinary (the export path of every table)', () => {
  const { l, rows } = lifecycle([1_795_558_421_000_000]);
  l.start('x'.repeat(5000));
  assert.equal(rows[0].reason.length, 1024, 'the reason is bounded');
  const table = TABLES.find((t) => t.name === 'agent_events')!;
  assert.deepEqual(Object.keys(rows[0]).sort(), table.columns.map((c) => c.name).sort());
  assert.ok(columnTypesOf('agent_events', Object.keys(rows[0])));
  assert.ok(new RowBinaryEncoder().forRow('agent_events', rows[0]), 'a RowBinary codec for the row');
});

test('the version comes from package.json', () => {
  assert.match(agentVersion(), /^\d+\.\d+\.\d+/);
});
