// Kafka parser under random and mutated input: a corpus of every message of real captures
// (kafka-python flexible and classic versions, confluent-kafka), requests and responses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzParser } from './fuzzHarness';
import { KafkaParser } from '../../../src/agent/protocols/kafka/kafkaParser';
import { loadKafkaCapture } from '../protocols/kafkaReplay';

const corpus = [
  'kafka-python-3.0.12-flexible.jsonl',
  'confluent-kafka-2.16.1.jsonl',
  'kafka-python-3.0.12-classic-producer.jsonl',
  'kafka-python-3.0.12-classic-consumer.jsonl',
].flatMap((f) => loadKafkaCapture(f).map((c) => c.data.subarray(0, 1024)));

test('Kafka parser survives random and mutated input', () => {
  const r = fuzzParser(() => new KafkaParser(), corpus, 7);
  assert.ok(r.messages > 0);
  console.log(`kafka fuzz: ${r.inputs} inputs, ${r.messages} messages, slowest ${r.slowestMs.toFixed(2)} ms`);
});
