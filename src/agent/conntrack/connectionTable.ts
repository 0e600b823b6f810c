// All live connections, keyed by kernel socket; a tuple index finds the other end of a local
// connection so a client row can name the server process and vice versa. Bounded: past
// `maxConnections` the least recently active connection is settled (as if it timed out) to admit
// a new one, so spoofed UDP sources (one connection per peer on an unconnected socket) cannot grow it.
import { Connection, Role, tupleKey } from './connection';
import type { SocketEvent } from '../capture/socketEvent';
import { LruMap, TableStats } from '../lruMap';

/**
 * ~2 KiB each with their protocol state (bench/spoofedUdpHeap.ts: a full table is ~70 MiB of heap
 * with the closed-peer memo), which keeps the agent within its 256 MB at a full table. LRU order
 * means a connection is evicted only after this many others were active since its last event:
 * even at a flood of ~20k new peers a second (about what the agent decodes) a request and its
 * response in the same second stay on one connection.
 */
export const DEFAULT_MAX_CONNECTIONS = 32768;

export class ConnectionTable {
  private readonly bySock: LruMap<number | string, Connection>;
  /** holds only connections of bySock (removed with them): bounded by it */
  private readonly byTuple = new Map<string, Connection>();
  private nextFlowId = 1;

  /**
   * `onSettled` settles a connection that leaves the table without being closed: its kernel socket
   * was freed and reused for a new one, or it was the least recently active one of a full table.
   */
  constructor(
    private readonly onSettled: (old: Connection) => void = () => undefined,
    maxConnections = DEFAULT_MAX_CONNECTIONS
  ) {
    this.bySock = new LruMap(maxConnections, (_, c) => {
      this.remove(c);
      this.onSettled(c);
    });
  }

  get size(): number {
    return this.bySock.size;
  }

  stats(): TableStats {
    return this.bySock.stats('connections');
  }

  get(sockId: number): Connection | undefined {
    return this.bySock.peek(sockId);
  }

  /** Whether `c` is still in the table (not settled since it was found). */
  has(c: Connection): boolean {
    return this.bySock.peek(c.key) === c;
  }

  /** The connection for an event's socket, created on first sight; re-created when the socket was reused. */
  upsert(e: SocketEvent): Connection {
    const key = e.l4 === 'UDP' ? `${e.sockId}|${e.peerIp}|${e.peerPort}` : e.sockId;
    let c = this.bySock.get(key);
    // A closing socket is unhashed and reports local port 0 while the process still reads what
    // was queued: the same connection, not a reused socket.
    const closing = e.localPort === 0;
    if (
      c &&
      !closing &&
      (c.tgid !== e.tgid || c.localPort !== e.localPort || c.peerPort !== e.peerPort || c.peerIp !== e.peerIp)
    ) {
      // same kernel address, different socket (freed and reallocated) or shared with another process
      this.remove(c);
      this.onSettled(c);
      c = undefined;
    }
    if (!c) {
      c = {
        key,
        sockId: e.sockId,
        flowId: this.nextFlowId++,
        tgid: e.tgid,
        fd: e.fd,
        l4: e.l4,
        localIp: e.localIp,
        localPort: e.localPort,
        peerIp: e.peerIp,
        peerPort: e.peerPort,
        role: 'unknown',
        firstNs: e.tsNs,
        lastNs: e.tsNs,
        inferMisses: 0,
        bytesTx: 0,
        bytesRx: 0,
      };
      c.tuple = tupleKey(c.localIp, c.localPort, c.peerIp, c.peerPort);
      this.bySock.set(key, c); // may settle the least recently active connection
      this.byTuple.set(c.tuple, c);
    }
    return c;
  }

  setRole(c: Connection, role: Role): void {
    c.role = role;
  }

  /** The local connection at the other end of `c`, if this host observes it. */
  peerOf(c: Connection): Connection | undefined {
    if (c.peer && this.has(c.peer)) {
      return c.peer;
    }
    c.peer = this.byTuple.get(tupleKey(c.peerIp, c.peerPort, c.localIp, c.localPort));
    return c.peer;
  }

  /** The live connection with these ends (as its process sees them), if any. */
  byEnds(localIp: string, localPort: number, peerIp: string, peerPort: number): Connection | undefined {
    return this.byTuple.get(tupleKey(localIp, localPort, peerIp, peerPort));
  }

  remove(c: Connection): void {
    this.bySock.delete(c.key);
    c.peer = undefined; // a settled connection keeps no other one alive
    const k = c.tuple ?? tupleKey(c.localIp, c.localPort, c.peerIp, c.peerPort);
    if (this.byTuple.get(k) === c) {
      this.byTuple.delete(k);
    }
  }

  all(): IterableIterator<Connection> {
    return this.bySock.values();
  }
}
