import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NatsParser } from '../../../src/agent/protocols/nats/natsParser';
import { loadCapture, replay, pieces } from './mqttReplay';

// Recorded against nats-server 2.9.10 (max_payload 1024): connection 1 is nats-py, connection 2 a raw
// socket client in verbose mode (test/e2e/protocols/nats.e2e.test.ts).
const cap = loadCapture('nats', 'nats-server-session.json');
const make = () => new NatsParser();

const NATS_PY = [
  'CONNECT||flowlens-e2e|-1|ok| oneWay',
  'PING||flowlens-e2e|-1|ok|',
  'PING||flowlens-e2e|-1|ok|',
  'SUB|orders.created|flowlens-e2e|-1|ok| oneWay',
  'SUB|svc.echo|flowlens-e2e|-1|ok| oneWay',
  'PING||flowlens-e2e|-1|ok|',
  'PUB|orders.created|flowlens-e2e|-1|ok| oneWay',
  'PUB|orders.created|flowlens-e2e|-1|ok| oneWay',
  'PUB|orders.created|flowlens-e2e|-1|ok| oneWay',
];

test('nats-py: CONNECT, SUB, PUB, UNSUB one-way; PING/PONG in order; MSG deliveries not logged', () => {
  for (const view of ['client', 'server'] as const) {
    for (const cut of [undefined, pieces(7), pieces(1)]) {
      const r = replay(cap, 1, make, view, cut);
      // request/reply: the request's PUB (reply subject) and the responder's PUB to the inbox
      const want = [
        ...NATS_PY,
        'SUB|_INBOX.x|flowlens-e2e|-1|ok| oneWay',
        'PUB|svc.echo|flowlens-e2e|-1|ok| oneWay',
        'PUB|_INBOX.x|flowlens-e2e|-1|ok| oneWay',
        'PING||flowlens-e2e|-1|ok|',
        'UNSUB|orders.created|flowlens-e2e|-1|ok| oneWay',
      ];
      assert.deepEqual(r.lines.map((l) => l.replace(/_INBOX\.[A-Za-z0-9.*]+/, '_INBOX.x')).sort(), want.sort(), view);
      assert.equal(r.orphans, 0);
      const inbox = r.pairs.find(
        (p) => p.request.msg.resource?.startsWith('_INBOX.') && p.request.msg.requestType === 'PUB'
      )!;
      assert.equal(inbox.request.msg.endpoint, '_INBOX.*');
    }
  }
});

test('verbose raw client: +OK per operation, -ERR as client_error with its text', () => {
  for (const view of ['client', 'server'] as const) {
    const r = replay(cap, 2, make, view);
    assert.deepEqual(r.lines, [
      'CONNECT||raw|-1|ok|',
      'PUB|raw.ok|raw|-1|ok|',
      'SUB|bad..subject|raw|-1|client_error|Invalid Subject',
      'PING||raw|-1|ok|',
      'PUB|raw.big|raw|-1|client_error|Maximum Payload Violation',
    ]);
  }
});

test('CONNECT credentials are never in a parsed field', () => {
  for (const p of replay(cap, 2, make, 'server').pairs) {
    const all = JSON.stringify(p.request.msg);
    assert.ok(!all.includes('hunter2') && !all.includes('bob'), all);
  }
});

test('inference: INFO {, CONNECT {, a whole PUB/MSG line; not HTTP CONNECT nor Redis', () => {
  const p = new NatsParser();
  assert.equal(p.infer(Buffer.from('INFO {"server_id":"x"}\r\n')), true);
  assert.equal(p.infer(Buffer.from('CONNECT {"verbose":false}\r\n')), true);
  assert.equal(p.infer(Buffer.from('PUB a.b 5\r\nhello\r\n')), true);
  assert.equal(p.infer(Buffer.from('CONNECT example.com:443 HTTP/1.1\r\n\r\n')), false);
  assert.equal(p.infer(Buffer.from('PING\r\n')), false);
  assert.equal(p.infer(Buffer.from('*1\r\n$4\r\nINFO\r\n')), false);
});
