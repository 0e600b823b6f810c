import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzParser, FUZZ_ITERATIONS } from './fuzzHarness';
import { MqttParser } from '../../../src/agent/protocols/mqtt/mqttParser';
import { loadCapture } from '../protocols/mqttReplay';

// every recorded syscall of the real session (test/agent/protocols/fixtures/mqtt/mosquitto-session.json)
const corpus = loadCapture('mqtt', 'mosquitto-session.json').map((e) => Buffer.from(e.hex, 'hex'));

test('MqttParser survives random and mutated input, one connection state across inputs', () => {
  const r = fuzzParser(() => new MqttParser(), corpus, 7);
  assert.equal(r.inputs, FUZZ_ITERATIONS);
  console.log(`mqtt fuzz: ${r.inputs} inputs, ${r.messages} messages, slowest ${r.slowestMs.toFixed(2)} ms`);
});
