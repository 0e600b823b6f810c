// AMQP 0-9-1 (RabbitMQ). Frames (type, channel, size, payload, 0xCE) are found with the shared
// length framer; method frames are the messages. Client methods are requests: synchronous ones pair
// with the server's reply on the same channel in order (the parser numbers them per channel and
// gives request and reply the same id); a server Channel.Close / Connection.Close is the reply to
// the request it refuses (404 NOT_FOUND → client_error). Basic.Publish, Basic.Ack/Nack/Reject and
// no-wait methods are one-way, except Basic.Publish on a channel in confirm mode, which pairs with
// the broker's Basic.Ack/Nack by delivery tag. Connection.Start, Basic.Deliver and Basic.Return are
// unsolicited (not logged); Connection.StartOk pairs with Tune (or the Close that refuses the login)
// and its credentials are never read; TuneOk, the client's CloseOk and content frames are not
// messages. request_domain = the vhost from Connection.Open, on every request after it.
import type { ParsedMessage, ProtocolParser, SegmentContext } from '../types';
import { LengthFramer, NEED_MORE, INVALID, FrameSink } from '../mqtt/lengthFramer';
import { evictOldest, parserEvictions } from '../parserBounds';

const PROTOCOL_HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');
const FRAME_END = 0xce;
const MAX_FRAME = 64 * 1024 * 1024;
const MAX_FIELD = 512;
const MAX_CHANNELS = 2048;
const MAX_PENDING_PER_CHANNEL = 256;

const CLASSES: Record<number, string> = {
  10: 'Connection',
  20: 'Channel',
  40: 'Exchange',
  50: 'Queue',
  60: 'Basic',
  85: 'Confirm',
  90: 'Tx',
};
const METHODS: Record<number, string> = {
  0x0a000a: 'Start',
  0x0a000b: 'StartOk',
  0x0a0014: 'Secure',
  0x0a0015: 'SecureOk',
  0x0a001e: 'Tune',
  0x0a001f: 'TuneOk',
  0x0a0028: 'Open',
  0x0a0029: 'OpenOk',
  0x0a0032: 'Close',
  0x0a0033: 'CloseOk',
  0x0a003c: 'Blocked',
  0x0a003d: 'Unblocked',
  0x14000a: 'Open',
  0x14000b: 'OpenOk',
  0x140014: 'Flow',
  0x140015: 'FlowOk',
  0x140028: 'Close',
  0x140029: 'CloseOk',
  0x28000a: 'Declare',
  0x28000b: 'DeclareOk',
  0x280014: 'Delete',
  0x280015: 'DeleteOk',
  0x28001e: 'Bind',
  0x28001f: 'BindOk',
  0x280028: 'Unbind',
  0x280033: 'UnbindOk',
  0x32000a: 'Declare',
  0x32000b: 'DeclareOk',
  0x320014: 'Bind',
  0x320015: 'BindOk',
  0x32001e: 'Purge',
  0x32001f: 'PurgeOk',
  0x320028: 'Delete',
  0x320029: 'DeleteOk',
  0x320032: 'Unbind',
  0x320033: 'UnbindOk',
  0x3c000a: 'Qos',
  0x3c000b: 'QosOk',
  0x3c0014: 'Consume',
  0x3c0015: 'ConsumeOk',
  0x3c001e: 'Cancel',
  0x3c001f: 'CancelOk',
  0x3c0028: 'Publish',
  0x3c0032: 'Return',
  0x3c003c: 'Deliver',
  0x3c0046: 'Get',
  0x3c0047: 'GetOk',
  0x3c0048: 'GetEmpty',
  0x3c0050: 'Ack',
  0x3c005a: 'Reject',
  0x3c0064: 'RecoverAsync',
  0x3c006e: 'Recover',
  0x3c006f: 'RecoverOk',
  0x3c0078: 'Nack',
  0x55000a: 'Select',
  0x55000b: 'SelectOk',
  0x5a000a: 'Select',
  0x5a000b: 'SelectOk',
  0x5a0014: 'Commit',
  0x5a0015: 'CommitOk',
  0x5a001e: 'Rollback',
  0x5a001f: 'RollbackOk',
};

