// Kafka over TCP: every message is an int32 size then the header and body. A request header names
// the API (api_key, api_version), a correlation id and the client id; a response carries only the
// correlation id, so each connection remembers correlation id -> API from its requests to decode
// responses. Both the classic and the flexible (compact strings/arrays, tagged fields) encodings.
//
// Fields: request_type = API name; request_domain = client_id; request_resource = first topic
// (Produce, Fetch, ListOffsets, Metadata, CreateTopics, DeleteTopics) or group id (group APIs);
// endpoint = API name + ' ' + resource; response_code = the error code of the response (top level, or
// the first topic/partition's), -1 when not decoded; status: 0 ok, broker-side failures
// (SERVER_ERRORS) server_error, any other non-zero code (the request's own fault: unknown topic,
// invalid topic, topic exists, auth...) client_error; 'unknown' when the error code was not decoded.
import type { ParsedMessage, ProtocolParser, SegmentContext } from '../types';
import { KAFKA_APIS, KAFKA_ERRORS } from './kafkaApis';
import { evictOldest } from '../parserBounds';

/** socket.request.max.bytes is 100 MiB by default; anything larger is not a Kafka size prefix */
const MAX_MESSAGE = 100 * 1024 * 1024;
const FUTURE_VERSIONS = 4;
const MAX_STRING = 512;
const MAX_PENDING = 1024;
/** a message start shorter than this (e.g. a 4-byte size read by the JVM) is kept and joined with the next segment */
const SHORT_HEAD = 16;
const TOPIC_ID_CACHE = 4096;

const PRODUCE = 0,
  FETCH = 1,
  LIST_OFFSETS = 2,
  METADATA = 3,
  OFFSET_COMMIT = 8,
  OFFSET_FETCH = 9,
  FIND_COORDINATOR = 10;
const JOIN_GROUP = 11,
  HEARTBEAT = 12,
  LEAVE_GROUP = 13,
  SYNC_GROUP = 14,
  API_VERSIONS = 18,
  CREATE_TOPICS = 19,
  DELETE_TOPICS = 20;
const INIT_PRODUCER_ID = 22,
  DESCRIBE_CLUSTER = 60;

/** Codes that say the broker or cluster failed (unavailable, timed out, not leader, storage): server_error. */
const SERVER_ERRORS = new Set([
  -1, 5, 6, 7, 8, 9, 11, 13, 14, 15, 16, 19, 20, 41, 51, 56, 57, 72, 80, 83, 89, 101, 102, 116,
]);

/** Topic ids (Fetch v13+, Produce v13+) resolved to names learned from Metadata/CreateTopics responses; shared, bounded. */
const topicNames = new Map<string, string>();

function learnTopic(id: string, name: string): void {
  if (id === ZERO_UUID || !name) {
    return;
  }
  if (!topicNames.has(id)) {
    evictOldest(topicNames, TOPIC_ID_CACHE, 'kafkaTopicIds');
  }
  topicNames.set(id, name);
}

const ZERO_UUID = '00000000000000000000000000000000';

export function kafkaStatus(code: number): ParsedMessage['status'] {
  if (code === 0) {
    return 'ok';
  }
  return SERVER_ERRORS.has(code) ? 'server_error' : 'client_error';
}

export function kafkaErrorName(code: number): string {
  return KAFKA_ERRORS[code + 1] ?? `ERROR_${code}`;
}

