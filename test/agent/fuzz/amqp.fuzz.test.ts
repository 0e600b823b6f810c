import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzParser, FUZZ_ITERATIONS } from './fuzzHarness';
import { AmqpParser } from '../../../src/agent/protocols/amqp/amqpParser';
import { loadCapture } from '../protocols/mqttReplay';

// every recorded syscall of the real session (test/agent/protocols/fixtures/amqp/rabbitmq-pika-session.json)
const corpus = loadCapture('amqp', 'rabbitmq-pika-session.json').map((e) => Buffer.from(e.hex, 'hex'));

test('AmqpParser survives random and mutated input, one connection state across inputs', () => {
  const r = fuzzParser(() => new AmqpParser(), corpus, 7);
  assert.equal(r.inputs, FUZZ_ITERATIONS);
  console.log(`amqp fuzz: ${r.inputs} inputs, ${r.messages} messages, slowest ${r.slowestMs.toFixed(2)} ms`);
});
