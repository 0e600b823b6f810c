// MQTT 3.1, 3.1.1 and 5.0 over TCP. Client packets are requests: CONNECT → CONNACK and PINGREQ →
// PINGRESP pair in order; PUBLISH QoS 1 → PUBACK, QoS 2 → PUBREC, SUBSCRIBE → SUBACK and
// UNSUBSCRIBE → UNSUBACK pair by packet id; PUBLISH QoS 0 and DISCONNECT are one-way.
// The broker's PUBLISH deliveries to a subscriber are marked unsolicited (not logged: each message
// is logged once, on the publisher's connection), and the acknowledgements that follow a delivery
// or a QoS 2 handshake (the client's PUBACK/PUBREC/PUBCOMP, PUBREL both ways, the broker's PUBCOMP)
// are not messages of their own. request_domain = the client id from CONNECT, on every request of
// the connection; CONNECT's request_resource = the user name (the password is never read).
import type { ParsedMessage, ProtocolParser, SegmentContext } from '../types';
import { LengthFramer, NEED_MORE, INVALID, FrameSink } from './lengthFramer';

const MAX_FIELD = 512;

const enum T {
  CONNECT = 1,
  CONNACK,
  PUBLISH,
  PUBACK,
  PUBREC,
  PUBREL,
  PUBCOMP,
  SUBSCRIBE,
  SUBACK,
  UNSUBSCRIBE,
  UNSUBACK,
  PINGREQ,
  PINGRESP,
  DISCONNECT,
  AUTH,
}
const NAMES = [
  '',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'AUTH',
];

const CONNACK_V3: Record<number, string> = {
  1: 'Connection Refused: unacceptable protocol version',
  2: 'Connection Refused: identifier rejected',
  3: 'Connection Refused: server unavailable',
  4: 'Connection Refused: bad user name or password',
  5: 'Connection Refused: not authorized',
};
const REASONS_V5: Record<number, string> = {
  0x80: 'Unspecified error',
  0x81: 'Malformed Packet',
  0x82: 'Protocol Error',
  0x83: 'Implementation specific error',
  0x84: 'Unsupported Protocol Version',
  0x85: 'Client Identifier not valid',
  0x86: 'Bad User Name or Password',
  0x87: 'Not authorized',
  0x88: 'Server unavailable',
  0x89: 'Server busy',
  0x8a: 'Banned',
  0x8c: 'Bad authentication method',
  0x8f: 'Topic Filter invalid',
  0x90: 'Topic Name invalid',
  0x91: 'Packet Identifier in use',
  0x92: 'Packet Identifier not found',
  0x95: 'Packet too large',
  0x97: 'Quota exceeded',
  0x99: 'Payload format invalid',
  0x9a: 'Retain not supported',
  0x9b: 'QoS not supported',
  0x9c: 'Use another server',
  0x9d: 'Server moved',
  0x9e: 'Shared Subscriptions not supported',
  0x9f: 'Connection rate exceeded',
  0xa1: 'Subscription Identifiers not supported',
  0xa2: 'Wildcard Subscriptions not supported',
};
/** Reason codes that say the broker, not the request, failed. */
const SERVER_SIDE = new Set([0x80, 0x83, 0x88, 0x89, 0x97, 0x9c, 0x9d, 0x9f]);

/** Fixed header check + remaining length: the packet's total length. */
function packetLength(head: Buffer): number {
  if (head.length < 2) {
    return head.length === 1 && !validFirstByte(head[0]) ? INVALID : NEED_MORE;
  }
  if (!validFirstByte(head[0])) {
    return INVALID;
  }
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    if (i >= head.length) {
      return NEED_MORE;
    }
    const b = head[i];
    value += (b & 0x7f) * 128 ** (i - 1);
    if ((b & 0x80) === 0) {
      return 1 + i + value;
    }
  }
  return INVALID; // a remaining length of more than 4 bytes
}

function validFirstByte(b: number): boolean {
  const type = b >> 4;
  const flags = b & 0x0f;
  if (type === 0) {
    return false;
  }
  if (type === T.PUBLISH) {
    return (flags & 0x06) !== 0x06; // QoS 3 does not exist
  }
  // PUBREL, SUBSCRIBE and UNSUBSCRIBE carry flags 0010, every other packet 0000
  return flags === (type === T.PUBREL || type === T.SUBSCRIBE || type === T.UNSUBSCRIBE ? 2 : 0);
}