/** Bounded reader over a captured prefix: any read past the end sets `ok` false and returns a dummy. */
class Reader {
  ok = true;
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number
  ) {}

  private need(n: number): boolean {
    if (!this.ok || this.pos + n > this.end) {
      this.ok = false;
      return false;
    }
    return true;
  }
  i8(): number {
    return this.need(1) ? this.buf.readInt8(this.pos++) : 0;
  }
  i16(): number {
    if (!this.need(2)) {
      return 0;
    }
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  i32(): number {
    if (!this.need(4)) {
      return 0;
    }
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  skip(n: number): void {
    if (n < 0 || !this.need(n)) {
      this.ok = false;
      return;
    }
    this.pos += n;
  }
  uvarint(): number {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (!this.need(1)) {
        return 0;
      }
      const b = this.buf[this.pos++];
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) {
        return v;
      }
    }
    this.ok = false;
    return 0;
  }
  /** classic int32 or compact uvarint (N+1) array length; -1 = null */
  arrayLen(flexible: boolean): number {
    const n = flexible ? this.uvarint() - 1 : this.i32();
    if (n < -1 || n > MAX_MESSAGE) {
      this.ok = false;
    }
    return n;
  }
  /** classic int16 or compact uvarint (N+1) string; null for a null string; capped at MAX_STRING chars */
  string(flexible: boolean): string | null {
    const len = flexible ? this.uvarint() - 1 : this.i16();
    if (len < 0 || !this.ok) {
      if (len < -1) {
        this.ok = false;
      }
      return null;
    }
    const start = this.pos;
    if (start + len > this.end) {
      // the string runs past the captured bytes: a cut topic name would be a wrong one
      this.ok = false;
      return null;
    }
    this.pos += len;
    return this.buf.toString('utf8', start, start + Math.min(len, MAX_STRING));
  }
  uuid(): string {
    if (!this.need(16)) {
      return ZERO_UUID;
    }
    const s = this.buf.toString('hex', this.pos, this.pos + 16);
    this.pos += 16;
    return s;
  }
  skipTags(): void {
    const n = this.uvarint();
    for (let i = 0; i < n && this.ok; i++) {
      this.uvarint();
      this.skip(this.uvarint());
    }
  }
}

function isPrintable(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c < 0x20 || c > 0x7e) {
      return false;
    }
  }
  return true;
}

interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string;
  flexible: boolean;
  /** offset of the body */
  bodyAt: number;
}

/** The request header at `at` (just after the size), or null unless it is a plausible Kafka request header. */
function readRequestHeader(seg: Buffer, at: number, requireClientId: boolean): RequestHeader | null {
  if (seg.length < at + 10) {
    return null;
  }
  const apiKey = seg.readInt16BE(at);
  const apiVersion = seg.readInt16BE(at + 2);
  const api = KAFKA_APIS[apiKey];
  if (!api || apiVersion < 0 || apiVersion > api[1] + FUTURE_VERSIONS) {
    return null;
  }
  const correlationId = seg.readInt32BE(at + 4);
  const idLen = seg.readInt16BE(at + 8);
  if (idLen < -1 || (requireClientId && idLen < 1)) {
    return null;
  }
  const idEnd = at + 10 + Math.max(idLen, 0);
  // the client id is printable ASCII in every client seen; bytes past the capture are not checked
  if (!isPrintable(seg, at + 10, Math.min(idEnd, seg.length))) {
    return null;
  }
  const clientId = idLen > 0 ? seg.toString('latin1', at + 10, Math.min(idEnd, seg.length, at + 10 + MAX_STRING)) : '';
  const flexible = api[2] >= 0 && apiVersion >= api[2];
  let bodyAt = idEnd;
  if (flexible) {
    // request header v2: tagged fields after the (still classic) client id
    const r = new Reader(seg, idEnd, seg.length);
    r.skipTags();
    bodyAt = r.ok ? r.pos : seg.length;
  }
  return { apiKey, apiVersion, correlationId, clientId, flexible, bodyAt };
}

/** True when `seg` starts with int32 size + a plausible request header. */
function looksLikeSizedRequest(seg: Buffer): boolean {
  if (seg.length < 14) {
    return false;
  }
  const size = seg.readInt32BE(0);
  return size >= 10 && size <= MAX_MESSAGE && readRequestHeader(seg, 4, false) !== null;
}

interface PendingRequest {
  apiKey: number;
  apiVersion: number;
}

