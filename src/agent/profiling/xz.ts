// A small .xz decoder (LZMA2 filter only, which is what MiniDebugInfo uses), so the agent reads
// .gnu_debugdata without a native dependency or a child process. Synchronous, bounded by
// `maxBytes` of output; throws XzError on anything it does not understand. CRC32 block checks are
// verified; CRC64/SHA-256 checks are skipped (the structure is still validated).
import { crc32 } from 'node:zlib';

export class XzError extends Error {}

const HEADER_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const CHECK_SIZES = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64];
const FILTER_LZMA2 = 0x21;

/** Growable output that is also the LZMA dictionary (the whole output stays addressable). */
class Output {
  buf: Uint8Array;
  pos = 0;
  constructor(
    initial: number,
    private readonly max: number
  ) {
    this.buf = new Uint8Array(Math.max(1024, Math.min(initial, max)));
  }
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) {
      return;
    }
    if (this.pos + n > this.max) {
      throw new XzError(`decompressed data exceeds ${this.max} bytes`);
    }
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) {
      cap *= 2;
    }
    const nb = new Uint8Array(Math.min(cap, this.max));
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
  }
}

class RangeDecoder {
  range = 0xffffffff;
  code = 0;
  constructor(
    private readonly src: Buffer,
    public pos: number,
    private readonly end: number
  ) {
    if (this.byte() !== 0) {
      throw new XzError('LZMA chunk: bad range coder start');
    }
    for (let i = 0; i < 4; i++) {
      this.code = (this.code * 256 + this.byte()) >>> 0;
    }
  }
  private byte(): number {
    if (this.pos >= this.end) {
      throw new XzError('LZMA chunk: compressed data ends early');
    }
    return this.src[this.pos++];
  }
  private normalize(): void {
    if (this.range < 0x1000000) {
      this.range = (this.range * 256) >>> 0;
      this.code = (this.code * 256 + this.byte()) >>> 0;
    }
  }
  bit(probs: Uint16Array, i: number): number {
    const p = probs[i];
    const bound = (this.range >>> 11) * p;
    let b: number;
    if (this.code < bound) {
      this.range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      b = 0;
    } else {
      this.range -= bound;
      this.code -= bound;
      probs[i] = p - (p >>> 5);
      b = 1;
    }
    this.normalize();
    return b;
  }
  tree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    for (let i = 0; i < bits; i++) {
      m = (m << 1) | this.bit(probs, base + m);
    }
    return m - (1 << bits);
  }
  reverseTree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    let sym = 0;
    for (let i = 0; i < bits; i++) {
      const b = this.bit(probs, base + m);
      m = (m << 1) | b;
      sym |= b << i;
    }
    return sym;
  }
  direct(bits: number): number {
    let r = 0;
    for (let i = 0; i < bits; i++) {
      this.range >>>= 1;
      let b = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        b = 1;
      }
      r = r * 2 + b;
      this.normalize();
    }
    return r;
  }
}

class LengthDecoder {
  readonly choice = new Uint16Array(2);
  readonly low = new Uint16Array(16 << 3);
  readonly mid = new Uint16Array(16 << 3);
  readonly high = new Uint16Array(256);
  reset(): void {
    for (const a of [this.choice, this.low, this.mid, this.high]) {
      a.fill(1024);
    }
  }
  /** match length minus 2 */
  decode(rc: RangeDecoder, posState: number): number {
    if (!rc.bit(this.choice, 0)) {
      return rc.tree(this.low, posState << 3, 3);
    }
    if (!rc.bit(this.choice, 1)) {
      return 8 + rc.tree(this.mid, posState << 3, 3);
    }
    return 16 + rc.tree(this.high, 0, 8);
  }
}

/** LZMA state kept across LZMA2 chunks until a reset. */
class LzmaState {
  lc = 0;
  lp = 0;
  pb = 0;
  state = 0;
  reps = [0, 0, 0, 0];
  literal = new Uint16Array(0x300);
  readonly isMatch = new Uint16Array(12 << 4);
  readonly isRep = new Uint16Array(12);
  readonly isRepG0 = new Uint16Array(12);
  readonly isRepG1 = new Uint16Array(12);
  readonly isRepG2 = new Uint16Array(12);
  readonly isRep0Long = new Uint16Array(12 << 4);
  readonly posSlot = new Uint16Array(4 << 6);
  readonly specPos = new Uint16Array(128);
  readonly align = new Uint16Array(16);
  readonly matchLen = new LengthDecoder();
  readonly repLen = new LengthDecoder();

  setProps(props: number): void {
    if (props >= 9 * 5 * 5) {
      throw new XzError('LZMA2: bad properties byte');
    }
    this.lc = props % 9;
    this.lp = Math.floor(props / 9) % 5;
    this.pb = Math.floor(props / 45);
    if (this.lc + this.lp > 4) {
      throw new XzError('LZMA2: lc + lp > 4');
    }
    this.literal = new Uint16Array(0x300 << (this.lc + this.lp));
  }

