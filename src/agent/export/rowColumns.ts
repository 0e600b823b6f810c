// Column groups shared by the row types of several tables (schema.ts: fiveTuple, endpointsTags).
import type { ProcessNames } from '../requestlog/l7FlowLog';

/** The flow's 5-tuple, oriented client → server. */
export interface FiveTupleColumns {
  l4_protocol: string;
  client_ip: string;
  client_port: number;
  server_ip: string;
  server_port: number;
}

/** Both ends named: pids (0 when not on an observed host), process names and services. */
export interface EndpointColumns {
  client_pid: number;
  server_pid: number;
  client_process: string;
  server_process: string;
  client_service: string;
  server_service: string;
}

/** One end of a flow as the observing socket sees it: its address and its process (0: unknown). */
export interface FlowEnd {
  ip: string;
  port: number;
  pid: number;
}

/**
 * The 5-tuple and endpoint columns of a flow seen from one socket, oriented client → server. An
 * end without a known pid is named from its own address (remote service by ip:port).
 */
export function flowEndColumns(
  n: ProcessNames,
  l4: string,
  isClient: boolean,
  local: FlowEnd,
  peer: FlowEnd
): FiveTupleColumns & EndpointColumns {
  const client = isClient ? local : peer;
  const server = isClient ? peer : local;
  return {
    l4_protocol: l4,
    client_ip: client.ip,
    client_port: client.port,
    server_ip: server.ip,
    server_port: server.port,
    client_pid: client.pid,
    server_pid: server.pid,
    client_process: client.pid ? n.comm(client.pid) : '',
    server_process: server.pid ? n.comm(server.pid) : '',
    client_service: client.pid ? n.service(client.pid) : n.remoteService(client.ip, client.port, false),
    server_service: server.pid ? n.service(server.pid, server.port) : n.remoteService(server.ip, server.port, true),
  };
}
