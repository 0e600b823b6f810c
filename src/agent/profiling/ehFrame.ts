// Call-frame information from an ELF's .eh_frame (x86-64): for one instruction address, where the
// caller's frame starts (CFA) and where rbp was saved. The kernel walks user stacks by frame
// pointers; at addresses inside functions that keep none (most of libc, e.g. the syscall
// wrappers a thread blocks in) it needs these rules, or it skips the caller.
//
// Supported: CIE/FDE with 'z', 'R', 'P', 'L', 'S' augmentations; pointer encodings absptr,
// udata2/4/8, sdata2/4/8, uleb/sleb, pc-relative; the DW_CFA row instructions compilers emit.
// CFA or rbp rules given as DWARF expressions yield no rule (the frame-pointer walk applies).
import { lastAtOrBelow } from './sortedSearch';

export interface UnwindRule {
  /** CFA = rsp + cfaOff at this address; the return address is at CFA - 8. 0: the outermost frame
   * (the return address is marked undefined, as in _start): the walk ends here */
  cfaOff: number;
  /** rbp was saved at CFA + rbpOff; 0 = rbp still holds the caller's value */
  rbpOff: number;
}

/** The address is in a function with a standard frame (CFA = rbp + 16): frame pointers work. */
export const FRAME_POINTER = 'frame-pointer' as const;

const REG_RBP = 6;
const REG_RSP = 7;
const REG_RA = 16;

interface Cie {
  codeAlign: number;
  dataAlign: number;
  raReg: number;
  fdeEnc: number;
  hasZ: boolean;
  initStart: number;
  initEnd: number;
}

interface State {
  cfaReg: number;
  cfaOff: number;
  /** offset of rbp's save slot from the CFA, or undefined (same value) or NaN (unknown rule) */
  rbp: number | undefined;
  cfaExpr: boolean;
  /** the return address column is undefined: no caller */
  raUndefined: boolean;
}

class Reader {
  constructor(
    readonly b: Buffer,
    public pos: number
  ) {}
  u8(): number {
    return this.b[this.pos++];
  }
  u16(): number {
    const v = this.b.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    const v = this.b.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): number {
    const v = this.b.readUInt32LE(this.pos) + this.b.readUInt32LE(this.pos + 4) * 0x100000000;
    this.pos += 8;
    return v;
  }
  s64(): number {
    const v = Number(this.b.readBigInt64LE(this.pos));
    this.pos += 8;
    return v;
  }
  uleb(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const x = this.b[this.pos++];
      if (x === undefined) {
        throw new Error('eh_frame: truncated LEB128');
      }
      v += (x & 0x7f) * mul;
      mul *= 128;
      if (!(x & 0x80)) {
        return v;
      }
    }
  }
  sleb(): number {
    let v = 0;
    let mul = 1;
    let x: number;
    do {
      x = this.b[this.pos++];
      if (x === undefined) {
        throw new Error('eh_frame: truncated LEB128');
      }
      v += (x & 0x7f) * mul;
      mul *= 128;
    } while (x & 0x80);
    if (x & 0x40) {
      v -= mul;
    }
    return v;
  }
  cstr(): string {
    const end = this.b.indexOf(0, this.pos);
    if (end < 0) {
      throw new Error('eh_frame: unterminated string');
    }
    const s = this.b.toString('latin1', this.pos, end);
    this.pos = end + 1;
    return s;
  }
}

export class EhFrame {
  private readonly cies = new Map<number, Cie>();
  private begins = new Float64Array(0);
  private ends = new Float64Array(0);
  private offsets = new Uint32Array(0);
  private indexed = false;

  /** @param data the .eh_frame section's bytes; @param addr its address in the ELF's address space */
  constructor(
    private readonly data: Buffer,
    private readonly addr: number
  ) {}

  get fdeCount(): number {
    this.index();
    return this.begins.length;
  }

  private pointer(r: Reader, enc: number): number | undefined {
    if (enc === 0xff) {
      return undefined; // DW_EH_PE_omit
    }
    const fieldAddr = this.addr + r.pos;
    let v: number;
    switch (enc & 0x0f) {
      case 0x00:
        v = r.u64();
        break;
      case 0x01:
        v = r.uleb();
        break;
      case 0x02:
        v = r.u16();
        break;
      case 0x03:
        v = r.u32();
        break;
      case 0x04:
        v = r.u64();
        break;
      case 0x09:
        v = r.sleb();
        break;
      case 0x0a:
        v = r.b.readInt16LE(r.pos);
        r.pos += 2;
        break;
      case 0x0b:
        v = r.b.readInt32LE(r.pos);
        r.pos += 4;
        break;
      case 0x0c:
        v = r.s64();
        break;
      default:
        throw new Error(`eh_frame: pointer encoding 0x${enc.toString(16)}`);
    }
    switch (enc & 0x70) {
      case 0x00:
        return v;
      case 0x10:
        return fieldAddr + v;
      default:
        throw new Error(`eh_frame: pointer application 0x${enc.toString(16)}`);
    }
  }

