// Function names and address ranges from a Go binary's .gopclntab, which the runtime needs for
// its own tracebacks and so survives `go build -ldflags=-s` (no .symtab). Layouts by Go version:
//   1.2-1.15  magic 0xfffffffb: nfunc, then (entry, funcoff) word pairs; names relative to the table
//   1.16-1.17 magic 0xfffffffa: header of offsets (nfunc, nfiles, funcname, cu, filetab, pctab, pcln)
//   1.18+     magic 0xfffffff0 / 0xfffffff1: the same plus textStart; functab holds u32 offsets
import { lastAtOrBelow } from './sortedSearch';
export interface GoFunctions {
  /** the buffer the name offsets point into (NUL-terminated names) */
  names: Buffer;
  funcs: Array<{ entry: number; end: number; nameOff: number }>;
}

const MAX_FUNCS = 2_000_000;

export function goFunctionTable(tab: Buffer, textAddr: number): GoFunctions {
  if (tab.length < 16) {
    throw new Error('pclntab too small');
  }
  const magic = tab.readUInt32LE(0);
  const ptrSize = tab[7];
  if (ptrSize !== 8 && ptrSize !== 4) {
    throw new Error(`pclntab pointer size ${ptrSize}`);
  }
  const word = (o: number) => {
    if (o < 0 || o + ptrSize > tab.length) {
      throw new Error('pclntab read out of range');
    }
    return ptrSize === 8 ? tab.readUInt32LE(o) + tab.readUInt32LE(o + 4) * 0x100000000 : tab.readUInt32LE(o);
  };
  const hdr = (i: number) => word(8 + i * ptrSize);
  const funcs: GoFunctions['funcs'] = [];
  const checkName = (off: number) => off >= 0 && off < tab.length;
  if (magic === 0xfffffff0 || magic === 0xfffffff1) {
    const nfunc = hdr(0);
    const textStart = hdr(2) || textAddr;
    const funcnameOff = hdr(3);
    const pclnOff = hdr(7);
    if (nfunc > MAX_FUNCS) {
      throw new Error('pclntab function count implausible');
    }
    const entryAt = (i: number) => tab.readUInt32LE(pclnOff + i * 8);
    for (let i = 0; i < nfunc; i++) {
      const funcOff = tab.readUInt32LE(pclnOff + i * 8 + 4);
      const nameOff = funcnameOff + tab.readInt32LE(pclnOff + funcOff + 4);
      if (checkName(nameOff)) {
        funcs.push({ entry: textStart + entryAt(i), end: textStart + entryAt(i + 1), nameOff });
      }
    }
  } else if (magic === 0xfffffffa) {
    const nfunc = hdr(0);
    const funcnameOff = hdr(2);
    const pclnOff = hdr(6);
    if (nfunc > MAX_FUNCS) {
      throw new Error('pclntab function count implausible');
    }
    for (let i = 0; i < nfunc; i++) {
      const entry = word(pclnOff + 2 * i * ptrSize);
      const funcOff = word(pclnOff + (2 * i + 1) * ptrSize);
      const end = word(pclnOff + 2 * (i + 1) * ptrSize);
      const nameOff = funcnameOff + tab.readInt32LE(pclnOff + funcOff + ptrSize);
      if (checkName(nameOff)) {
        funcs.push({ entry, end, nameOff });
      }
    }
  } else if (magic === 0xfffffffb) {
    const nfunc = word(8);
    const ft = 8 + ptrSize;
    if (nfunc > MAX_FUNCS) {
      throw new Error('pclntab function count implausible');
    }
    for (let i = 0; i < nfunc; i++) {
      const entry = word(ft + 2 * i * ptrSize);
      const funcOff = word(ft + (2 * i + 1) * ptrSize);
      const end = word(ft + 2 * (i + 1) * ptrSize);
      const nameOff = tab.readInt32LE(funcOff + ptrSize);
      if (checkName(nameOff)) {
        funcs.push({ entry, end, nameOff });
      }
    }
  } else {
    throw new Error(`unknown pclntab magic 0x${magic.toString(16)}`);
  }
  return { names: tab, funcs };
}

function varint(tab: Buffer, pos: number): [number, number] {
  let v = 0;
  let shift = 0;
  for (;;) {
    if (pos >= tab.length || shift > 35) {
      throw new Error('pclntab: bad varint');
    }
    const b = tab[pos++];
    v += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) {
      return [v, pos];
    }
    shift += 7;
  }
}

/** Stack-pointer deltas from a Go 1.18+ pclntab (the runtime's own pcsp tables): how far below the
 * frame's entry SP a given instruction runs. Go leaf functions without a stack frame keep no frame
 * pointer, so a frame-pointer walk would skip their caller; a delta of 0 says the return address
 * is at the top of the stack. */
export class GoUnwinder {
  private readonly entries: Float64Array;
  private readonly ends: Float64Array;
  private readonly funcOffs: Uint32Array;
  private readonly pctab: number;
  private readonly pcln: number;
  private readonly quantum: number;

  constructor(
    private readonly tab: Buffer,
    textAddr: number
  ) {
    const magic = tab.length >= 16 ? tab.readUInt32LE(0) : 0;
    if ((magic !== 0xfffffff0 && magic !== 0xfffffff1) || tab[7] !== 8) {
      throw new Error('pcsp tables are read from 64-bit Go 1.18+ binaries only');
    }
    this.quantum = tab[6];
    const hdr = (i: number) => tab.readUInt32LE(8 + i * 8) + tab.readUInt32LE(12 + i * 8) * 0x100000000;
    const nfunc = hdr(0);
    const textStart = hdr(2) || textAddr;
    this.pctab = hdr(6);
    this.pcln = hdr(7);
    if (nfunc > MAX_FUNCS || this.pcln + (nfunc + 1) * 8 > tab.length) {
      throw new Error('pclntab function table out of range');
    }
    this.entries = new Float64Array(nfunc);
    this.ends = new Float64Array(nfunc);
    this.funcOffs = new Uint32Array(nfunc);
    for (let i = 0; i < nfunc; i++) {
      this.entries[i] = textStart + tab.readUInt32LE(this.pcln + i * 8);
      this.ends[i] = textStart + tab.readUInt32LE(this.pcln + (i + 1) * 8);
      this.funcOffs[i] = tab.readUInt32LE(this.pcln + i * 8 + 4);
    }
  }

  /** SP delta (bytes) at `pc`, or undefined when pc is in no function or the table is damaged. */
  spDelta(pc: number): number | undefined {
    const e = this.entries;
    const found = lastAtOrBelow(e, pc);
    if (found < 0 || pc >= this.ends[found]) {
      return undefined;
    }
    try {
      const fn = this.pcln + this.funcOffs[found];
      const pcsp = this.tab.readUInt32LE(fn + 16);
      if (!pcsp) {
        return undefined;
      }
      let p = this.pctab + pcsp;
      let val = -1;
      let at = e[found];
      for (let first = true; ; first = false) {
        let uv: number;
        [uv, p] = varint(this.tab, p);
        if (uv === 0 && !first) {
          return undefined;
        }
        const delta = uv % 2 ? -(uv + 1) / 2 : uv / 2;
        let pcDelta: number;
        [pcDelta, p] = varint(this.tab, p);
        at += pcDelta * this.quantum;
        val += delta;
        if (pc < at) {
          return val;
        }
      }
    } catch {
      return undefined;
    }
  }
}
