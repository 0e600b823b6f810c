// Kernel events as the agent sees them after decoding (see bpf/socket_trace.h).

export const enum EventKind {
  Data = 1,
  Connect = 2,
  Accept = 3,
  Close = 4,
  Exec = 5,
  Exit = 6,
  Fork = 7,
}

export const enum Direction {
  Egress = 0,
  Ingress = 1,
}

/** enum fl_syscall values the agent acts on (bpf/socket_trace.h) */
export const SYSCALL_SSL_WRITE = 14;
export const SYSCALL_SSL_READ = 15;

export interface SocketEvent {
  kind: EventKind;
  /** CLOCK_MONOTONIC ns as a double (exact to ~0.25 µs over years of uptime, enough for µs rows). */
  tsNs: number;
  /** Kernel socket address folded to a safe integer: the connection key. */
  sockId: number;
  tgid: number;
  tid: number;
  fd: number;
  direction: Direction;
  syscall: number;
  retLen: number;
  localIp: string;
  localPort: number;
  peerIp: string;
  peerPort: number;
  l4: 'TCP' | 'UDP';
  tcpSeq: number;
  tcpState: number;
  /** The thread's AutoTracing id at this syscall (0: none); see thread_trace_id in the bpf program. */
  syscallTraceId: number;
  /** Captured payload (a view into the batch buffer: copy before keeping it past the batch). */
  payload: Buffer;
  comm: string;
}
