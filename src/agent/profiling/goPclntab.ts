// Function names and address ranges from a Go binary's .gopclntab, which the runtime needs for
// its own tracebacks and so survives `go build -ldflags=-s` (no .symtab). Layouts by Go version:
//   1.2-1.15  magic 0xfffffffb: nfunc, then (entry, funcoff) word pairs; names relative to the table
//   1.16-1.17 magic 0xfffffffa: header of offsets (nfunc, nfiles, funcname, cu, filetab, pctab, pcln)
//   1.18+     magic 0xfffffff0 / 0xfffffff1: the same plus textStart; functab holds u32 offsets
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
