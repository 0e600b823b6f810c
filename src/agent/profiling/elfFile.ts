// Function symbols of one ELF file (executable or shared library), for turning a sampled address
// into a name. Reads only the headers and the symbol sections, never the whole file. Sources, best
// first: .symtab; else .dynsym plus the .symtab inside .gnu_debugdata (MiniDebugInfo, xz); Go's
// .gopclntab when a Go binary has no symbol table (stripped).
import { closeSync, readSync } from 'node:fs';
import { openForeignFile } from './foreignFile';
import { xzDecompress } from './xz';
import { goFunctionTable, GoUnwinder } from './goPclntab';
import { EhFrame } from './ehFrame';
import { lastAtOrBelow } from './sortedSearch';

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const SHT_NOTE = 7;
const SHT_NOBITS = 8;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const NT_GNU_BUILD_ID = 3;
const NT_GO_BUILD_ID = 4;
/** a section larger than this is not read: the file is another process's choice, so this bounds the heap one file can cost (libxul's .symtab is ~20 MiB) */
const MAX_SECTION_BYTES = 64 << 20;
/** decompressed MiniDebugInfo larger than this is refused (real ones are a few MiB) */
const MAX_DEBUGDATA_BYTES = 32 << 20;

export class ElfError extends Error {}

export interface LoadSegment {
  offset: number;
  vaddr: number;
  filesz: number;
}

interface Section {
  name: string;
  type: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
}

/** A source of bytes at offsets: a file descriptor or an in-memory image. */
interface ByteSource {
  read(offset: number, length: number): Buffer;
  size: number;
}

function fdSource(fd: number, size: number): ByteSource {
  return {
    size,
    read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new ElfError(`read of ${length} bytes at ${offset} is outside the file (${size} bytes)`);
      }
      const b = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, b, got, length - got, offset + got);
        if (n <= 0) {
          throw new ElfError(`short read at ${offset + got}`);
        }
        got += n;
      }
      return b;
    },
  };
}

function bufferSource(buf: Buffer): ByteSource {
  return {
    size: buf.length,
    read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > buf.length) {
        throw new ElfError(`read of ${length} bytes at ${offset} is outside the image (${buf.length} bytes)`);
      }
      return buf.subarray(offset, offset + length);
    },
  };
}

const u64 = (b: Buffer, o: number) => b.readUInt32LE(o) + b.readUInt32LE(o + 4) * 0x100000000;

/** Sorted function symbols: address, size and name (names decoded on demand from the string table). */
export class SymbolTable {
  constructor(
    readonly addrs: Float64Array,
    readonly sizes: Float64Array,
    private readonly names: (i: number) => string
  ) {}

  get length(): number {
    return this.addrs.length;
  }

  /** The function containing `addr`, or undefined. A zero-size symbol covers up to the next one. */
  lookup(addr: number): string | undefined {
    const a = this.addrs;
    const found = lastAtOrBelow(a, addr);
    if (found < 0) {
      return undefined;
    }
    const size = this.sizes[found];
    if (size > 0 ? addr >= a[found] + size : found + 1 < a.length && addr >= a[found + 1]) {
      return undefined;
    }
    return this.names(found);
  }
}

/** Symbols before sorting; a name is a NUL-terminated string at off[i] in tables[tab[i]]. */
interface RawSymbols {
  addrs: number[];
  sizes: number[];
  rank: number[];
  tab: number[];
  off: number[];
  tables: Buffer[];
}

/** Lower is better among names at one address: fewer leading underscores, global over weak over local. */
function nameRank(strs: Buffer, off: number, bind: number): number {
  let u = 0;
  while (off + u < strs.length && strs[off + u] === 95) {
    u++;
  }
  const bindRank = bind === 1 ? 0 : bind === 2 ? 1 : 2;
  return u * 4 + bindRank;
}