/** A bounds-checked reader over a packet's kept bytes. */
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
  varint(): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const x = this.u8();
      if (x < 0) {
        return -1;
      }
      v += (x & 0x7f) * 128 ** i;
      if ((x & 0x80) === 0) {
        return v;
      }
    }
    return -1;
  }
  /** a u16-prefixed string, cut at MAX_FIELD and at the kept bytes; null when not even its length is there */
  str(): string | null {
    const n = this.u16();
    if (n < 0) {
      return null;
    }
    const start = this.pos;
    this.pos += n;
    return this.b.toString('utf8', start, Math.min(start + n, start + MAX_FIELD, this.b.length));
  }
  skip(n: number): void {
    this.pos += n;
  }
  get ok(): boolean {
    return this.pos <= this.b.length;
  }
}

function ackStatus(code: number, v5: boolean, connack: boolean): Pick<ParsedMessage, 'status' | 'exception'> {
  if (connack && !v5) {
    return code === 0
      ? { status: 'ok' }
      : { status: code === 3 ? 'server_error' : 'client_error', exception: CONNACK_V3[code] ?? `return code ${code}` };
  }
  if (code < 0x80) {
    return { status: 'ok' };
  }
  if (!v5) {
    return { status: 'client_error', exception: 'Failure' }; // 3.1.1 SUBACK 0x80: the subscription was refused
  }
  return {
    status: SERVER_SIDE.has(code) ? 'server_error' : 'client_error',
    exception: REASONS_V5[code] ?? (v5 ? `reason code 0x${code.toString(16)}` : 'Failure'),
  };
}

class MqttConnection implements ProtocolParser, FrameSink {
  readonly protocol = 'MQTT';
  private readonly egress = new LengthFramer(packetLength);
  private readonly ingress = new LengthFramer(packetLength);
  /** true when this process is the client (known from the first client-only or broker-only packet) */
  private isClient?: boolean;
  private v5 = false;
  private version = '3.1.1';
  private clientId = '';
  private out: ParsedMessage[] = [];
  private fromEgress = false;

  infer(seg: Buffer): boolean {
    return isConnect(seg);
  }

  parse(
    seg: Buffer,
    retLen: number,
    _request: ParsedMessage | undefined,
    ctx: SegmentContext
  ): ParsedMessage | ParsedMessage[] | null {
    this.out = [];
    this.fromEgress = ctx.egress;
    const framer = ctx.egress ? this.egress : this.ingress;
    if (!framer.started && connectBody(seg)) {
      // the fixed header came in reads of its own (libmosquitto) that inference consumed
      framer.started = true;
      this.frame(Buffer.concat([Buffer.from([0x10, 0]), seg.subarray(0, 1022)]), retLen + 2, retLen);
    } else if (!framer.push(seg, retLen, this)) {
      framer.reset(); // lost: the next syscall is taken as a packet start
    }
    const out = this.out;
    return out.length === 0 ? null : out.length === 1 ? out[0] : out;
  }

  forConnection(): ProtocolParser {
    return new MqttConnection();
  }

