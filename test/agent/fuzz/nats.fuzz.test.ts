import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzParser, FUZZ_ITERATIONS } from './fuzzHarness';
import { NatsParser } from '../../../src/agent/protocols/nats/natsParser';
import { loadCapture } from '../protocols/mqttReplay';

// every recorded syscall of the real session (test/agent/protocols/fixtures/nats/nats-server-session.json)
const corpus = loadCapture('nats', 'nats-server-session.json').map((e) => Buffer.from(e.hex, 'hex'));

test('NatsParser survives random and mutated input, one connection state across inputs', () => {
  const r = fuzzParser(() => new NatsParser(), corpus, 7);
  assert.equal(r.inputs, FUZZ_ITERATIONS);
  console.log(`nats fuzz: ${r.inputs} inputs, ${r.messages} messages, slowest ${r.slowestMs.toFixed(2)} ms`);
});
