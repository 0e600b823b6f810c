// One socket as seen from one process: its ends, its role and its protocol stream state.
import type { MessageStream } from '../protocols/messageStream';
import type { RedSeries } from '../metrics/redAggregator';

export type Role = 'client' | 'server' | 'unknown';

export interface Connection {
  /** table key: the socket for TCP; socket + peer for UDP, where one socket talks to many peers */
  key: number | string;
  sockId: number;
  flowId: number;
  tgid: number;
  fd: number;
  l4: 'TCP' | 'UDP';
  localIp: string;
  localPort: number;
  peerIp: string;
  peerPort: number;
  /** Learnt from connect/accept, else from which direction carries requests. */
  role: Role;
  firstNs: number;
  lastNs: number;
  /** Protocol detection attempts that failed; past a limit the connection is ignored. */
  inferMisses: number;
  stream?: MessageStream;
  /** its parser threw: not parsed any further (see requestlog/protocolStep.ts) */
  unparseable?: boolean;
  bytesTx: number;
  bytesRx: number;
  /** datagrams (UDP) or syscalls (TCP) each way */
  packetsTx?: number;
  packetsRx?: number;
  /** when TCP reported the socket closed; it is settled a grace period later (see Pipeline) */
  closingAtNs?: number;
  /** plaintext comes from OpenSSL uprobes: the socket's own (encrypted) bytes are ignored */
  tls?: boolean;
  /** the local connection at the other end, once found (both ends on this host) */
  peer?: Connection;
  /** tupleKey of its ends, kept by the connection table (its index key) */
  tuple?: string;
  /** this connection's RED series key, reused while its ends keep their names */
  redSeries?: RedSeries;
}

export function tupleKey(ip: string, port: number, peerIp: string, peerPort: number): string {
  return `${ip}:${port}>${peerIp}:${peerPort}`;
}
