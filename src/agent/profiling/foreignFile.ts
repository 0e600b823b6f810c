// Opening a file named by another process (its perf map, the ELF files it mapped, their debug
// files): the agent runs as root, the other process may not, and it chooses what is at that path.
// A FIFO would block a plain open() or read() forever, a symlink can point anywhere, a device or a
// huge sparse file can make the agent read without end. Every such open goes through here.
import { closeSync, constants, fstatSync, openSync } from 'node:fs';

export class ForeignFileError extends Error {}

export interface ForeignFile {
  fd: number;
  size: number;
  uid: number;
}

export interface ForeignOpenOptions {
  /** refuse a symlink as the last path component (O_NOFOLLOW); /proc/<pid>/map_files/* are links by design */
  noFollow?: boolean;
  /** the file must be owned by one of these uids (a file the process wrote itself, e.g. its perf map) */
  ownerUids?: number[];
}

/**
 * Opens `path` read-only and non-blocking (a FIFO opens at once instead of waiting for a writer) and
 * keeps it only if fstat says it is a regular file (and owned as asked). Throws ForeignFileError.
 */
export function openForeignFile(path: string, o: ForeignOpenOptions = {}): ForeignFile {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (o.noFollow ? constants.O_NOFOLLOW : 0));
  } catch (err) {
    throw new ForeignFileError(`cannot open ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw new ForeignFileError(`${path} is not a regular file`);
    }
    if (o.ownerUids && !o.ownerUids.includes(st.uid)) {
      throw new ForeignFileError(
        `${path} is owned by uid ${st.uid}, not by the process (uid ${o.ownerUids.join('/')})`
      );
    }
    return { fd, size: st.size, uid: st.uid };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** The real and effective uid of a process (from /proc/<pid>/status text), or undefined. */
export function processUids(statusText: string): number[] | undefined {
  const at = statusText.indexOf('\nUid:');
  if (at < 0) {
    return undefined;
  }
  const eol = statusText.indexOf('\n', at + 5);
  const fields = statusText
    .slice(at + 5, eol < 0 ? statusText.length : eol)
    .trim()
    .split(/\s+/);
  const ids = fields.slice(0, 2).map(Number);
  return ids.length === 2 && ids.every((n) => Number.isInteger(n) && n >= 0) ? ids : undefined;
}