function buildTable(raw: RawSymbols): SymbolTable {
  const n = raw.addrs.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    order[i] = i;
  }
  order.sort((x, y) => raw.addrs[x] - raw.addrs[y] || raw.rank[x] - raw.rank[y] || raw.sizes[y] - raw.sizes[x]);
  const addrs: number[] = [];
  const sizes: number[] = [];
  const tab: number[] = [];
  const off: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = order[k];
    if (addrs.length && addrs[addrs.length - 1] === raw.addrs[i]) {
      continue; // an alias of the best-ranked name already kept
    }
    addrs.push(raw.addrs[i]);
    sizes.push(raw.sizes[i]);
    tab.push(raw.tab[i]);
    off.push(raw.off[i]);
  }
  const tabs = Uint8Array.from(tab);
  const offs = Uint32Array.from(off);
  const cache = new Map<number, string>();
  return new SymbolTable(Float64Array.from(addrs), Float64Array.from(sizes), (i) => {
    let s = cache.get(i);
    if (s === undefined) {
      const t = raw.tables[tabs[i]];
      let end = t.indexOf(0, offs[i]);
      if (end < 0) {
        end = t.length;
      }
      s = t.toString('utf8', offs[i], end);
      if (cache.size < 100_000) {
        cache.set(i, s);
      }
    }
    return s;
  });
}

export interface ElfInfo {
  /** GNU build id (hex), else the Go build id, else '' */
  buildId: string;
  /** ET_EXEC (2) or ET_DYN (3) */
  type: number;
  loads: LoadSegment[];
  symbols: SymbolTable;
  /** where the names came from: symtab, dynsym, debugdata, gopclntab (joined with +) */
  source: string;
  /** byte size of the file */
  size: number;
  /** where .eh_frame is (read on first use by ehFrame()) */
  ehFrameSection?: { offset: number; size: number; addr: number };
  /** the path the file was read from */
  path?: string;
  /** cached .eh_frame (null: none or unreadable) */
  eh?: EhFrame | null;
  /** where .gopclntab is, and the .text address (Go binaries) */
  goSection?: { offset: number; size: number; textAddr: number };
  /** cached Go stack-pointer tables (null: none or unreadable) */
  go?: GoUnwinder | null;
}

function readSection(info: ElfInfo, offset: number, size: number): Buffer | undefined {
  if (!info.path || size <= 0 || size > MAX_SECTION_BYTES) {
    return undefined;
  }
  try {
    const f = openForeignFile(info.path);
    try {
      return fdSource(f.fd, f.size).read(offset, size);
    } finally {
      closeSync(f.fd);
    }
  } catch {
    return undefined; // gone or unreadable
  }
}

/** The Go binary's stack-pointer tables, read on first use; undefined if it has none. */
export function goUnwinder(info: ElfInfo): GoUnwinder | undefined {
  if (info.go === undefined) {
    info.go = null;
    const sec = info.goSection;
    const tab = sec ? readSection(info, sec.offset, sec.size) : undefined;
    if (sec && tab) {
      try {
        info.go = new GoUnwinder(tab, sec.textAddr);
      } catch {
        /* an older or damaged table: no rules */
      }
    }
  }
  return info.go ?? undefined;
}

/** The file's call-frame information, read on first use; undefined if it has none. */
export function ehFrame(info: ElfInfo): EhFrame | undefined {
  if (info.eh === undefined) {
    info.eh = null;
    const sec = info.ehFrameSection;
    const data = sec ? readSection(info, sec.offset, sec.size) : undefined;
    if (sec && data) {
      info.eh = new EhFrame(data, sec.addr);
    }
  }
  return info.eh ?? undefined;
}

/** Address in the ELF's virtual address space for a file offset, or undefined if not loaded. */
export function fileOffsetToVaddr(info: Pick<ElfInfo, 'loads'>, offset: number): number | undefined {
  for (const l of info.loads) {
    if (offset >= l.offset && offset < l.offset + Math.max(l.filesz, 1)) {
      return offset - l.offset + l.vaddr;
    }
  }
  return undefined;
}

class ElfImage {
  readonly type: number;
  readonly loads: LoadSegment[] = [];
  readonly sections: Section[] = [];