  reset(): void {
    this.state = 0;
    this.reps = [0, 0, 0, 0];
    for (const a of [
      this.literal,
      this.isMatch,
      this.isRep,
      this.isRepG0,
      this.isRepG1,
      this.isRepG2,
      this.isRep0Long,
      this.posSlot,
      this.specPos,
      this.align,
    ]) {
      a.fill(1024);
    }
    this.matchLen.reset();
    this.repLen.reset();
  }

  /** Decodes one LZMA chunk of `unpacked` bytes into out; `dictStart` bounds match distances. */
  decode(rc: RangeDecoder, out: Output, unpacked: number, dictStart: number): void {
    out.reserve(unpacked);
    const buf = out.buf;
    let pos = out.pos;
    const end = pos + unpacked;
    const pbMask = (1 << this.pb) - 1;
    const lpMask = (1 << this.lp) - 1;
    let state = this.state;
    let [rep0, rep1, rep2, rep3] = this.reps;
    while (pos < end) {
      const posState = pos & pbMask;
      if (!rc.bit(this.isMatch, (state << 4) + posState)) {
        const prev = pos > dictStart ? buf[pos - 1] : 0;
        const base = 0x300 * (((pos & lpMask) << this.lc) + (prev >> (8 - this.lc)));
        let sym = 1;
        if (state >= 7) {
          if (rep0 + 1 > pos - dictStart) {
            throw new XzError('LZMA: distance beyond the dictionary');
          }
          let matchByte = buf[pos - rep0 - 1];
          while (sym < 0x100) {
            const matchBit = (matchByte >> 7) & 1;
            matchByte = (matchByte << 1) & 0xff;
            const b = rc.bit(this.literal, base + ((1 + matchBit) << 8) + sym);
            sym = (sym << 1) | b;
            if (matchBit !== b) {
              break;
            }
          }
        }
        while (sym < 0x100) {
          sym = (sym << 1) | rc.bit(this.literal, base + sym);
        }
        buf[pos++] = sym & 0xff;
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      let len: number;
      if (rc.bit(this.isRep, state)) {
        if (pos === dictStart) {
          throw new XzError('LZMA: repeated match at the start of the dictionary');
        }
        if (!rc.bit(this.isRepG0, state)) {
          if (!rc.bit(this.isRep0Long, (state << 4) + posState)) {
            if (rep0 + 1 > pos - dictStart) {
              throw new XzError('LZMA: distance beyond the dictionary');
            }
            state = state < 7 ? 9 : 11;
            buf[pos] = buf[pos - rep0 - 1];
            pos++;
            continue;
          }
        } else {
          let dist: number;
          if (!rc.bit(this.isRepG1, state)) {
            dist = rep1;
          } else {
            if (!rc.bit(this.isRepG2, state)) {
              dist = rep2;
            } else {
              dist = rep3;
              rep3 = rep2;
            }
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = dist;
        }
        len = this.repLen.decode(rc, posState);
        state = state < 7 ? 8 : 11;
      } else {
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        len = this.matchLen.decode(rc, posState);
        state = state < 7 ? 7 : 10;
        const lenState = len < 3 ? len : 3;
        const slot = rc.tree(this.posSlot, lenState << 6, 6);
        if (slot < 4) {
          rep0 = slot;
        } else {
          const direct = (slot >> 1) - 1;
          let dist = (2 | (slot & 1)) * 2 ** direct;
          if (slot < 14) {
            dist += rc.reverseTree(this.specPos, dist - slot - 1, direct);
          } else {
            dist += rc.direct(direct - 4) * 16;
            dist += rc.reverseTree(this.align, 0, 4);
          }
          rep0 = dist;
        }
        if (rep0 === 0xffffffff) {
          throw new XzError('LZMA2: end marker inside a chunk');
        }
      }
      len += 2;
      if (rep0 + 1 > pos - dictStart) {
        throw new XzError('LZMA: distance beyond the dictionary');
      }
      if (pos + len > end) {
        throw new XzError('LZMA: match runs past the chunk');
      }
      let from = pos - rep0 - 1;
      for (let i = 0; i < len; i++) {
        buf[pos++] = buf[from++];
      }
    }
    out.pos = pos;
    this.state = state;
    this.reps = [rep0, rep1, rep2, rep3];
  }
}

/** Decodes one LZMA2 stream starting at `pos`; returns the position after its end byte. */
function lzma2(src: Buffer, pos: number, out: Output): number {
  const lz = new LzmaState();
  let dictStart = out.pos;
  let needProps = true;
  let needReset = true;
  for (;;) {
    if (pos >= src.length) {
      throw new XzError('LZMA2: data ends without an end marker');
    }
    const c = src[pos++];
    if (c === 0) {
      return pos;
    }
    if (c === 1 || c === 2) {
      if (pos + 2 > src.length) {
        throw new XzError('LZMA2: truncated chunk header');
      }
      const size = src.readUInt16BE(pos) + 1;
      pos += 2;
      if (c === 1) {
        dictStart = out.pos;
      }
      if (pos + size > src.length) {
        throw new XzError('LZMA2: truncated uncompressed chunk');
      }
      out.reserve(size);
      out.buf.set(src.subarray(pos, pos + size), out.pos);
      out.pos += size;
      pos += size;
      continue;
    }
    if (c < 0x80) {
      throw new XzError(`LZMA2: bad control byte 0x${c.toString(16)}`);
    }
    if (pos + 4 > src.length) {
      throw new XzError('LZMA2: truncated chunk header');
    }
    const unpacked = ((c & 0x1f) << 16) + src.readUInt16BE(pos) + 1;
    const packed = src.readUInt16BE(pos + 2) + 1;
    pos += 4;
    const reset = (c >> 5) & 3;
    if (reset === 3) {
      dictStart = out.pos;
    }
    if (reset >= 2) {
      lz.setProps(src[pos++]);
      needProps = false;
    } else if (needProps) {
      throw new XzError('LZMA2: chunk without properties');
    }
    if (reset >= 1) {
      lz.reset();
      needReset = false;
    } else if (needReset) {
      throw new XzError('LZMA2: chunk without a state reset');
    }
    if (pos + packed > src.length) {
      throw new XzError('LZMA2: truncated compressed chunk');
    }
    const rc = new RangeDecoder(src, pos, pos + packed);
    lz.decode(rc, out, unpacked, dictStart);
    pos += packed;
  }
}

function varint(src: Buffer, pos: number): [number, number] {
  let v = 0;
  for (let i = 0; i < 9; i++) {
    if (pos >= src.length) {
      throw new XzError('truncated number');
    }
    const b = src[pos++];
    v += (b & 0x7f) * 2 ** (7 * i);
    if (!(b & 0x80)) {
      return [v, pos];
    }
  }
  throw new XzError('number too long');
}

/** Decompresses a .xz stream (LZMA2 blocks) into a Buffer of at most maxBytes. */
export function xzDecompress(src: Buffer, maxBytes = 256 << 20): Buffer {
  if (src.length < 12 || !src.subarray(0, 6).equals(HEADER_MAGIC)) {
    throw new XzError('not an xz stream');
  }
  if (src[6] !== 0 || src[7] > 0x0f) {
    throw new XzError('unsupported xz stream flags');
  }
  const checkType = src[7];
  const checkSize = CHECK_SIZES[checkType];
  const out = new Output(src.length * 4, maxBytes);
  let pos = 12;
  for (;;) {
    if (pos >= src.length) {
      throw new XzError('truncated: no index');
    }
    const hsize = src[pos];
    if (hsize === 0) {
      break; // the index: every block has been read
    }
    const blockStart = pos;
    const headerEnd = pos + (hsize + 1) * 4;
    if (headerEnd > src.length) {
      throw new XzError('truncated block header');
    }
    const flags = src[pos + 1];
    if (flags & 0x3c) {
      throw new XzError('unsupported block flags');
    }
    const nFilters = (flags & 3) + 1;
    let p = pos + 2;
    let declaredUnpacked = -1;
    if (flags & 0x40) {
      [, p] = varint(src, p);
    }
    if (flags & 0x80) {
      [declaredUnpacked, p] = varint(src, p);
    }
    for (let i = 0; i < nFilters; i++) {
      let id: number;
      let propSize: number;
      [id, p] = varint(src, p);
      [propSize, p] = varint(src, p);
      if (id !== FILTER_LZMA2 || i !== nFilters - 1) {
        throw new XzError(`unsupported xz filter 0x${id.toString(16)} (only LZMA2 is decoded)`);
      }
      p += propSize;
    }
    if (p > headerEnd - 4) {
      throw new XzError('bad block header size');
    }
    const startOut = out.pos;
    pos = lzma2(src, headerEnd, out);
    if (declaredUnpacked >= 0 && out.pos - startOut !== declaredUnpacked) {
      throw new XzError('block size differs from its header');
    }
    while ((pos - blockStart) % 4) {
      if (src[pos++] !== 0) {
        throw new XzError('bad block padding');
      }
    }
    if (pos + checkSize > src.length) {
      throw new XzError('truncated block check');
    }
    if (checkType === 1) {
      const want = src.readUInt32LE(pos);
      const got = crc32(out.buf.subarray(startOut, out.pos)) >>> 0;
      if (want !== got) {
        throw new XzError('CRC32 mismatch');
      }
    }
    pos += checkSize;
  }
  return Buffer.from(out.buf.buffer, out.buf.byteOffset, out.pos);
}
