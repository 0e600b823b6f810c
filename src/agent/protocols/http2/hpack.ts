// HPACK (RFC 7541) header-block decoder: static table, dynamic table with size updates, Huffman
// strings. One decoder per connection per direction, since each direction's encoder owns its table.
// Bounded: strings are cut at MAX_STRING (the table still accounts their full octet length), the
// table size is capped, and a block cut short by the capture is decoded up to where it stops.

/** Longest header name or value kept (the table still counts the full length). */
export const MAX_STRING = 512;
/** Largest dynamic table we follow; a size update above it is treated as a decoding error. */
const MAX_TABLE_SIZE = 1 << 16;
const DEFAULT_TABLE_SIZE = 4096;

/** RFC 7541 Appendix A. Index 1..61; [0] is unused. */
const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  ['', ''],
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];
const STATIC_COUNT = STATIC_TABLE.length - 1;

/**
 * Huffman code lengths of symbols 0..256 (256 = EOS), RFC 7541 Appendix B. The code is canonical
 * (codes are assigned in order of length, then symbol), so the lengths alone define it.
 */
const HUFFMAN_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28,
  28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6,
  5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23,
  22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22,
  23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26,
  20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27,
  27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27,
  27, 27, 27, 26, 30,
];
const MIN_CODE_LENGTH = 5;
const MAX_CODE_LENGTH = 30;

/** Canonical decoding tables: per length, the first code, how many codes, and where its symbols start. */
const firstCode = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
const codeCount = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
const symbolOffset = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
const symbolsByCode: number[] = [];
(() => {
  for (let len = MIN_CODE_LENGTH; len <= MAX_CODE_LENGTH; len++) {
    for (let s = 0; s < HUFFMAN_LENGTHS.length; s++) {
      if (HUFFMAN_LENGTHS[s] === len) {
        symbolsByCode.push(s);
        codeCount[len]++;
      }
    }
  }
  let code = 0;
  let offset = 0;
  for (let len = MIN_CODE_LENGTH; len <= MAX_CODE_LENGTH; len++) {
    firstCode[len] = code;
    symbolOffset[len] = offset;
    code = (code + codeCount[len]) * 2;
    offset += codeCount[len];
  }
})();

const scratch = Buffer.alloc(MAX_STRING);
/** Decoded octet length of the last string read (the table counts it in full, even when cut). */
let lastStringOctets = 0;

/**
 * Decodes Huffman-coded `src[start, end)` into at most MAX_STRING latin1 characters; null when the
 * input is not valid (EOS inside, bad padding).
 */
export function huffmanDecode(src: Buffer, start: number, end: number): string | null {
  let acc = 0; // bit accumulator, at most 30 + 8 bits kept in a safe integer via explicit masking
  let bits = 0;
  let out = 0;
  let pos = start;
  for (;;) {
    while (bits < MAX_CODE_LENGTH && pos < end) {
      acc = (acc * 256 + src[pos++]) % 2 ** 38;
      bits += 8;
    }
    if (bits === 0) {
      break;
    }
    let len = MIN_CODE_LENGTH;
    let symbol = -1;
    for (; len <= MAX_CODE_LENGTH && len <= bits; len++) {
      const code = Math.floor(acc / 2 ** (bits - len));
      const k = code - firstCode[len];
      if (k >= 0 && k < codeCount[len]) {
        symbol = symbolsByCode[symbolOffset[len] + k];
        break;
      }
    }
    if (symbol < 0) {
      // what is left must be padding: fewer than 8 bits, all ones (the start of EOS)
      if (pos < end || bits >= 8 || acc % 2 ** bits !== 2 ** bits - 1) {
        return null;
      }
      break;
    }
    if (symbol === 256) {
      return null;
    }
    bits -= len;
    acc %= 2 ** bits;
    if (out < MAX_STRING) {
      scratch[out] = symbol;
    }
    out++;
  }
  lastStringOctets = out;
  return scratch.toString('latin1', 0, Math.min(out, MAX_STRING));
}

export interface HeaderField {
  name: string;
  /** undefined when the field names a dynamic-table entry lost with a block the capture missed */
  value: string | undefined;
}

interface Entry {
  name: string;
  value: string;
  /** RFC 7541 4.1: octet lengths + 32 */
  size: number;
}

export class DecodeError extends Error {}

/** Decoded header block: the fields, and whether the block ended cleanly. */
export interface DecodedBlock {
  fields: HeaderField[];
  /** false when the input stopped mid-field (a block cut by the capture) or was invalid */
  complete: boolean;
}

export class HpackDecoder {
  /** newest first */
  private entries: Entry[] = [];
  private size = 0;
  private maxSize: number;
  /**
   * Set when blocks were lost (cut by the capture, or dropped with a resync): entries older than
   * those we hold are unknown, so a reference past our table yields an unknown field, not an error.
   * A size update to 0 empties the encoder's table too and makes us whole again.
   */
  private lostEntries = false;

  /** `maxSize`: the table size the peer's SETTINGS_HEADER_TABLE_SIZE allows (4096 unless told). */
  constructor(maxSize = DEFAULT_TABLE_SIZE) {
    this.maxSize = Math.min(maxSize, MAX_TABLE_SIZE);
  }

