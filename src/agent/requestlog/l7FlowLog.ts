// Builds one l7_flow_log row from a paired request/response seen by one process.
import type { Connection } from '../conntrack/connection';
import type { CompletedPair } from '../protocols/messageStream';
import { Direction } from '../capture/socketEvent';
import type { ObservationPoint, ResponseStatus } from '../../shared/schema';
import { EndpointColumns, FiveTupleColumns, flowEndColumns } from '../export/rowColumns';

/** Names of a process and of a remote end: what every flow-level row builder needs. */
export interface ProcessNames {
  comm(pid: number): string;
  service(pid: number, serverPort?: number): string;
  remoteService(ip: string, port: number, isServer: boolean): string;
}

/** What the row builder needs to name both ends. */
export interface EndpointNamer extends ProcessNames {
  /** pid of the process at the other end of `c` when this host observes it, else 0 */
  peerPid(c: Connection): number;
  toWallUs(monoNs: number): number;
}

export interface L7FlowLogRow extends FiveTupleColumns, EndpointColumns {
  time: number;
  _id: number;
  start_time_us: number;
  end_time_us: number;
  response_duration_us: number;
  host: string;
  observation_point: ObservationPoint;
  signal_source: string;
  l7_protocol: string;
  version: string;
  request_type: string;
  request_domain: string;
  request_resource: string;
  endpoint: string;
  response_code: number;
  response_status: ResponseStatus;
  response_exception: string;
  request_length: number;
  response_length: number;
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  x_request_id: string;
  syscall_trace_id_request: number;
  syscall_trace_id_response: number;
  syscall_thread_request: number;
  syscall_thread_response: number;
  syscall_coroutine_request: number;
  syscall_coroutine_response: number;
  syscall_cap_seq_request: number;
  syscall_cap_seq_response: number;
  tcp_seq_request: number;
  tcp_seq_response: number;
  flow_id: number;
}

/** Row ids: a random 21-bit agent prefix and a 32-bit counter, so ids stay exact JS numbers (< 2^53). */
export class RowIds {
  private readonly prefix = Math.floor(Math.random() * 0x1fffff) * 4294967296;
  private counter = 0;
  next(): number {
    this.counter = (this.counter + 1) >>> 0;
    return this.prefix + this.counter;
  }
}

const MISSING_STATUS: Record<NonNullable<CompletedPair['missing']>, ResponseStatus> = {
  timeout: 'timeout',
  closed: 'server_error',
  shutdown: 'unknown',
};
const MISSING_TEXT: Record<NonNullable<CompletedPair['missing']>, string> = {
  timeout: 'no response before the timeout',
  closed: 'connection closed before the response',
  shutdown: 'agent stopped before the response',
};

export function buildL7Row(
  c: Connection,
  pair: CompletedPair,
  protocol: string,
  host: string,
  id: number,
  n: EndpointNamer
): L7FlowLogRow {
  const { request, response } = pair;
  const isClient = c.stream?.requestDirection === Direction.Egress;
  const startUs = n.toWallUs(request.startNs);
  const endUs = n.toWallUs(response ? response.endNs : request.endNs);
  const rq = request.msg;
  const rs = response?.msg;
  const status: ResponseStatus = rs?.status ?? (pair.oneWay ? 'ok' : MISSING_STATUS[pair.missing ?? 'closed']);
  // named fields, not a spread of flowEndColumns(): one object shape for every row, no property copy
  const ends = flowEndColumns(
    n,
    c.l4,
    isClient,
    { ip: c.localIp, port: c.localPort, pid: c.tgid },
    { ip: c.peerIp, port: c.peerPort, pid: n.peerPid(c) }
  );
  return {
    time: Math.floor(startUs / 1e6),
    _id: id,
    start_time_us: startUs,
    end_time_us: endUs,
    response_duration_us: Math.max(0, endUs - startUs),
    host,
    observation_point: isClient ? 'client_process' : 'server_process',
    signal_source: 'ebpf',
    l7_protocol: protocol,
    version: rq.version ?? '',
    request_type: rq.requestType ?? '',
    request_domain: rq.domain ?? '',
    request_resource: rq.resource ?? '',
    endpoint: rq.endpoint ?? '',
    response_code: rs?.code ?? -1,
    response_status: status,
    response_exception: rs ? (rs.exception ?? '') : pair.oneWay ? '' : MISSING_TEXT[pair.missing ?? 'closed'],
    request_length: request.length,
    response_length: response?.length ?? 0,
    trace_id: rq.traceId ?? '',
    span_id: rq.spanId ?? '',
    parent_span_id: rq.parentSpanId ?? '',
    x_request_id: rq.xRequestId ?? rs?.xRequestId ?? '',
    syscall_trace_id_request: request.syscallTraceId,
    syscall_trace_id_response: response?.syscallTraceId ?? 0,
    syscall_thread_request: request.tid,
    syscall_thread_response: response?.tid ?? 0,
    syscall_coroutine_request: 0,
    syscall_coroutine_response: 0,
    syscall_cap_seq_request: request.capSeq,
    syscall_cap_seq_response: response?.capSeq ?? 0,
    tcp_seq_request: request.tcpSeq,
    tcp_seq_response: response?.tcpSeq ?? 0,
    flow_id: c.flowId,
    l4_protocol: ends.l4_protocol,
    client_ip: ends.client_ip,
    client_port: ends.client_port,
    server_ip: ends.server_ip,
    server_port: ends.server_port,
    client_pid: ends.client_pid,
    server_pid: ends.server_pid,
    client_process: ends.client_process,
    server_process: ends.server_process,
    client_service: ends.client_service,
    server_service: ends.server_service,
  };
}
