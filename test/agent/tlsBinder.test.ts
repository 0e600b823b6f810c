import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TlsBinder } from '../../src/agent/conntrack/tlsBinder';
import { Direction, SocketEvent } from '../../src/agent/capture/socketEvent';
import type { Connection } from '../../src/agent/conntrack/connection';

const conn = (sockId: number) => ({ sockId }) as unknown as Connection;
const ev = (sockId: number, tid: number, direction: Direction, text = 'x') =>
  ({ sockId, tid, direction, payload: Buffer.from(text) }) as unknown as SocketEvent;

test('a read binds to the socket its thread just read; a write waits for its ciphertext', () => {
  const closed = new Set<Connection>();
  const b = new TlsBinder((x) => !closed.has(x));
  const a = conn(1);
  const c = conn(2);
  b.onSocketData(ev(1, 7, Direction.Ingress), a); // ciphertext read on thread 7
  assert.equal(b.bind(ev(0xaa, 7, Direction.Ingress)), a);
  assert.equal(b.bind(ev(0xaa, 9, Direction.Egress)), a, 'an SSL* stays bound, on any thread');
  assert.equal(b.bind(ev(0xbb, 8, Direction.Egress, 'GET / HTTP/1.1')), undefined, 'parked');
  const released = b.onSocketData(ev(2, 8, Direction.Egress), c);
  assert.equal(released?.length, 1);
  assert.equal(released![0].payload.toString(), 'GET / HTTP/1.1');
  assert.equal(b.bind(ev(0xbb, 8, Direction.Ingress)), c);
  assert.equal(b.bind(ev(0xcc, 5, Direction.Ingress)), undefined, 'a read with no ciphertext before it is lost');
  assert.equal(b.unbound, 1);
  closed.add(c);
  assert.equal(b.bind(ev(0xbb, 11, Direction.Ingress)), undefined, 'its connection closed: the SSL* is unbound');
  b.onSocketData(ev(1, 12, Direction.Ingress), c); // a settled connection named by a late event
  assert.equal(b.bind(ev(0xdd, 12, Direction.Ingress)), undefined);
});