  private cie(off: number): Cie {
    let c = this.cies.get(off);
    if (c) {
      return c;
    }
    const r = new Reader(this.data, off);
    let len = r.u32();
    if (len === 0xffffffff) {
      len = r.u64();
    }
    const end = r.pos + len;
    r.u32(); // CIE id (0)
    const version = r.u8();
    const aug = r.cstr();
    if (aug.includes('eh')) {
      r.u64();
    }
    const codeAlign = r.uleb();
    const dataAlign = r.sleb();
    const raReg = version === 1 ? r.u8() : r.uleb();
    let fdeEnc = 0;
    const hasZ = aug.startsWith('z');
    if (hasZ) {
      const augLen = r.uleb();
      const augEnd = r.pos + augLen;
      for (const ch of aug.slice(1)) {
        if (ch === 'R') {
          fdeEnc = r.u8();
        } else if (ch === 'P') {
          const penc = r.u8();
          this.pointer(r, penc & 0x7f);
        } else if (ch === 'L') {
          r.u8();
        }
      }
      r.pos = augEnd;
    }
    c = { codeAlign, dataAlign, raReg, fdeEnc, hasZ, initStart: r.pos, initEnd: end };
    this.cies.set(off, c);
    return c;
  }

  /** Reads every FDE's address range once (sorted for lookups). */
  private index(): void {
    if (this.indexed) {
      return;
    }
    this.indexed = true;
    const begins: number[] = [];
    const ends: number[] = [];
    const offsets: number[] = [];
    const d = this.data;
    let pos = 0;
    while (pos + 8 <= d.length) {
      const start = pos;
      let len = d.readUInt32LE(pos);
      let hdr = 4;
      if (len === 0) {
        break; // terminator
      }
      if (len === 0xffffffff) {
        len = d.readUInt32LE(pos + 4) + d.readUInt32LE(pos + 8) * 0x100000000;
        hdr = 12;
      }
      const next = start + hdr + len;
      if (next > d.length) {
        break;
      }
      const idPos = start + hdr;
      const id = d.readUInt32LE(idPos);
      if (id !== 0) {
        try {
          const cie = this.cie(idPos - id);
          const r = new Reader(d, idPos + 4);
          const begin = this.pointer(r, cie.fdeEnc);
          const range = this.pointer(r, cie.fdeEnc & 0x0f);
          if (begin !== undefined && range !== undefined && range > 0) {
            begins.push(begin);
            ends.push(begin + range);
            offsets.push(start);
          }
        } catch {
          /* an FDE we cannot read is skipped */
        }
      }
      pos = next;
    }
    const order = Array.from(begins.keys()).sort((a, b) => begins[a] - begins[b]);
    this.begins = Float64Array.from(order.map((i) => begins[i]));
    this.ends = Float64Array.from(order.map((i) => ends[i]));
    this.offsets = Uint32Array.from(order.map((i) => offsets[i]));
  }

  /** The rule at `pc` (an address in the ELF's address space), FRAME_POINTER, or undefined. */
  ruleAt(pc: number): UnwindRule | typeof FRAME_POINTER | undefined {
    this.index();
    const b = this.begins;
    const found = lastAtOrBelow(b, pc);
    if (found < 0 || pc >= this.ends[found]) {
      return undefined;
    }
    let st: State;
    try {
      st = this.evaluate(this.offsets[found], pc);
    } catch {
      return undefined;
    }
    if (st.raUndefined) {
      return { cfaOff: 0, rbpOff: 0 };
    }
    if (st.cfaExpr || Number.isNaN(st.rbp)) {
      return undefined;
    }
    if (st.cfaReg === REG_RBP && st.cfaOff === 16 && st.rbp === -16) {
      return FRAME_POINTER;
    }
    if (st.cfaReg !== REG_RSP) {
      return undefined;
    }
    return { cfaOff: st.cfaOff, rbpOff: st.rbp ?? 0 };
  }

  private evaluate(fdeOff: number, pc: number): State {
    const d = this.data;
    let len = d.readUInt32LE(fdeOff);
    let hdr = 4;
    if (len === 0xffffffff) {
      len = d.readUInt32LE(fdeOff + 4) + d.readUInt32LE(fdeOff + 8) * 0x100000000;
      hdr = 12;
    }
    const idPos = fdeOff + hdr;
    const end = idPos + len;
    const cie = this.cie(idPos - d.readUInt32LE(idPos));
    const r = new Reader(d, idPos + 4);
    const begin = this.pointer(r, cie.fdeEnc) as number;
    this.pointer(r, cie.fdeEnc & 0x0f);
    if (cie.hasZ) {
      const augLen = r.uleb();
      r.pos += augLen;
    }
    const st: State = { cfaReg: REG_RSP, cfaOff: 8, rbp: undefined, cfaExpr: false, raUndefined: false };
    this.run(cie, new Reader(d, cie.initStart), cie.initEnd, st, Infinity, begin);
    const initial = { ...st };
    this.run(cie, r, end, st, pc, begin, initial);
    return st;
  }

