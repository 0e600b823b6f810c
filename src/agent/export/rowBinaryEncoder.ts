// Rows → ClickHouse RowBinary, by a function compiled once per table and column set from the schema.
// Numbers go out as their fixed-width little-endian bytes and strings as a length and their UTF-8
// bytes: no decimal conversion, no escaping, and the server parses it for less CPU than text (it
// shares the host with the services we watch). Text formatting of the 30 numbers of a request log
// was most of the export's cost (~4 µs a row against ~1 µs here; bench/encoders in the closing note).
// RowBinary carries LowCardinality(String) as a String, so one encoding fits modern and 18.16 DDL.
import type { ColumnType } from '../../shared/schema';
import { columnTypesOf, EncodersByColumnSet } from './schemaEncoders';

const TWO32 = 4294967296;

/** An append-only byte buffer that doubles when full, with RowBinary's primitive writers. */
export class RowBinaryWriter {
  buf: Buffer;
  /** the same bytes as `buf`: fixed-width numbers are stored through it (inlined loads and stores,
   * where Buffer.writeUInt32LE is a call with argument checks) */
  private view: DataView;
  pos = 0;

  constructor(initialBytes = 64 << 10) {
    this.buf = Buffer.allocUnsafe(Math.max(64, initialBytes));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  private grow(extra: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }

  u8(v: unknown): void {
    if (this.pos + 1 > this.buf.length) {
      this.grow(1);
    }
    this.buf[this.pos++] = typeof v === 'number' ? v & 0xff : v === true ? 1 : 0;
  }

  u16(v: unknown): void {
    if (this.pos + 2 > this.buf.length) {
      this.grow(2);
    }
    const n = typeof v === 'number' ? v & 0xffff : 0;
    this.buf[this.pos++] = n & 0xff;
    this.buf[this.pos++] = n >>> 8;
  }

  /** UInt32 and DateTime (seconds) */
  u32(v: unknown): void {
    if (this.pos + 4 > this.buf.length) {
      this.grow(4);
    }
    this.view.setUint32(this.pos, typeof v === 'number' && v > 0 ? v >>> 0 : 0, true);
    this.pos += 4;
  }

  i32(v: unknown): void {
    if (this.pos + 4 > this.buf.length) {
      this.grow(4);
    }
    this.view.setInt32(this.pos, typeof v === 'number' ? v | 0 : 0, true);
    this.pos += 4;
  }

  /** UInt64 from a JS number: exact below 2^53; negative, NaN and non-numbers are 0. */
  u64(v: unknown): void {
    if (this.pos + 8 > this.buf.length) {
      this.grow(8);
    }
    let lo = 0;
    let hi = 0;
    if (typeof v === 'number' && v > 0) {
      const n = Math.floor(v);
      hi = Math.floor(n / TWO32);
      lo = n - hi * TWO32;
      if (hi >= TWO32) {
        hi = lo = 0xffffffff; // past 2^64: saturate rather than wrap
      }
    } else if (v === true) {
      lo = 1;
    }
    this.view.setUint32(this.pos, lo, true);
    this.view.setUint32(this.pos + 4, hi, true);
    this.pos += 8;
  }

  f64(v: unknown): void {
    if (this.pos + 8 > this.buf.length) {
      this.grow(8);
    }
    this.view.setFloat64(this.pos, typeof v === 'number' && Number.isFinite(v) ? v : 0, true);
    this.pos += 8;
  }

  /** LEB128 length prefix */
  varint(n: number): void {
    if (this.pos + 10 > this.buf.length) {
      this.grow(10);
    }
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }

  str(v: unknown): void {
    const s = typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
    const len = s.length;
    if (this.pos + 10 + len * 3 > this.buf.length) {
      this.grow(10 + len * 3);
    }
    const buf = this.buf;
    if (len < 128) {
      // short strings (nearly all): one length byte, ASCII copied here (a call into C++ costs more)
      const start = this.pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          break;
        }
        buf[start + i] = c;
      }
      if (i === len) {
        buf[this.pos] = len;
        this.pos = start + len;
        return;
      }
    }
    const bytes = len < 128 && len * 3 < 128 ? -1 : Buffer.byteLength(s, 'utf8');
    if (bytes < 0) {
      // short and not ASCII, still under 128 bytes: one length byte
      const n = buf.write(s, this.pos + 1, 'utf8');
      buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    this.varint(bytes);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** The bytes written so far. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

type ElementWriter = 'u8' | 'u16' | 'u32' | 'i32' | 'u64' | 'f64' | 'str';

/** The writer of a column type, or undefined when RowBinary is not produced for it here. */
function writerOf(t: ColumnType): { element: ElementWriter; array: boolean } | undefined {
  const scalar: Partial<Record<ColumnType, ElementWriter>> = {
    DateTime: 'u32',
    UInt8: 'u8',
    UInt16: 'u16',
    UInt32: 'u32',
    UInt64: 'u64',
    Int32: 'i32',
    Float64: 'f64',
    String: 'str',
    LowString: 'str',
  };
  const s = scalar[t];
  if (s) {
    return { element: s, array: false };
  }
  const m = /^Array\((\w+)\)$/.exec(t);
  const inner = m ? scalar[m[1] as ColumnType] : undefined;
  return inner ? { element: inner, array: true } : undefined;
}

function writeArray(w: RowBinaryWriter, v: unknown, element: ElementWriter): void {
  if (!Array.isArray(v)) {
    w.varint(0);
    return;
  }
  w.varint(v.length);
  for (const x of v) {
    w[element](x);
  }
}

/** The encoder of one table's rows with one set of keys, in their order. */
export interface RowCodec {
  /** table and column list: rows with the same key encode into the same INSERT */
  key: string;
  columns: string[];
  encode: (r: Record<string, unknown>, w: RowBinaryWriter) => void;
}

/** RowBinary codecs by table and column set; null where a key is not a column or a type is not supported. */
export class RowBinaryEncoder extends EncodersByColumnSet<RowCodec> {
  constructor() {
    super(compile);
  }
}

function compile(table: string, keys: string[], key: string): RowCodec | null {
  const types = columnTypesOf(table, keys);
  if (!types) {
    return null;
  }
  const lines: string[] = [];
  for (const [i, k] of keys.entries()) {
    const wr = writerOf(types[i]);
    if (!wr) {
      return null;
    }
    lines.push(wr.array ? `writeArray(w, r.${k}, '${wr.element}');` : `w.${wr.element}(r.${k});`);
  }
  const make = new Function('writeArray', `return function encodeRow(r, w) { ${lines.join(' ')} };`);
  return { key, columns: keys, encode: make(writeArray) as RowCodec['encode'] };
}
