// Pairs requests with responses on one connection, for every protocol: in order (HTTP/1.1 incl.
// pipelining, Redis, PostgreSQL, ...) or by id (HTTP/2 streams, DNS ids, Kafka correlation ids).
// Tracks message bodies across syscalls so a row's end time is the last byte of the response.
import { Direction, SocketEvent } from '../capture/socketEvent';
import type { ParsedMessage, ProtocolParser, SegmentContext } from './types';
import { parserEvictions } from './parserBounds';

export interface MessageEnd {
  msg: ParsedMessage;
  startNs: number;
  endNs: number;
  /** bytes of the message seen so far */
  length: number;
  tid: number;
  tcpSeq: number;
  /** syscall_trace_id of the message's first segment */
  syscallTraceId: number;
  capSeq: number;
}

export interface CompletedPair {
  request: MessageEnd;
  response?: MessageEnd;
  /** set when no response came: timed out, the connection closed, or the agent stopped first */
  missing?: 'timeout' | 'closed' | 'shutdown';
  /** a request that expects no response */
  oneWay?: boolean;
}

/**
 * A response with an unknown length is done after 500 ms of silence. One whose length is known is not: its last
 * segments may be lost and resent after RTOs of 200 ms, 400 ms, 800 ms..., and the client waits for them, so it is done
 * at its last byte, the next message, the connection's close or the request timeout.
 */
const IDLE_RESPONSE_NS = 500e6;
/** A message head split into a segment this short is held and parsed with the next segment. */
const MAX_HEAD_CARRY = 16;

function done(m: MessageEnd, lastSegment: Buffer, lastRetLen: number): boolean {
  if (m.msg.totalLength !== undefined) {
    return m.length >= m.msg.totalLength;
  }
  const t = m.msg.terminator;
  // the terminator is visible only when the whole segment was captured
  return (
    t !== undefined &&
    lastSegment.length === lastRetLen &&
    lastSegment.length >= t.length &&
    lastSegment.subarray(lastSegment.length - t.length).equals(t)
  );
}

export class MessageStream {
  /** direction of requests as seen by this process: egress = we are the client */
  requestDirection?: Direction;
  private readonly pending: MessageEnd[] = [];
  private readonly pendingById = new Map<number | string, MessageEnd>();
  private currentRequest?: MessageEnd;
  private currentResponse?: { request: MessageEnd; response: MessageEnd };
  private capSeq = 0;
  /** per direction: the first bytes of a message that came alone (Go's net/http reads 1 byte ahead) */
  private readonly headCarry: Array<SocketEvent | undefined> = [undefined, undefined];
  /** messages that could not be placed (a response with no request seen, e.g. agent started mid-stream) */
  orphans = 0;

  constructor(
    readonly parser: ProtocolParser,
    private readonly emit: (p: CompletedPair) => void,
    /** known from connect()/accept() when the agent saw them */
    requestDirection?: Direction,
    private readonly maxPending = 1024
  ) {
    this.requestDirection = requestDirection;
  }