  constructor(private readonly src: ByteSource) {
    if (src.size < 64) {
      throw new ElfError('too small to be an ELF file');
    }
    const h = src.read(0, 64);
    if (h.readUInt32BE(0) !== 0x7f454c46) {
      throw new ElfError('not an ELF file');
    }
    if (h[4] !== 2 || h[5] !== 1) {
      throw new ElfError('not a 64-bit little-endian ELF file');
    }
    this.type = h.readUInt16LE(16);
    const phoff = u64(h, 32);
    const shoff = u64(h, 40);
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const shentsize = h.readUInt16LE(58);
    const shnum = h.readUInt16LE(60);
    const shstrndx = h.readUInt16LE(62);
    if (phnum && phentsize >= 56 && phoff + phnum * phentsize <= src.size) {
      const ph = src.read(phoff, phnum * phentsize);
      for (let i = 0; i < phnum; i++) {
        const o = i * phentsize;
        if (ph.readUInt32LE(o) === PT_LOAD) {
          this.loads.push({ offset: u64(ph, o + 8), vaddr: u64(ph, o + 16), filesz: u64(ph, o + 32) });
        }
      }
    }
    if (shnum && shentsize >= 64 && shoff + shnum * shentsize <= src.size) {
      const sh = src.read(shoff, shnum * shentsize);
      const raw = [];
      for (let i = 0; i < shnum; i++) {
        const o = i * shentsize;
        raw.push({
          nameOff: sh.readUInt32LE(o),
          type: sh.readUInt32LE(o + 4),
          addr: u64(sh, o + 16),
          offset: u64(sh, o + 24),
          size: u64(sh, o + 32),
          link: sh.readUInt32LE(o + 40),
        });
      }
      const strSec = raw[shstrndx];
      const shstr =
        strSec && strSec.offset + strSec.size <= src.size ? src.read(strSec.offset, strSec.size) : Buffer.alloc(0);
      for (const s of raw) {
        const end = shstr.indexOf(0, s.nameOff);
        const name = s.nameOff < shstr.length ? shstr.toString('latin1', s.nameOff, end < 0 ? shstr.length : end) : '';
        this.sections.push({ name, type: s.type, addr: s.addr, offset: s.offset, size: s.size, link: s.link });
      }
    }
  }

  section(name: string): Section | undefined {
    return this.sections.find((s) => s.name === name);
  }

  contents(s: Section): Buffer {
    if (s.type === SHT_NOBITS || s.size > MAX_SECTION_BYTES || s.offset + s.size > this.src.size) {
      return Buffer.alloc(0);
    }
    return this.src.read(s.offset, s.size);
  }

  buildId(): string {
    let goId = '';
    for (const s of this.sections) {
      if (s.type !== SHT_NOTE || s.size > 1 << 16) {
        continue;
      }
      const b = this.contents(s);
      let o = 0;
      while (o + 12 <= b.length) {
        const namesz = b.readUInt32LE(o);
        const descsz = b.readUInt32LE(o + 4);
        const type = b.readUInt32LE(o + 8);
        const nameStart = o + 12;
        const descStart = nameStart + ((namesz + 3) & ~3);
        const next = descStart + ((descsz + 3) & ~3);
        if (next > b.length) {
          break;
        }
        const name = b.toString('latin1', nameStart, nameStart + Math.max(0, namesz - 1));
        if (name === 'GNU' && type === NT_GNU_BUILD_ID) {
          return b.toString('hex', descStart, descStart + descsz);
        }
        if (name === 'Go' && type === NT_GO_BUILD_ID) {
          goId = 'go:' + b.toString('latin1', descStart, descStart + descsz);
        }
        o = next;
      }
    }
    return goId;
  }

