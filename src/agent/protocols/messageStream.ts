// Pairs requests with responses on one connection, for any protocol with in-order responses
// (HTTP/1.x incl. pipelining, Redis, ...). Tracks message bodies across syscalls so a row's end
// time is the last byte of the response, not the first.
import { Direction, SocketEvent } from '../capture/socketEvent';
import type { ParsedMessage, ProtocolParser } from './types';

export interface MessageEnd {
  msg: ParsedMessage;
  startNs: number;
  endNs: number;
  /** bytes of the message seen so far */
  length: number;
  tid: number;
  tcpSeq: number;
  capSeq: number;
}

export interface CompletedPair {
  request: MessageEnd;
  response?: MessageEnd;
  /** set when no response came: timed out, the connection closed, or the agent stopped first */
  missing?: 'timeout' | 'closed' | 'shutdown';
}

const IDLE_RESPONSE_NS = 500e6; // a response with an unknown length is done after 500 ms of silence

function done(m: MessageEnd, lastSegment: Buffer, lastRetLen: number): boolean {
  if (m.msg.totalLength !== undefined) {
    return m.length >= m.msg.totalLength;
  }
  const t = m.msg.terminator;
  // the terminator is visible only when the whole segment was captured
  return t !== undefined && lastSegment.length === lastRetLen && lastSegment.length >= t.length && lastSegment.subarray(lastSegment.length - t.length).equals(t);
}

export class MessageStream {
  /** direction of requests as seen by this process: egress = we are the client */
  requestDirection?: Direction;
  private readonly pending: MessageEnd[] = [];
  private currentRequest?: MessageEnd;
  private currentResponse?: { request: MessageEnd; response: MessageEnd };
  private capSeq = 0;
  /** segments that could not be placed (a response with no request seen, e.g. agent started mid-stream) */
  orphans = 0;

  constructor(
    readonly parser: ProtocolParser,
    private readonly emit: (p: CompletedPair) => void,
    private readonly maxPending = 1024
  ) {}

  onSegment(e: SocketEvent): void {
    const seq = ++this.capSeq;
    const isRequestDir = this.requestDirection === undefined || e.direction === this.requestDirection;
    const msg = this.parser.parse(e.payload, e.retLen, isRequestDir ? undefined : this.pending[0]?.msg);
    const end = (m: ParsedMessage): MessageEnd => ({
      msg: m,
      startNs: e.tsNs,
      endNs: e.tsNs,
      length: e.retLen,
      tid: e.tid,
      tcpSeq: e.tcpSeq,
      capSeq: seq,
    });

    if (msg?.type === 'request') {
      if (this.requestDirection === undefined) {
        this.requestDirection = e.direction;
      } else if (e.direction !== this.requestDirection) {
        this.orphans++;
        return;
      }
      this.finishResponse();
      const req = end(msg);
      if (this.pending.length >= this.maxPending) {
        this.emit({ request: this.pending.shift()!, missing: 'timeout' });
      }
      this.pending.push(req);
      this.currentRequest = req;
      return;
    }

    if (msg?.type === 'response') {
      if (this.requestDirection === undefined || e.direction === this.requestDirection) {
        this.orphans++;
        return;
      }
      this.finishResponse();
      const request = this.pending.shift();
      if (!request) {
        this.orphans++;
        return;
      }
      if (this.currentRequest === request) {
        this.currentRequest = undefined;
      }
      const response = end(msg);
      this.currentResponse = { request, response };
      if (done(response, e.payload, e.retLen)) {
        this.finishResponse();
      }
      return;
    }

    // a continuation segment: body bytes of the message in progress in that direction
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
    if (this.currentResponse && nowNs - this.currentResponse.response.endNs > IDLE_RESPONSE_NS) {
      this.finishResponse();
    }
    while (this.pending.length && nowNs - this.pending[0].startNs > timeoutNs) {
      const request = this.pending.shift()!;
      if (this.currentRequest === request) {
        this.currentRequest = undefined;
      }
      this.emit({ request, missing: 'timeout' });
    }
  }

  /** The connection closed (or the agent stops): everything in flight is settled now. */
  close(reason: 'closed' | 'shutdown' = 'closed'): void {
    this.finishResponse();
    for (const request of this.pending.splice(0)) {
      this.emit({ request, missing: reason });
    }
    this.currentRequest = undefined;
  }

  get pendingCount(): number {
    return this.pending.length + (this.currentResponse ? 1 : 0);
  }
}