  /** Executes CFA instructions up to the row that covers `pc`. */
  private run(cie: Cie, r: Reader, end: number, st: State, pc: number, loc: number, initial?: State): void {
    const saved: State[] = [];
    const setReg = (reg: number, rule: number | undefined) => {
      if (reg === REG_RBP) {
        st.rbp = rule;
      } else if (reg === REG_RA) {
        st.raUndefined = false;
      }
    };
    const restoreReg = (reg: number) => {
      if (reg === REG_RBP) {
        st.rbp = initial ? initial.rbp : undefined;
      }
    };
    while (r.pos < end) {
      const op = r.u8();
      const hi2 = op & 0xc0;
      const low = op & 0x3f;
      if (hi2 === 0x40) {
        loc += low * cie.codeAlign;
        if (loc > pc) {
          return;
        }
        continue;
      }
      if (hi2 === 0x80) {
        setReg(low, r.uleb() * cie.dataAlign);
        continue;
      }
      if (hi2 === 0xc0) {
        restoreReg(low);
        continue;
      }
      let advance = -1;
      switch (op) {
        case 0x00: // nop
          break;
        case 0x01: // set_loc
          loc = this.pointer(r, cie.fdeEnc) ?? loc;
          if (loc > pc) {
            return;
          }
          break;
        case 0x02:
          advance = r.u8();
          break;
        case 0x03:
          advance = r.u16();
          break;
        case 0x04:
          advance = r.u32();
          break;
        case 0x05: // offset_extended
          setReg(r.uleb(), r.uleb() * cie.dataAlign);
          break;
        case 0x06: // restore_extended
          restoreReg(r.uleb());
          break;
        case 0x07: {
          // undefined: for the return address, the end of the stack
          const reg = r.uleb();
          setReg(reg, undefined);
          if (reg === REG_RA) {
            st.raUndefined = true;
          }
          break;
        }
        case 0x08: // same_value
          setReg(r.uleb(), undefined);
          break;
        case 0x09: {
          // register: rbp now lives in another register
          const reg = r.uleb();
          r.uleb();
          setReg(reg, NaN);
          break;
        }
        case 0x0a: // remember_state
          saved.push({ ...st });
          break;
        case 0x0b: {
          // restore_state
          const s = saved.pop();
          if (s) {
            Object.assign(st, s);
          }
          break;
        }
        case 0x0c: // def_cfa
          st.cfaReg = r.uleb();
          st.cfaOff = r.uleb();
          st.cfaExpr = false;
          break;
        case 0x0d: // def_cfa_register
          st.cfaReg = r.uleb();
          st.cfaExpr = false;
          break;
        case 0x0e: // def_cfa_offset
          st.cfaOff = r.uleb();
          break;
        case 0x0f: {
          // def_cfa_expression
          const n = r.uleb();
          r.pos += n;
          st.cfaExpr = true;
          break;
        }
        case 0x10: {
          // expression
          const reg = r.uleb();
          const n = r.uleb();
          r.pos += n;
          setReg(reg, NaN);
          break;
        }
        case 0x11: // offset_extended_sf
          setReg(r.uleb(), r.sleb() * cie.dataAlign);
          break;
        case 0x12: // def_cfa_sf
          st.cfaReg = r.uleb();
          st.cfaOff = r.sleb() * cie.dataAlign;
          st.cfaExpr = false;
          break;
        case 0x13: // def_cfa_offset_sf
          st.cfaOff = r.sleb() * cie.dataAlign;
          break;
        case 0x14: // val_offset
        case 0x15: {
          // val_offset_sf
          const reg = r.uleb();
          if (op === 0x14) {
            r.uleb();
          } else {
            r.sleb();
          }
          setReg(reg, NaN);
          break;
        }
        case 0x16: {
          // val_expression
          const reg = r.uleb();
          const n = r.uleb();
          r.pos += n;
          setReg(reg, NaN);
          break;
        }
        case 0x2e: // GNU_args_size
          r.uleb();
          break;
        case 0x2f: // GNU_negative_offset_extended
          setReg(r.uleb(), -r.uleb() * cie.dataAlign);
          break;
        default:
          throw new Error(`eh_frame: CFA op 0x${op.toString(16)}`);
      }
      if (advance >= 0) {
        loc += advance * cie.codeAlign;
        if (loc > pc) {
          return;
        }
      }
    }
  }
}