/** Synchronous client requests, with where their no-wait bit is: [bit-field offset after the named fields, bit] (-1: none). */
const SYNC_REQUESTS = new Set([
  0x0a000b, 0x0a0015, 0x0a0028, 0x0a0032, 0x140014, 0x14000a, 0x140028, 0x28000a, 0x280014, 0x28001e, 0x280028,
  0x32000a, 0x320014, 0x32001e, 0x320028, 0x320032, 0x3c000a, 0x3c0014, 0x3c001e, 0x3c0046, 0x3c006e, 0x55000a,
  0x5a000a, 0x5a0014, 0x5a001e,
]);
/** Server replies to a synchronous request. */
const SYNC_REPLIES = new Set([
  0x0a0014, 0x0a001e, 0x0a0029, 0x0a0033, 0x14000b, 0x140015, 0x140029, 0x28000b, 0x280015, 0x28001f, 0x280033,
  0x32000b, 0x320015, 0x32001f, 0x320029, 0x320033, 0x3c000b, 0x3c0015, 0x3c001f, 0x3c0047, 0x3c0048, 0x3c006f,
  0x55000b, 0x5a000b, 0x5a0015, 0x5a001f,
]);
/** Methods followed by a content header and body frames. */
const WITH_CONTENT = new Set([0x3c0028, 0x3c0032, 0x3c003c, 0x3c0047]);

function frameLength(head: Buffer): number {
  if (head.length < 7) {
    return head.length >= 1 && !(head[0] === 1 || head[0] === 2 || head[0] === 3 || head[0] === 8)
      ? INVALID
      : NEED_MORE;
  }
  const type = head[0];
  if (type !== 1 && type !== 2 && type !== 3 && type !== 8) {
    return INVALID;
  }
  const size = head.readUInt32BE(3);
  if (size > MAX_FRAME || (type === 1 && size < 4) || (type === 8 && size !== 0)) {
    return INVALID;
  }
  if (type === 1 && head.length >= 11 && METHODS[(head.readUInt16BE(7) << 16) | head.readUInt16BE(9)] === undefined) {
    return INVALID;
  }
  const total = 8 + size;
  return head.length >= total && head[total - 1] !== FRAME_END ? INVALID : total;
}

/** Reply codes of Channel.Close / Connection.Close that blame the server. */
function closeStatus(code: number): ParsedMessage['status'] {
  if (code === 200) {
    return 'ok';
  }
  return code === 320 || code === 506 || code === 541 ? 'server_error' : 'client_error';
}

class Reader {
  constructor(
    readonly b: Buffer,
    public pos: number
  ) {}
  u8(): number {
    return this.pos < this.b.length ? this.b[this.pos++] : -1;
  }
  u16(): number {
    if (this.pos + 2 > this.b.length) {
      this.pos = this.b.length + 1;
      return -1;
    }
    const v = this.b.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u64(): number {
    if (this.pos + 8 > this.b.length) {
      this.pos = this.b.length + 1;
      return -1;
    }
    const v = Number(this.b.readBigUInt64BE(this.pos));
    this.pos += 8;
    return v;
  }
  shortstr(): string {
    const n = this.u8();
    if (n < 0) {
      return '';
    }
    const start = this.pos;
    this.pos += n;
    return this.b.toString('utf8', start, Math.min(start + n, start + MAX_FIELD, this.b.length));
  }
}

interface ChannelState {
  /** ids of synchronous requests awaiting their reply, oldest first */
  pending: string[];
  /** class/method of each pending request, to match a Connection.Close naming it */
  pendingMethods: number[];
  seq: number;
  confirm: boolean;
  published: number;
  acked: number;
}

class AmqpConnection implements ProtocolParser, FrameSink {
  readonly protocol = 'AMQP';
  private readonly egress = new LengthFramer(frameLength);
  private readonly ingress = new LengthFramer(frameLength);
  private isClient?: boolean;
  private vhost = '';
  private frameMax = 131072;
  private readonly channels = new Map<number, ChannelState>();
  private out: ParsedMessage[] = [];
  private fromEgress = false;
  /** the last message with content, to extend its length by its content frames */
  private withContent?: ParsedMessage;

