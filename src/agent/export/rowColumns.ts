// Column groups shared by the row types of several tables (schema.ts: fiveTuple, endpointsTags).

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
