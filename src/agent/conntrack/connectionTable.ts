// All live connections, keyed by kernel socket; a tuple index finds the other end of a local
// connection so a client row can name the server process and vice versa.
import { Connection, Role, tupleKey } from './connection';
import type { SocketEvent } from '../capture/socketEvent';

export class ConnectionTable {
  private readonly bySock = new Map<number | string, Connection>();
  private readonly byTuple = new Map<string, Connection>();
  private nextFlowId = 1;

  /** `onReplaced` settles a connection whose kernel socket was freed and reused for a new one. */
  constructor(private readonly onReplaced: (old: Connection) => void = () => undefined) {}

  get size(): number {
    return this.bySock.size;
  }

  get(sockId: number): Connection | undefined {
    return this.bySock.get(sockId);
  }

  /** The connection for an event's socket, created on first sight; re-created when the socket was reused. */
  upsert(e: SocketEvent): Connection {
    const key = e.l4 === 'UDP' ? `${e.sockId}|${e.peerIp}|${e.peerPort}` : e.sockId;
    let c = this.bySock.get(key);
    // A closing socket is unhashed and reports local port 0 while the process still reads what
    // was queued: the same connection, not a reused socket.
    const closing = e.localPort === 0;
    if (c && !closing && (c.tgid !== e.tgid || c.localPort !== e.localPort || c.peerPort !== e.peerPort || c.peerIp !== e.peerIp)) {
      // same kernel address, different socket (freed and reallocated) or shared with another process
      this.remove(c);
      this.onReplaced(c);
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
      this.bySock.set(key, c);
      this.byTuple.set(tupleKey(c.localIp, c.localPort, c.peerIp, c.peerPort), c);
    }
    return c;
  }

  setRole(c: Connection, role: Role): void {
    c.role = role;
  }

  /** The local connection at the other end of `c`, if this host observes it. */
  peerOf(c: Connection): Connection | undefined {
    if (c.peer && this.bySock.get(c.peer.key) === c.peer) {
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
    const k = tupleKey(c.localIp, c.localPort, c.peerIp, c.peerPort);
    if (this.byTuple.get(k) === c) {
      this.byTuple.delete(k);
    }
  }

  all(): IterableIterator<Connection> {
    return this.bySock.values();
  }
}