  /** Function symbols of one symbol section (SHT_SYMTAB or SHT_DYNSYM), appended to `out`. */
  symbols(s: Section, out: RawSymbols): number {
    const strSec = this.sections[s.link];
    if (!strSec) {
      return 0;
    }
    const syms = this.contents(s);
    const strs = this.contents(strSec);
    const tabIdx = out.tables.push(strs) - 1;
    let n = 0;
    for (let o = 0; o + 24 <= syms.length; o += 24) {
      const info = syms[o + 4];
      const type = info & 0xf;
      const shndx = syms.readUInt16LE(o + 6);
      if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || shndx === 0) {
        continue;
      }
      const addr = u64(syms, o + 8);
      if (addr === 0) {
        continue;
      }
      const nameOff = syms.readUInt32LE(o);
      if (nameOff >= strs.length) {
        continue;
      }
      out.addrs.push(addr);
      out.sizes.push(u64(syms, o + 16));
      out.rank.push(nameRank(strs, nameOff, info >> 4));
      out.tab.push(tabIdx);
      out.off.push(nameOff);
      n++;
    }
    return n;
  }
}

function emptyRaw(): RawSymbols {
  return { addrs: [], sizes: [], rank: [], tab: [], off: [], tables: [] };
}

/** Reads an ELF file's build id, load segments and function symbols. Throws ElfError on bad input. */
export function readElf(path: string): ElfInfo {
  let f: ReturnType<typeof openForeignFile>;
  try {
    // the path is named by the traced process (its mappings, its root): never a FIFO or a device
    f = openForeignFile(path);
  } catch (err) {
    throw new ElfError((err as Error).message);
  }
  try {
    const info = readElfFrom(fdSource(f.fd, f.size));
    info.path = path;
    return info;
  } finally {
    closeSync(f.fd);
  }
}

/** The same from an in-memory image (tests, and the ELF inside .gnu_debugdata). */
export function readElfBuffer(buf: Buffer): ElfInfo {
  return readElfFrom(bufferSource(buf));
}

function readElfFrom(src: ByteSource): ElfInfo {
  const img = new ElfImage(src);
  const raw = emptyRaw();
  const sources: string[] = [];
  const symtab = img.sections.find((s) => s.type === SHT_SYMTAB);
  if (symtab && img.symbols(symtab, raw) > 0) {
    sources.push('symtab');
  } else {
    const dynsym = img.sections.find((s) => s.type === SHT_DYNSYM);
    if (dynsym && img.symbols(dynsym, raw) > 0) {
      sources.push('dynsym');
    }
    const dd = img.section('.gnu_debugdata');
    if (dd && dd.size > 0) {
      try {
        const mini = new ElfImage(bufferSource(xzDecompress(img.contents(dd), MAX_DEBUGDATA_BYTES)));
        const miniSymtab = mini.sections.find((s) => s.type === SHT_SYMTAB);
        if (miniSymtab && mini.symbols(miniSymtab, raw) > 0) {
          sources.push('debugdata');
        }
      } catch {
        /* a damaged MiniDebugInfo leaves the dynamic symbols */
      }
    }
    const pcln = img.section('.gopclntab');
    const text = img.section('.text');
    if (pcln && text && !sources.includes('symtab')) {
      try {
        const go = goFunctionTable(img.contents(pcln), text.addr);
        const tabIdx = raw.tables.push(go.names) - 1;
        for (const f of go.funcs) {
          raw.addrs.push(f.entry);
          raw.sizes.push(f.end - f.entry);
          raw.rank.push(8);
          raw.tab.push(tabIdx);
          raw.off.push(f.nameOff);
        }
        if (go.funcs.length) {
          sources.push('gopclntab');
        }
      } catch {
        /* not a pclntab we can read */
      }
    }
  }
  const eh = img.section('.eh_frame');
  const goTab = img.section('.gopclntab');
  const goText = img.section('.text');
  return {
    goSection:
      goTab && goText && goTab.type !== SHT_NOBITS
        ? { offset: goTab.offset, size: goTab.size, textAddr: goText.addr }
        : undefined,
    ehFrameSection: eh && eh.type !== SHT_NOBITS ? { offset: eh.offset, size: eh.size, addr: eh.addr } : undefined,
    buildId: img.buildId(),
    type: img.type,
    loads: img.loads,
    symbols: buildTable(raw),
    source: sources.join('+') || 'none',
    size: src.size,
  };
}