  infer(seg: Buffer): boolean {
    if (seg.length >= 8 && seg.subarray(0, 8).equals(PROTOCOL_HEADER)) {
      return true;
    }
    // mid-stream: a whole method frame of a known method
    if (seg.length < 12 || seg[0] !== 1) {
      return false;
    }
    const total = frameLength(seg);
    return total > 0 && total <= seg.length && METHODS[(seg.readUInt16BE(7) << 16) | seg.readUInt16BE(9)] !== undefined;
  }

  forConnection(): ProtocolParser {
    return new AmqpConnection();
  }

  parse(
    seg: Buffer,
    retLen: number,
    _request: ParsedMessage | undefined,
    ctx: SegmentContext
  ): ParsedMessage | ParsedMessage[] | null {
    this.out = [];
    this.withContent = undefined;
    this.fromEgress = ctx.egress;
    const framer = ctx.egress ? this.egress : this.ingress;
    let from = 0;
    if (seg.length >= 4 && seg.toString('latin1', 0, 4) === 'AMQP') {
      // the protocol header (from the client; from a server refusing the version): no frame
      if (this.isClient === undefined) {
        this.isClient = ctx.egress;
      }
      framer.reset();
      from = 8;
    }
    if (!framer.push(seg, retLen, this, from)) {
      framer.reset();
    }
    const out = this.out;
    return out.length === 0 ? null : out.length === 1 ? out[0] : out;
  }

  private channel(ch: number): ChannelState {
    let s = this.channels.get(ch);
    if (!s) {
      evictOldest(this.channels, MAX_CHANNELS, 'amqpChannels');
      s = { pending: [], pendingMethods: [], seq: 0, confirm: false, published: 0, acked: 0 };
      this.channels.set(ch, s);
    }
    return s;
  }

  frame(p: Buffer, total: number, fromHere: number): void {
    const type = p[0];
    if (type === 2 && this.withContent && p.length >= 19) {
      // content header: class, weight, body size (u64): the body frames that follow belong to the method
      const bodySize = Number(p.readBigUInt64BE(11));
      const bodyFrames = bodySize === 0 ? 0 : Math.ceil(bodySize / Math.max(1, this.frameMax - 8));
      this.withContent.totalLength = (this.withContent.totalLength ?? 0) + total + bodySize + 8 * bodyFrames;
      this.withContent = undefined;
      return;
    }
    if (type !== 1 || p.length < 11) {
      return; // body, heartbeat, or a method cut before its ids
    }
    const ch = p.readUInt16BE(1);
    const classId = p.readUInt16BE(7);
    const methodKey = (classId << 16) | p.readUInt16BE(9);
    const name = `${CLASSES[classId] ?? classId}.${METHODS[methodKey] ?? 'Unknown'}`;
    const r = new Reader(p, 11);
    const egress = this.fromEgress;
    if (methodKey === 0x0a000a) {
      // Connection.Start: the server speaks first
      if (this.isClient === undefined) {
        this.isClient = !egress;
      }
      this.out.push({ type: 'request', unsolicited: true, totalLength: fromHere });
      return;
    }
    if (this.isClient === undefined) {
      this.isClient =
        SYNC_REQUESTS.has(methodKey) || methodKey === 0x3c0028
          ? egress
          : SYNC_REPLIES.has(methodKey)
            ? !egress
            : undefined;
    }
    const fromClient = this.isClient === undefined ? !SYNC_REPLIES.has(methodKey) : this.isClient === egress;
    const state = this.channel(ch);

    if (fromClient) {
      this.clientMethod(methodKey, name, ch, state, r, fromHere);
    } else {
      this.serverMethod(methodKey, name, ch, state, r, fromHere);
    }
  }