  /** Entries the encoder holds that we do not (an encoder block was missed). */
  markLost(): void {
    this.entries = [];
    this.size = 0;
    this.lostEntries = true;
  }

  get tableLength(): number {
    return this.entries.length;
  }

  get tableSize(): number {
    return this.size;
  }

  get isSynced(): boolean {
    return !this.lostEntries;
  }

  /**
   * Decodes `block[start, end)`. A block that stops mid-field returns what came before with
   * complete=false; an invalid one does the same and marks the table lost (it may have diverged).
   */
  decode(block: Buffer, start = 0, end = block.length): DecodedBlock {
    const fields: HeaderField[] = [];
    const r = { pos: start };
    try {
      while (r.pos < end) {
        const b = block[r.pos];
        if (b & 0x80) {
          // indexed field
          const index = readInt(block, r, end, 7);
          fields.push(this.lookup(index));
        } else if (b & 0x40) {
          // literal with incremental indexing
          const f = this.literal(block, r, end, 6);
          fields.push(f);
          if (this.lastNameKnown) {
            this.insert(f.name, f.value ?? '', this.lastNameOctets, this.lastValueOctets);
          } else {
            this.markLost(); // its size is unknown, so every older entry's fate is too
          }
        } else if (b & 0x20) {
          // dynamic table size update
          const size = readInt(block, r, end, 5);
          if (size > MAX_TABLE_SIZE) {
            throw new DecodeError(`table size ${size}`);
          }
          this.maxSize = size;
          if (size === 0) {
            this.lostEntries = false;
          }
          this.evict(0);
        } else {
          // literal without indexing (0000) or never indexed (0001)
          fields.push(this.literal(block, r, end, 4));
        }
      }
    } catch (err) {
      if (err instanceof DecodeError) {
        this.markLost();
      }
      return { fields, complete: false };
    }
    return { fields, complete: true };
  }

  private lastNameOctets = 0;
  private lastNameKnown = true;
  private lastValueOctets = 0;

  private literal(block: Buffer, r: { pos: number }, end: number, prefixBits: number): HeaderField {
    const index = readInt(block, r, end, prefixBits);
    let name: string | undefined;
    this.lastNameKnown = true;
    if (index === 0) {
      name = readString(block, r, end);
      this.lastNameOctets = lastStringOctets;
    } else {
      const ref = this.lookup(index);
      name = ref.name;
      this.lastNameKnown = ref.value !== undefined;
      this.lastNameOctets = ref.name.length; // names are short; a cut one only skews eviction
    }
    const value = readString(block, r, end);
    this.lastValueOctets = lastStringOctets;
    return { name, value };
  }

  private lookup(index: number): HeaderField {
    if (index === 0) {
      throw new DecodeError('index 0');
    }
    if (index <= STATIC_COUNT) {
      const [name, value] = STATIC_TABLE[index];
      return { name, value };
    }
    const e = this.entries[index - STATIC_COUNT - 1];
    if (e) {
      return { name: e.name, value: e.value };
    }
    if (this.lostEntries) {
      return { name: '', value: undefined };
    }
    throw new DecodeError(`index ${index} past the table`);
  }

  private insert(name: string, value: string, nameOctets: number, valueOctets: number): void {
    const size = nameOctets + valueOctets + 32;
    this.evict(size);
    if (size <= this.maxSize) {
      this.entries.unshift({ name, value, size });
      this.size += size;
    }
    // an entry larger than the table empties it (RFC 7541 4.4), which evict() already did
  }

  private evict(room: number): void {
    while (this.entries.length && this.size + room > this.maxSize) {
      this.size -= this.entries.pop()!.size;
    }
    if (room > this.maxSize) {
      this.entries = [];
      this.size = 0;
    }
  }
}

/** Thrown when the input ends mid-field: not an error in the stream, just the end of the capture. */
class Truncated extends Error {}
const TRUNCATED = new Truncated();

/** RFC 7541 5.1 prefixed integer; bounded to 2^28 so a hostile encoding cannot run away. */
function readInt(buf: Buffer, r: { pos: number }, end: number, prefixBits: number): number {
  if (r.pos >= end) {
    throw TRUNCATED;
  }
  const max = (1 << prefixBits) - 1;
  let v = buf[r.pos++] & max;
  if (v < max) {
    return v;
  }
  let shift = 0;
  for (;;) {
    if (r.pos >= end) {
      throw TRUNCATED;
    }
    const b = buf[r.pos++];
    v += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(b & 0x80)) {
      return v;
    }
    if (shift > 28) {
      throw new DecodeError('integer too long');
    }
  }
}

function readString(buf: Buffer, r: { pos: number }, end: number): string {
  if (r.pos >= end) {
    throw TRUNCATED;
  }
  const huffman = (buf[r.pos] & 0x80) !== 0;
  const length = readInt(buf, r, end, 7);
  if (r.pos + length > end) {
    throw TRUNCATED;
  }
  const start = r.pos;
  r.pos += length;
  if (huffman) {
    const s = huffmanDecode(buf, start, start + length);
    if (s === null) {
      throw new DecodeError('bad huffman string');
    }
    return s;
  }
  lastStringOctets = length;
  return buf.toString('latin1', start, start + Math.min(length, MAX_STRING));
}