  frame(p: Buffer, total: number, fromHere: number): void {
    const type = p[0] >> 4;
    const flags = p[0] & 0x0f;
    let hdr = 1;
    while (hdr < 5 && hdr < p.length && p[hdr] & 0x80) {
      hdr++;
    }
    const r = new Reader(p, hdr + 1);
    const remaining = total - hdr - 1;
    const egress = this.fromEgress;
    const fromClient = this.isClient === undefined ? undefined : this.isClient === egress;
    const learn = (clientSent: boolean) => {
      if (this.isClient === undefined) {
        this.isClient = clientSent === egress;
      }
    };
    const request = (m: Omit<ParsedMessage, 'type'>) => {
      this.out.push({ type: 'request', totalLength: fromHere, version: this.version, domain: this.clientId, ...m });
    };
    const response = (m: Omit<ParsedMessage, 'type'>) => {
      this.out.push({ type: 'response', totalLength: fromHere, ...m });
    };
    switch (type) {
      case T.CONNECT: {
        learn(true);
        r.str(); // protocol name
        const level = r.u8();
        const connectFlags = r.u8();
        r.skip(2); // keep alive
        this.v5 = level === 5;
        this.version = level === 5 ? '5.0' : level === 3 ? '3.1' : '3.1.1';
        if (this.v5) {
          r.skip(Math.max(0, r.varint()));
        }
        this.clientId = r.str() ?? '';
        if (connectFlags & 0x04) {
          if (this.v5) {
            r.skip(Math.max(0, r.varint())); // will properties
          }
          r.str(); // will topic
          r.skip(Math.max(0, r.u16())); // will payload
        }
        const user = connectFlags & 0x80 && r.ok ? (r.str() ?? '') : '';
        // the password that follows is never read
        request({ requestType: 'CONNECT', domain: this.clientId, resource: user, endpoint: '' });
        return;
      }
      case T.CONNACK: {
        learn(false);
        r.u8(); // session present
        const code = r.u8();
        response({ code, ...ackStatus(code, this.v5, true) });
        return;
      }
      case T.PUBLISH: {
        const qos = (flags >> 1) & 3;
        const topic = r.str() ?? '';
        const id = qos > 0 ? r.u16() : undefined;
        if (fromClient === false) {
          this.out.push({ type: 'request', unsolicited: true, totalLength: fromHere }); // a delivery to a subscriber
          return;
        }
        request({
          requestType: 'PUBLISH',
          resource: topic,
          endpoint: topic,
          oneWay: qos === 0,
          id: qos > 0 ? `p${id}` : undefined,
        });
        return;
      }
      case T.PUBACK:
      case T.PUBREC: {
        if (fromClient === true) {
          return; // the subscriber acknowledging a delivery
        }
        const id = r.u16();
        const code = this.v5 && remaining > 2 ? r.u8() : 0;
        response({ id: `p${id}`, code, ...ackStatus(code, this.v5, false) });
        return;
      }
      case T.PUBREL:
      case T.PUBCOMP:
        return; // the second half of the QoS 2 handshake
      case T.SUBSCRIBE:
      case T.UNSUBSCRIBE: {
        learn(true);
        const id = r.u16();
        if (this.v5) {
          r.skip(Math.max(0, r.varint()));
        }
        const filters: string[] = [];
        let length = 0;
        while (r.pos < p.length && r.pos < total && length < MAX_FIELD) {
          const f = r.str();
          if (f === null) {
            break;
          }
          filters.push(f);
          length += f.length + 1;
          if (type === T.SUBSCRIBE) {
            r.skip(1); // options
          }
        }
        const resource = filters.join(',').slice(0, MAX_FIELD);
        request({ requestType: NAMES[type], id: `s${id}`, resource, endpoint: resource });
        return;
      }
      case T.SUBACK:
      case T.UNSUBACK: {
        learn(false);
        const id = r.u16();
        let code = 0;
        if (type === T.SUBACK || this.v5) {
          if (this.v5) {
            r.skip(Math.max(0, r.varint()));
          }
          // the first failure, else the first granted QoS / reason code
          const first = r.u8();
          code = Math.max(0, first);
          for (let i = r.pos - 1; i < Math.min(p.length, total); i++) {
            if (p[i] >= 0x80) {
              code = p[i];
              break;
            }
          }
        }
        response({ id: `s${id}`, code, ...ackStatus(code, this.v5, false) });
        return;
      }
      case T.PINGREQ:
        learn(true);
        request({ requestType: 'PINGREQ', resource: '', endpoint: '' });
        return;
      case T.PINGRESP:
        learn(false);
        response({});
        return;
      case T.DISCONNECT:
        if (fromClient === false) {
          return; // MQTT 5: the broker closing the connection
        }
        request({ requestType: 'DISCONNECT', resource: '', endpoint: '', oneWay: true });
        return;
      default:
        return; // AUTH (MQTT 5 extended authentication) is not logged
    }
  }
}

/** A CONNECT's variable header: the protocol name and level. */
function connectBody(seg: Buffer, off = 0): boolean {
  if (seg.length < off + 7 || seg[off] !== 0) {
    return false;
  }
  if (seg[off + 1] === 4 && seg.toString('latin1', off + 2, off + 6) === 'MQTT') {
    return seg[off + 6] === 4 || seg[off + 6] === 5;
  }
  return (
    seg.length >= off + 9 &&
    seg[off + 1] === 6 &&
    seg.toString('latin1', off + 2, off + 8) === 'MQIsdp' &&
    seg[off + 8] === 3
  );
}

/** A whole CONNECT packet, or its variable header alone (its fixed header read byte by byte). */
function isConnect(seg: Buffer): boolean {
  if (connectBody(seg)) {
    return true;
  }
  if (seg.length < 2 || seg[0] !== 0x10) {
    return false;
  }
  let i = 1;
  while (i < 5 && i < seg.length && seg[i] & 0x80) {
    i++;
  }
  return i < 5 && connectBody(seg, i + 1);
}

export class MqttParser extends MqttConnection {}