  private clientMethod(
    methodKey: number,
    name: string,
    ch: number,
    state: ChannelState,
    r: Reader,
    fromHere: number
  ): void {
    let resource = '';
    let noWait = false;
    switch (methodKey) {
      case 0x0a001f: // TuneOk
      case 0x0a0033: // CloseOk (answering the server's Close)
      case 0x140029:
      case 0x140015: // FlowOk
        return;
      case 0x0a0028: // Connection.Open
        this.vhost = r.shortstr();
        resource = this.vhost;
        break;
      case 0x0a000b: // StartOk: client properties, mechanism; the response (credentials) is never read
      case 0x0a0015: // SecureOk: likewise
        break;
      case 0x28000a: // Exchange.Declare
        r.u16();
        resource = r.shortstr();
        r.shortstr(); // type
        noWait = (r.u8() & 0x10) !== 0;
        break;
      case 0x280014: // Exchange.Delete
        r.u16();
        resource = r.shortstr();
        noWait = (r.u8() & 0x02) !== 0;
        break;
      case 0x28001e: // Exchange.Bind / Unbind: destination, source, routing key
      case 0x280028: {
        r.u16();
        const dest = r.shortstr();
        const src = r.shortstr();
        r.shortstr();
        noWait = (r.u8() & 0x01) !== 0;
        resource = `${src}/${dest}`;
        break;
      }
      case 0x32000a: // Queue.Declare
        r.u16();
        resource = r.shortstr();
        noWait = (r.u8() & 0x10) !== 0;
        break;
      case 0x320014: // Queue.Bind
      case 0x320032: {
        // Queue.Unbind
        r.u16();
        const queue = r.shortstr();
        const exchange = r.shortstr();
        r.shortstr(); // routing key
        noWait = methodKey === 0x320014 && (r.u8() & 0x01) !== 0;
        resource = `${exchange}/${queue}`;
        break;
      }
      case 0x32001e: // Queue.Purge
        r.u16();
        resource = r.shortstr();
        noWait = (r.u8() & 0x01) !== 0;
        break;
      case 0x320028: // Queue.Delete
        r.u16();
        resource = r.shortstr();
        noWait = (r.u8() & 0x04) !== 0;
        break;
      case 0x3c0014: // Basic.Consume
        r.u16();
        resource = r.shortstr();
        r.shortstr(); // consumer tag
        noWait = (r.u8() & 0x08) !== 0;
        break;
      case 0x3c001e: // Basic.Cancel
        resource = r.shortstr();
        noWait = (r.u8() & 0x01) !== 0;
        break;
      case 0x3c0046: // Basic.Get
        r.u16();
        resource = r.shortstr();
        break;
      case 0x140014: // Channel.Flow
      case 0x3c006e: // Basic.Recover
        break;
      case 0x55000a: // Confirm.Select
        noWait = (r.u8() & 0x01) !== 0;
        state.confirm = true;
        state.published = 0;
        state.acked = 0;
        break;
      case 0x3c0028: {
        // Basic.Publish
        r.u16();
        const exchange = r.shortstr();
        const key = r.shortstr();
        resource = exchange === '' ? key : `${exchange}/${key}`;
        const m = this.request(name, resource, fromHere);
        if (state.confirm) {
          state.published++;
          m.id = `${ch}:c${state.published}`;
        } else {
          m.oneWay = true;
        }
        this.withContent = m;
        this.out.push(m);
        return;
      }
      case 0x3c0050: // Basic.Ack / Reject / Nack / RecoverAsync from the client
      case 0x3c005a:
      case 0x3c0078:
      case 0x3c0064: {
        const m = this.request(name, '', fromHere);
        m.oneWay = true;
        this.out.push(m);
        return;
      }
      default:
        break;
    }
    const m = this.request(name, resource, fromHere);
    if (noWait || !SYNC_REQUESTS.has(methodKey)) {
      m.oneWay = true;
    } else {
      state.seq++;
      m.id = `${ch}:${state.seq}`;
      if (state.pending.length >= MAX_PENDING_PER_CHANNEL) {
        parserEvictions.amqpPending++;
        state.pending.shift();
        state.pendingMethods.shift();
      }
      state.pending.push(m.id);
      state.pendingMethods.push(methodKey);
    }
    if (methodKey === 0x0a0028) {
      m.domain = this.vhost;
    }
    this.out.push(m);
  }