/** The first topic (or group) named by a request body, '' when the body does not say or was not captured. */
function requestResource(h: RequestHeader, seg: Buffer, end: number): { resource: string; acks?: number } {
  const r = new Reader(seg, h.bodyAt, end);
  const v = h.apiVersion;
  const f = h.flexible;
  const firstTopicName = (): string => (r.arrayLen(f) > 0 ? (r.string(f) ?? '') : '');
  const firstTopicId = (): string => (r.arrayLen(f) > 0 ? (topicNames.get(r.uuid()) ?? '') : '');
  switch (h.apiKey) {
    case PRODUCE: {
      if (v >= 3) {
        r.string(f); // transactional id
      }
      const acks = r.i16();
      r.i32(); // timeout
      if (!r.ok) {
        return { resource: '' };
      }
      return { resource: v >= 13 ? firstTopicId() : firstTopicName(), acks };
    }
    case FETCH:
      if (v <= 14) {
        r.i32(); // replica id
      }
      r.skip(8); // max wait, min bytes
      if (v >= 3) {
        r.i32(); // max bytes
      }
      if (v >= 4) {
        r.i8(); // isolation level
      }
      if (v >= 7) {
        r.skip(8); // session id, epoch
      }
      return { resource: !r.ok ? '' : v >= 13 ? firstTopicId() : firstTopicName() };
    case LIST_OFFSETS:
      r.i32();
      if (v >= 2) {
        r.i8();
      }
      return { resource: r.ok ? firstTopicName() : '' };
    case METADATA: {
      if (r.arrayLen(f) <= 0) {
        return { resource: '' }; // null = all topics, or none
      }
      if (v >= 10) {
        const id = r.uuid();
        const name = r.string(f);
        return { resource: name ?? topicNames.get(id) ?? '' };
      }
      return { resource: r.string(f) ?? '' };
    }
    case CREATE_TOPICS:
      return { resource: firstTopicName() };
    case DELETE_TOPICS:
      if (v >= 6) {
        if (r.arrayLen(f) <= 0) {
          return { resource: '' };
        }
        const name = r.string(f);
        return { resource: name ?? topicNames.get(r.uuid()) ?? '' };
      }
      return { resource: firstTopicName() };
    case OFFSET_COMMIT:
    case JOIN_GROUP:
    case HEARTBEAT:
    case LEAVE_GROUP:
    case SYNC_GROUP:
      return { resource: r.string(f) ?? '' }; // group id
    case OFFSET_FETCH:
      if (v >= 8) {
        return { resource: r.arrayLen(f) > 0 ? (r.string(f) ?? '') : '' }; // first group of the batch
      }
      return { resource: r.string(f) ?? '' };
    case FIND_COORDINATOR:
      if (v >= 4) {
        r.i8(); // key type
        return { resource: r.arrayLen(f) > 0 ? (r.string(f) ?? '') : '' };
      }
      return { resource: r.string(f) ?? '' };
    default:
      return { resource: '' };
  }
}

/** Decodes the error code of a response body at `at`; fills code/status/exception of `msg` when found. */
function decodeResponse(msg: ParsedMessage, req: PendingRequest, seg: Buffer, at: number, end: number): void {
  const api = KAFKA_APIS[req.apiKey];
  const v = req.apiVersion;
  const f = api[2] >= 0 && v >= api[2];
  const r = new Reader(seg, at, end);
  if (f && req.apiKey !== API_VERSIONS) {
    r.skipTags(); // response header v1 (ApiVersions always answers with header v0)
  }
  let code: number | undefined;
  let message: string | null = null;
  switch (req.apiKey) {
    case PRODUCE:
      if (r.arrayLen(f) > 0) {
        if (v >= 13) {
          r.uuid();
        } else {
          r.string(f);
        }
        if (r.arrayLen(f) > 0) {
          r.i32(); // partition index
          code = r.i16();
        }
      }
      break;
    case FETCH: {
      if (v >= 1) {
        r.i32(); // throttle
      }
      if (v >= 7) {
        code = r.i16();
        r.i32(); // session id
        if (code !== 0) {
          break;
        }
      }
      if (r.arrayLen(f) > 0) {
        if (v >= 13) {
          r.uuid();
        } else {
          r.string(f);
        }
        if (r.arrayLen(f) > 0) {
          r.i32();
          code = r.i16();
        }
      } else if (r.ok) {
        code = 0; // an empty answer of an incremental fetch session
      }
      break;
    }
    case METADATA:
      code = metadataTopicsCode(r, v, f);
      break;
    case LIST_OFFSETS:
    case OFFSET_COMMIT:
      if (v >= (req.apiKey === LIST_OFFSETS ? 2 : 3)) {
        r.i32(); // throttle
      }
      if (r.arrayLen(f) > 0) {
        r.string(f);
        if (r.arrayLen(f) > 0) {
          r.i32(); // partition index
          code = r.i16();
        }
      }
      break;
    case CREATE_TOPICS: {
      if (v >= 2) {
        r.i32();
      }
      if (r.arrayLen(f) > 0) {
        const name = r.string(f);
        if (v >= 7) {
          learnTopic(r.uuid(), name ?? '');
        }
        code = r.i16();
        if (v >= 1) {
          message = r.string(f);
        }
      }
      break;
    }
    case API_VERSIONS:
      code = r.i16();
      break;
    case JOIN_GROUP:
      if (v >= 2) {
        r.i32();
      }
      code = r.i16();
      break;
    case HEARTBEAT:
    case LEAVE_GROUP:
    case SYNC_GROUP:
      if (v >= 1) {
        r.i32();
      }
      code = r.i16();
      break;
    case FIND_COORDINATOR:
      if (v >= 1) {
        r.i32();
      }
      if (v <= 3) {
        code = r.i16();
        if (v >= 1) {
          message = r.string(f);
        }
      }
      break;
    case INIT_PRODUCER_ID:
    case DESCRIBE_CLUSTER:
      r.i32();
      code = r.i16();
      break;
    default:
      break;
  }
  if (code === undefined || !(r.ok || message !== null)) {
    msg.status = 'unknown';
    return;
  }
  msg.code = code;
  msg.status = kafkaStatus(code);
  if (code !== 0) {
    msg.exception = message ?? kafkaErrorName(code);
  }
}

