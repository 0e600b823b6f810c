// Executable mappings of a process from /proc/<pid>/maps: which file (by device and inode) and
// which file offset an address belongs to, so PIE executables and libraries loaded anywhere
// (ASLR) are symbolized in their own address space.
import { readFileSync } from 'node:fs';

export interface Mapping {
  start: number;
  end: number;
  /** file offset of `start` */
  offset: number;
  /** "major:minor" in hex, as /proc prints it */
  dev: string;
  inode: number;
  /** the path as /proc prints it; "" for anonymous memory, "[vdso]"-style for special mappings */
  path: string;
  /** the file was deleted (or replaced) after it was mapped */
  deleted: boolean;
}

/** Parses /proc/<pid>/maps text, keeping executable mappings, sorted by start. */
export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    // 55d0c8a00000-55d0c8a21000 r-xp 00002000 fd:01 1311 /usr/bin/cat
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)\s*(.*)$/.exec(line);
    if (!m || m[3][2] !== 'x') {
      continue;
    }
    let path = m[7];
    const deleted = path.endsWith(' (deleted)');
    if (deleted) {
      path = path.slice(0, -' (deleted)'.length);
    }
    out.push({
      start: parseInt(m[1], 16),
      end: parseInt(m[2], 16),
      offset: parseInt(m[4], 16),
      dev: m[5],
      inode: Number(m[6]),
      path,
      deleted,
    });
  }
  return out.sort((a, b) => a.start - b.start);
}

export function findMapping(maps: Mapping[], addr: number): Mapping | undefined {
  let lo = 0;
  let hi = maps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = maps[mid];
    if (addr < m.start) {
      hi = mid - 1;
    } else if (addr >= m.end) {
      lo = mid + 1;
    } else {
      return m;
    }
  }
  return undefined;
}

export function readMaps(pid: number, procRoot = '/proc'): Mapping[] | undefined {
  try {
    return parseMaps(readFileSync(`${procRoot}/${pid}/maps`, 'latin1'));
  } catch {
    return undefined;
  }
}

/** A file-backed mapping (not anonymous memory, [vdso], [stack], ...). */
export function isFileMapping(m: Mapping): boolean {
  return m.inode !== 0 && m.path.startsWith('/');
}