  private request(name: string, resource: string, fromHere: number): ParsedMessage {
    return {
      type: 'request',
      version: '0-9-1',
      requestType: name,
      domain: this.vhost,
      resource,
      endpoint: resource,
      totalLength: fromHere,
    };
  }

  private serverMethod(
    methodKey: number,
    name: string,
    ch: number,
    state: ChannelState,
    r: Reader,
    fromHere: number
  ): void {
    if (
      methodKey === 0x3c003c ||
      methodKey === 0x3c0032 ||
      methodKey === 0x0a003c ||
      methodKey === 0x0a003d ||
      methodKey === 0x140014
    ) {
      // Deliver, Return, Connection.Blocked/Unblocked, Channel.Flow: the broker's own initiative
      const m: ParsedMessage = { type: 'request', unsolicited: true, totalLength: fromHere };
      if (WITH_CONTENT.has(methodKey)) {
        this.withContent = m;
      }
      this.out.push(m);
      return;
    }
    if (methodKey === 0x3c0050 || methodKey === 0x3c0078) {
      // publisher confirms: Ack/Nack(delivery tag, multiple) settle one or all publishes up to the tag
      const tag = r.u64();
      const multiple = (r.u8() & 0x01) !== 0;
      if (!state.confirm || tag < 1 || tag > state.published) {
        return; // a tag no publish of ours carried (and no loop over a hostile 64-bit tag)
      }
      const nack = methodKey === 0x3c0078;
      const from = multiple ? Math.max(state.acked + 1, tag - 255) : tag;
      for (let t = from; t <= tag && t - from < 256; t++) {
        this.out.push({
          type: 'response',
          id: `${ch}:c${t}`,
          code: nack ? -1 : 200,
          status: nack ? 'server_error' : 'ok',
          exception: nack ? 'Basic.Nack' : undefined,
          totalLength: Math.round(fromHere / (tag - from + 1)),
        });
      }
      state.acked = Math.max(state.acked, tag);
      return;
    }
    let id: string | undefined;
    let code = 200;
    let exception: string | undefined;
    if (methodKey === 0x0a0032 || methodKey === 0x140028) {
      // the server closes the connection / channel: the reply to the request it refuses
      code = r.u16();
      exception = r.shortstr();
      const failedMethod = (r.u16() << 16) | r.u16();
      if (methodKey === 0x140028 || state.pending.length) {
        id = state.pending.shift();
        state.pendingMethods.shift();
      } else {
        // at most 64 channels with requests in flight are searched: a hostile peer repeating
        // Connection.Close must not cost 2048 channels x 256 pending each time
        let searched = 0;
        for (const other of this.channels.values()) {
          if (other.pending.length === 0) {
            continue;
          }
          if (++searched > 64) {
            break;
          }
          const i = other.pendingMethods.indexOf(failedMethod);
          if (i >= 0) {
            id = other.pending.splice(i, 1)[0];
            other.pendingMethods.splice(i, 1);
            break;
          }
        }
      }
    } else if (SYNC_REPLIES.has(methodKey)) {
      if (methodKey === 0x0a001e) {
        r.u16(); // channel max
        const fm = r.pos + 4 <= r.b.length ? r.b.readUInt32BE(r.pos) : 0;
        if (fm >= 4096) {
          this.frameMax = fm;
        }
      }
      id = state.pending.shift();
      state.pendingMethods.shift();
    } else {
      return;
    }
    if (id === undefined) {
      id = `${ch}:none`; // nothing awaited a reply here: the stream counts it as an orphan
    }
    const m: ParsedMessage = { type: 'response', id, code, status: closeStatus(code), totalLength: fromHere };
    if (exception !== undefined && code !== 200) {
      m.exception = exception;
    }
    if (WITH_CONTENT.has(methodKey)) {
      this.withContent = m;
    }
    void name;
    this.out.push(m);
  }
}

export class AmqpParser extends AmqpConnection {}
