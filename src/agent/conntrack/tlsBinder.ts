// Ties TLS plaintext that the kernel could only name by its SSL* to the socket carrying it. Node's
// TLS (memory BIOs) does its socket I/O outside SSL_read/SSL_write, on the same thread: the
// ciphertext of a read arrives just before SSL_read returns its plaintext, and the ciphertext of a
// write leaves just after SSL_write. Once bound, an SSL* stays bound to its connection while that
// connection lives.
import { Direction, type SocketEvent } from '../capture/socketEvent';
import type { Connection } from './connection';
import { LruMap, TableStats } from '../lruMap';

const MAX_PARKED_PER_THREAD = 16;
const MAX_BINDINGS = 65536;
/** threads with plaintext writes waiting: up to 16 copies of a captured payload each */
const MAX_PARKED_THREADS = 1024;

export class TlsBinder {
  /** SSL* -> its connection */
  private readonly sslConn = new LruMap<number, Connection>(MAX_BINDINGS);
  /** thread -> connection of its last ciphertext read */
  private readonly lastRead = new LruMap<number, Connection>(MAX_BINDINGS);
  /** thread -> plaintext writes waiting for the ciphertext that names their socket */
  private readonly parked = new LruMap<number, SocketEvent[]>(
    MAX_PARKED_THREADS,
    (_, lost) => (this.unbound += lost.length)
  );
  /** plaintext dropped: no socket could be found for it */
  unbound = 0;

  /**
   * `live` says whether a connection is still open: entries of a settled connection are dropped
   * when next found, so settling one (possibly for every event of a flood) costs nothing here.
   */
  constructor(private readonly live: (c: Connection) => boolean = () => true) {}

  /** A socket's own data event: note it for its thread; returns parked plaintext writes it binds. */
  onSocketData(e: SocketEvent, c: Connection): SocketEvent[] | undefined {
    if (e.direction === Direction.Ingress) {
      this.lastRead.set(e.tid, c);
      return undefined;
    }
    const waiting = this.parked.peek(e.tid);
    if (!waiting) {
      return undefined;
    }
    this.parked.delete(e.tid);
    for (const p of waiting) {
      this.sslConn.set(p.sockId, c);
    }
    return waiting;
  }

  /** The connection of an unbound plaintext event, or undefined when it has to wait (a write) or is lost. */
  bind(e: SocketEvent): Connection | undefined {
    const known = this.liveIn(this.sslConn, e.sockId);
    if (known) {
      return known;
    }
    if (e.direction === Direction.Ingress) {
      const c = this.liveIn(this.lastRead, e.tid);
      if (c) {
        this.sslConn.set(e.sockId, c);
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

  /** The live connection under `k`; an entry of a settled one is dropped. */
  private liveIn(m: LruMap<number, Connection>, k: number): Connection | undefined {
    const c = m.get(k);
    if (c && !this.live(c)) {
      m.delete(k);
      return undefined;
    }
    return c;
  }

  stats(): TableStats[] {
    return [this.sslConn.stats('tls sessions'), this.parked.stats('tls waiting threads')];
  }
}