  onSegment(e: SocketEvent): void {
    const carried = this.headCarry[e.direction];
    if (carried) {
      this.headCarry[e.direction] = undefined;
      // the message starts where the carried bytes started
      e = {
        ...e,
        tsNs: carried.tsNs,
        tcpSeq: carried.tcpSeq,
        tid: carried.tid,
        syscallTraceId: carried.syscallTraceId,
        retLen: carried.retLen + e.retLen,
        payload: Buffer.concat([carried.payload, e.payload]),
      };
    }
    const seq = ++this.capSeq;
    const ctx: SegmentContext = {
      egress: e.direction === Direction.Egress,
      localPort: e.localPort,
      peerPort: e.peerPort,
      l4: e.l4,
    };
    const isRequestDir = this.requestDirection === undefined || e.direction === this.requestDirection;
    const parsed = this.parser.parse(e.payload, e.retLen, isRequestDir ? undefined : this.pending[0]?.msg, ctx);
    if (parsed === null) {
      if (
        this.parser.joinsShortHeads &&
        !carried &&
        e.retLen <= MAX_HEAD_CARRY &&
        e.payload.length === e.retLen &&
        this.expectsMessageStart(e.direction)
      ) {
        // too short to recognise, where a new message must begin: parse it with what follows
        this.headCarry[e.direction] = { ...e, payload: Buffer.from(e.payload) };
        return;
      }
      this.continuation(e);
      return;
    }
    const msgs = Array.isArray(parsed) ? parsed : [parsed];
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i];
      const single = msgs.length === 1;
      const end: MessageEnd = {
        msg: m,
        startNs: e.tsNs,
        endNs: e.tsNs,
        // several messages in one syscall: each is as long as it says, else an equal share
        length: single ? e.retLen : (m.totalLength ?? Math.round(e.retLen / msgs.length)),
        tid: e.tid,
        tcpSeq: e.tcpSeq,
        syscallTraceId: e.syscallTraceId,
        capSeq: seq,
      };
      this.place(m, end, e, single || i === msgs.length - 1);
    }
  }

  private place(m: ParsedMessage, end: MessageEnd, e: SocketEvent, last: boolean): void {
    if (m.unsolicited) {
      if (this.requestDirection === undefined) {
        this.requestDirection = e.direction === Direction.Egress ? Direction.Ingress : Direction.Egress;
      }
      return;
    }
    if (m.type === 'request') {
      if (this.requestDirection === undefined) {
        this.requestDirection = e.direction;
      } else if (e.direction !== this.requestDirection) {
        this.orphans++;
        return;
      }
      this.finishResponse();
      if (m.oneWay) {
        this.emit({ request: end, oneWay: true });
        return;
      }
      if (m.id !== undefined) {
        if (this.pendingById.size >= this.maxPending) {
          const [oldId, old] = this.pendingById.entries().next().value!;
          this.pendingById.delete(oldId);
          parserEvictions.pendingRequests++;
          this.emit({ request: old, missing: 'timeout' });
        }
        this.pendingById.set(m.id, end);
      } else {
        if (this.pending.length >= this.maxPending) {
          parserEvictions.pendingRequests++;
          this.emit({ request: this.pending.shift()!, missing: 'timeout' });
        }
        this.pending.push(end);
      }
      this.currentRequest = end;
      return;
    }
    // a response
    if (this.requestDirection === undefined || e.direction === this.requestDirection) {
      this.orphans++;
      return;
    }
    this.finishResponse();
    let request: MessageEnd | undefined;
    if (m.id !== undefined) {
      request = this.pendingById.get(m.id);
      this.pendingById.delete(m.id);
    } else {
      request = this.pending.shift();
    }
    if (!request) {
      this.orphans++;
      return;
    }
    if (this.currentRequest === request) {
      this.currentRequest = undefined;
    }
    this.currentResponse = { request, response: end };
    if (!last || done(end, e.payload, e.retLen)) {
      this.finishResponse();
    }
  }

  /** True when no message is in progress in that direction, so its next bytes start one. */
  private expectsMessageStart(d: Direction): boolean {
    if (this.requestDirection === undefined) {
      return false;
    }
    if (d === this.requestDirection) {
      const r = this.currentRequest;
      return r === undefined || (r.msg.totalLength !== undefined && r.length >= r.msg.totalLength);
    }
    return this.currentResponse === undefined && this.pending.length + this.pendingById.size > 0;
  }

  /** body bytes of the message in progress in that direction */
  private continuation(e: SocketEvent): void {
    if (e.direction === this.requestDirection) {
      if (this.currentRequest) {
        this.currentRequest.length += e.retLen;
        this.currentRequest.endNs = e.tsNs;
      }
    } else if (this.currentResponse) {
      const r = this.currentResponse.response;
      r.length += e.retLen;
      r.endNs = e.tsNs;
      if (done(r, e.payload, e.retLen)) {
        this.finishResponse();
      }
    }
  }

  private finishResponse(): void {
    if (this.currentResponse) {
      this.emit(this.currentResponse);
      this.currentResponse = undefined;
    }
  }

  /** Emits what time has settled: quiet responses of unknown length, and requests past the timeout. */
  sweep(nowNs: number, timeoutNs: number): void {
    const c = this.currentResponse;
    if (
      c &&
      (c.response.msg.totalLength === undefined
        ? nowNs - c.response.endNs > IDLE_RESPONSE_NS
        : nowNs - c.request.startNs > timeoutNs)
    ) {
      this.finishResponse();
    }
    while (this.pending.length && nowNs - this.pending[0].startNs > timeoutNs) {
      this.timeout(this.pending.shift()!);
    }
    for (const [id, request] of this.pendingById) {
      if (nowNs - request.startNs <= timeoutNs) {
        break; // insertion order is start order
      }
      this.pendingById.delete(id);
      this.timeout(request);
    }
  }

  private timeout(request: MessageEnd): void {
    if (this.currentRequest === request) {
      this.currentRequest = undefined;
    }
    this.emit({ request, missing: 'timeout' });
  }

  /** The connection closed (or the agent stops): everything in flight is settled now. */
  close(reason: 'closed' | 'shutdown' = 'closed'): void {
    this.finishResponse();
    for (const request of this.pending.splice(0)) {
      this.emit({ request, missing: reason });
    }
    for (const request of this.pendingById.values()) {
      this.emit({ request, missing: reason });
    }
    this.pendingById.clear();
    this.currentRequest = undefined;
  }

  get pendingCount(): number {
    return this.pending.length + this.pendingById.size + (this.currentResponse ? 1 : 0);
  }
}
