// Trace context carried in headers: W3C traceparent, B3 (single and multi), Jaeger uber-trace-id,
// SkyWalking sw8, and X-Request-ID. Shared by every protocol that has headers.

export interface TraceContext {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  xRequestId?: string;
}

const HEX = /^[0-9a-f]+$/i;

const NOT_HEX = 0;
const LOWER_HEX = 1;
const MIXED_HEX = 2;

/** Whether value[from, to) is all hex digits, and whether any is upper case (no regex: this runs on every traced request). */
function hexRange(value: string, from: number, to: number): number {
  let upper = false;
  for (let i = from; i < to; i++) {
    const c = value.charCodeAt(i);
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)) {
      continue;
    }
    if (c >= 0x41 && c <= 0x46) {
      upper = true;
      continue;
    }
    return NOT_HEX;
  }
  return upper ? MIXED_HEX : LOWER_HEX;
}

function lowerHex(value: string, from: number, to: number, kind: number): string {
  const s = value.slice(from, to);
  return kind === MIXED_HEX ? s.toLowerCase() : s;
}

/** Fills `ctx` from one header (name lower-cased); returns whether the header was a trace header. */
export function parseTraceHeader(name: string, value: string, ctx: TraceContext): boolean {
  switch (name) {
    case 'traceparent': {
      // version(2)-traceid(32)-spanid(16)-flags(2), and later versions may append fields
      if (
        value.length >= 55 &&
        value.charCodeAt(2) === 0x2d &&
        value.charCodeAt(35) === 0x2d &&
        value.charCodeAt(52) === 0x2d
      ) {
        const t = hexRange(value, 3, 35);
        const sp = hexRange(value, 36, 52);
        if (t !== NOT_HEX && sp !== NOT_HEX) {
          ctx.traceId = lowerHex(value, 3, 35, t);
          ctx.spanId = lowerHex(value, 36, 52, sp);
        }
      }
      return true;
    }
    case 'b3': {
      // traceid-spanid[-sampled[-parentspanid]]
      const p = value.split('-');
      if (p.length >= 2 && HEX.test(p[0]) && HEX.test(p[1])) {
        ctx.traceId ??= p[0].toLowerCase();
        ctx.spanId ??= p[1].toLowerCase();
        if (p[3] && HEX.test(p[3])) {
          ctx.parentSpanId ??= p[3].toLowerCase();
        }
      }
      return true;
    }
    case 'x-b3-traceid':
      if (HEX.test(value)) {
        ctx.traceId ??= value.toLowerCase();
      }
      return true;
    case 'x-b3-spanid':
      if (HEX.test(value)) {
        ctx.spanId ??= value.toLowerCase();
      }
      return true;
    case 'x-b3-parentspanid':
      if (HEX.test(value)) {
        ctx.parentSpanId ??= value.toLowerCase();
      }
      return true;
    case 'uber-trace-id': {
      // traceid:spanid:parentspanid:flags
      const p = value.split(':');
      if (p.length === 4 && HEX.test(p[0]) && HEX.test(p[1])) {
        ctx.traceId ??= p[0].toLowerCase();
        ctx.spanId ??= p[1].toLowerCase();
        if (p[2] !== '0' && HEX.test(p[2])) {
          ctx.parentSpanId ??= p[2].toLowerCase();
        }
      }
      return true;
    }
    case 'sw8': {
      // sample-traceid(b64)-segmentid(b64)-spanid-...
      const p = value.split('-');
      if (p.length >= 4) {
        try {
          ctx.traceId ??= Buffer.from(p[1], 'base64').toString('latin1');
          ctx.spanId ??= `${Buffer.from(p[2], 'base64').toString('latin1')}-${p[3]}`;
        } catch {
          /* malformed: ignore */
        }
      }
      return true;
    }
    case 'x-request-id':
      ctx.xRequestId = value;
      return true;
  }
  return false;
}
