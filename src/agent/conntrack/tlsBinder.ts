// Ties TLS plaintext that the kernel could only name by its SSL* to the socket carrying it. Node's
// TLS (memory BIOs) does its socket I/O outside SSL_read/SSL_write, on the same thread: the
// ciphertext of a read arrives just before SSL_read returns its plaintext, and the ciphertext of a
// write leaves just after SSL_write. Once bound, an SSL* stays bound to its connection.
import type { SocketEvent } from '../capture/socketEvent';
import { Direction } from '../capture/socketEvent';
import type { Connection } from './connection';

const MAX_PARKED_PER_THREAD = 16;
const MAX_ENTRIES = 65536;

export class TlsBinder {
  private readonly sslConn = new Map<number, Connection>();
  /** thread -> connection of its last ciphertext read */
  private readonly lastRead = new Map<number, Connection>();
  /** thread -> plaintext writes waiting for the ciphertext that names their socket */
  private readonly parked = new Map<number, SocketEvent[]>();
  /** plaintext dropped: no socket could be found for it */
  unbound = 0;

  /** A socket's own data event: note it for its thread; returns parked plaintext writes it binds. */
  onSocketData(e: SocketEvent, c: Connection): SocketEvent[] | undefined {
    if (e.direction === Direction.Ingress) {
      this.lastRead.set(e.tid, c);
      this.trim(this.lastRead);
      return undefined;
    }
    const waiting = this.parked.get(e.tid);
    if (!waiting) {
      return undefined;
    }
    this.parked.delete(e.tid);
    for (const p of waiting) {
      this.sslConn.set(p.sockId, c);
    }
    this.trim(this.sslConn);
    return waiting;
  }

  /** The connection of an unbound plaintext event, or undefined when it has to wait (a write) or is lost. */
  bind(e: SocketEvent): Connection | undefined {
    const known = this.sslConn.get(e.sockId);
    if (known) {
      return known;
    }
    if (e.direction === Direction.Ingress) {
      const c = this.lastRead.get(e.tid);
      if (c) {
        this.sslConn.set(e.sockId, c);
        this.trim(this.sslConn);
        return c;
      }
      this.unbound++;
      return undefined;
    }
    let waiting = this.parked.get(e.tid);
    if (!waiting) {
      waiting = [];
      this.parked.set(e.tid, waiting);
    }
    if (waiting.length >= MAX_PARKED_PER_THREAD) {
      waiting.shift();
      this.unbound++;
    }
    waiting.push({ ...e, payload: Buffer.from(e.payload) }); // the event and its batch are reused
    return undefined;
  }

  /** A connection closed: forget what points at it. */
  forget(c: Connection): void {
    for (const [k, v] of this.sslConn) {
      if (v === c) {
        this.sslConn.delete(k);
      }
    }
    for (const [k, v] of this.lastRead) {
      if (v === c) {
        this.lastRead.delete(k);
      }
    }
  }

  private trim<K, V>(m: Map<K, V>): void {
    if (m.size > MAX_ENTRIES) {
      m.delete(m.keys().next().value as K); // the oldest
    }
  }
}