/** Metadata response: the first topic's error code; learns topic ids (v10+) of the topics captured. */
function metadataTopicsCode(r: Reader, v: number, f: boolean): number | undefined {
  if (v >= 3) {
    r.i32();
  }
  const brokers = r.arrayLen(f);
  for (let i = 0; i < brokers && r.ok; i++) {
    r.i32();
    r.string(f);
    r.i32();
    if (v >= 1) {
      r.string(f);
    }
    if (f) {
      r.skipTags();
    }
  }
  if (v >= 2) {
    r.string(f); // cluster id
  }
  if (v >= 1) {
    r.i32(); // controller id
  }
  const topics = r.arrayLen(f);
  if (!r.ok) {
    return undefined;
  }
  // the answer lists topics in its own order: the first error of any topic captured, else 0
  let code = 0;
  for (let i = 0; i < topics && r.ok; i++) {
    const topicCode = r.i16();
    const name = r.string(f);
    if (!r.ok) {
      break;
    }
    if (code === 0) {
      code = topicCode;
    }
    if (v >= 10) {
      learnTopic(r.uuid(), name ?? '');
    }
    if (v >= 1) {
      r.i8(); // is internal
    }
    const partitions = r.arrayLen(f);
    for (let p = 0; p < partitions && r.ok; p++) {
      r.skip(v >= 7 ? 14 : 10); // error, index, leader, leader epoch
      for (let list = 0; list < (v >= 5 ? 3 : 2); list++) {
        r.skip(4 * Math.max(r.arrayLen(f), 0)); // replicas, isr, offline replicas
      }
      if (f) {
        r.skipTags();
      }
    }
    if (v >= 8) {
      r.i32();
    }
    if (f) {
      r.skipTags();
    }
  }
  return code;
}

/** Per-direction framing state: bytes of the current message still to come, and a kept short head. */
interface Framing {
  remaining: number;
  head?: Buffer;
  /** a message boundary fell past the captured bytes: the next segment is checked strictly */
  lost: boolean;
}

export class KafkaParser implements ProtocolParser {
  readonly protocol = 'Kafka';
  private readonly pending = new Map<number, PendingRequest>();
  /** true when requests are this process's egress (learnt from the first request parsed) */
  private requestEgress?: boolean;
  private readonly framing: [Framing, Framing] = [
    { remaining: 0, lost: false },
    { remaining: 0, lost: false },
  ];

  infer(segment: Buffer, _ctx: SegmentContext): boolean {
    // the size-prefixed request a client writes, or the body a JVM broker reads after reading the size alone
    return looksLikeSizedRequest(segment) || readRequestHeader(segment, 0, true) !== null;
  }

  forConnection(): ProtocolParser {
    return new KafkaParser();
  }

  parse(
    segment: Buffer,
    retLen: number,
    _request: ParsedMessage | undefined,
    ctx: SegmentContext
  ): ParsedMessage | ParsedMessage[] | null {
    const fr = this.framing[ctx.egress ? 0 : 1];
    if (fr.remaining > 0) {
      if (retLen <= fr.remaining) {
        fr.remaining -= retLen;
        return null;
      }
      const skip = fr.remaining;
      fr.remaining = 0;
      if (skip >= segment.length) {
        fr.lost = true; // the next message starts past the captured bytes
        return null;
      }
      return this.parseMessages(segment.subarray(skip), retLen - skip, ctx, fr);
    }
    let seg = segment;
    let len = retLen;
    let headLength = 0;
    if (fr.head) {
      headLength = fr.head.length;
      seg = Buffer.concat([fr.head, segment]);
      len = retLen + headLength;
      fr.head = undefined;
    }
    return this.parseMessages(seg, len, ctx, fr, headLength);
  }

  private parseMessages(
    seg: Buffer,
    retLen: number,
    ctx: SegmentContext,
    fr: Framing,
    headLength = 0
  ): ParsedMessage | ParsedMessage[] | null {
    const isRequest = this.requestEgress === undefined || ctx.egress === this.requestEgress;
    const out: ParsedMessage[] = [];
    let off = 0;
    // a fresh connection seen from a JVM broker: its first request body arrives without the size
    if (this.requestEgress === undefined && !this.sizedFirst(seg, retLen)) {
      const h = readRequestHeader(seg, 0, true);
      if (!h) {
        return null;
      }
      out.push(this.request(h, seg, seg.length, retLen, ctx));
      off = retLen;
    }
    while (off < retLen) {
      const left = retLen - off;
      if (
        out.length === 0 &&
        left < SHORT_HEAD &&
        seg.length === retLen &&
        (left < 4 || seg.readInt32BE(off) + 4 > left)
      ) {
        // a short read of an unfinished message start (the JVM reads the 4-byte size alone, librdkafka size + id): join it with the next
        fr.head = Buffer.from(seg.subarray(off));
        return null;
      }
      if (off + 4 > seg.length) {
        fr.lost = true;
        break;
      }
      const size = seg.readInt32BE(off);
      if (size < 4 || size > MAX_MESSAGE) {
        fr.lost = true;
        break;
      }
      const total = 4 + size;
      const end = Math.min(seg.length, off + total);
      let m: ParsedMessage | null;
      if (isRequest) {
        const h = readRequestHeader(seg, off + 4, false);
        m = h ? this.request(h, seg, end, total, ctx) : null;
      } else {
        m = this.response(seg, off + 4, end, total, fr.lost || out.length > 0);
      }
      if (!m) {
        if (out.length === 0) {
          return null; // not a message start: a continuation we lost count of
        }
        fr.lost = true;
        break;
      }
      fr.lost = false;
      if (out.length === 0 && headLength > 0 && m.totalLength !== undefined) {
        m.totalLength -= headLength; // the stream counts from this segment; the head was seen before
      }
      out.push(m);
      off += total;
    }
    if (off > retLen) {
      fr.remaining = off - retLen;
    }
    if (out.length === 0) {
      return null;
    }
    return out.length === 1 ? out[0] : out;
  }

  /**
   * A fresh connection's first segment: size-prefixed, or (a JVM broker's read after the 4-byte size)
   * a bare header. Both can look plausible; a size that fits the syscall decides for the prefix.
   */
  private sizedFirst(seg: Buffer, retLen: number): boolean {
    if (!looksLikeSizedRequest(seg)) {
      return false;
    }
    return 4 + seg.readInt32BE(0) <= retLen || readRequestHeader(seg, 0, true) === null;
  }

  private request(h: RequestHeader, seg: Buffer, end: number, total: number, ctx: SegmentContext): ParsedMessage {
    if (this.requestEgress === undefined) {
      this.requestEgress = ctx.egress;
    }
    const name = KAFKA_APIS[h.apiKey][0];
    const { resource, acks } = requestResource(h, seg, end);
    const m: ParsedMessage = {
      type: 'request',
      id: h.correlationId,
      totalLength: total,
      version: String(h.apiVersion),
      requestType: name,
      domain: h.clientId,
      resource,
      endpoint: resource ? `${name} ${resource}` : name,
    };
    if (h.apiKey === PRODUCE && acks === 0) {
      m.oneWay = true; // acks=0: the broker never answers
      return m;
    }
    evictOldest(this.pending, MAX_PENDING, 'kafkaPending');
    this.pending.set(h.correlationId, { apiKey: h.apiKey, apiVersion: h.apiVersion });
    return m;
  }

  /** A response at `at` (after the size); `strict`: only a correlation id we wait for makes it a message start. */
  private response(seg: Buffer, at: number, end: number, total: number, strict: boolean): ParsedMessage | null {
    if (at + 4 > seg.length) {
      return null;
    }
    const id = seg.readInt32BE(at);
    const req = this.pending.get(id);
    if (!req) {
      return strict ? null : { type: 'response', id, totalLength: total, status: 'unknown' };
    }
    this.pending.delete(id);
    const m: ParsedMessage = { type: 'response', id, totalLength: total };
    decodeResponse(m, req, seg, at + 4, end);
    return m;
  }
}
