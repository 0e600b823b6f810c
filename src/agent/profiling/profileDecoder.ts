// Decodes the buffer flowlens_native.profilerDrain() returns (layout in native/src/profiler.c).

export const PROFILE_KIND_ON_CPU = 0;
export const PROFILE_KIND_OFF_CPU = 1;

/** Stack flags, as in bpf/profiler.h (enum flp_stack_flags). */
export const STACK_USER_ERR = 1;
export const STACK_KERNEL_ERR = 2;
export const STACK_USER_TRUNC = 4;
export const STACK_RATE_LIMITED = 8;

export const NO_STACK = 0xffffffff;

export interface DrainedCount {
  pid: number;
  tid: number;
  kind: number;
  flags: number;
  /** index into stacks, or NO_STACK */
  user: number;
  kernel: number;
  /** samples (on-CPU) or blocked nanoseconds (off-CPU) */
  value: number;
}

export interface DrainedStack {
  /** 16 hex digits: the kernel's hash of the frames */
  hash: string;
  /** evicted from the kernel's stack map before it was read */
  lost: boolean;
  /** leaf first; user addresses as is, kernel addresses as their low 48 bits */
  ips: number[];
}

export interface Drained {
  counts: DrainedCount[];
  stacks: DrainedStack[];
}

export class ProfileDecodeError extends Error {}

export function decodeDrain(buf: Buffer): Drained {
  if (buf.length < 16 || buf.readUInt32LE(0) !== 1) {
    throw new ProfileDecodeError(`profile drain: bad header (${buf.length} bytes)`);
  }
  const nCounts = buf.readUInt32LE(4);
  const nStacks = buf.readUInt32LE(8);
  let o = 16;
  if (o + nCounts * 32 > buf.length) {
    throw new ProfileDecodeError(`profile drain: ${nCounts} counts do not fit ${buf.length} bytes`);
  }
  const counts: DrainedCount[] = new Array(nCounts);
  for (let i = 0; i < nCounts; i++, o += 32) {
    counts[i] = {
      pid: buf.readUInt32LE(o),
      tid: buf.readUInt32LE(o + 4),
      kind: buf.readUInt32LE(o + 8),
      flags: buf.readUInt32LE(o + 12),
      user: buf.readUInt32LE(o + 16),
      kernel: buf.readUInt32LE(o + 20),
      value: buf.readUInt32LE(o + 24) + buf.readUInt32LE(o + 28) * 0x100000000,
    };
  }
  const stacks: DrainedStack[] = new Array(nStacks);
  for (let i = 0; i < nStacks; i++) {
    if (o + 16 > buf.length) {
      throw new ProfileDecodeError('profile drain: stack table truncated');
    }
    const n = buf.readUInt32LE(o);
    const lost = buf.readUInt32LE(o + 4) !== 0;
    const hash = buf.toString('hex', o + 8, o + 16);
    o += 16;
    if (n > 127 || o + n * 8 > buf.length) {
      throw new ProfileDecodeError('profile drain: stack frames truncated');
    }
    const ips = new Array<number>(n);
    for (let k = 0; k < n; k++, o += 8) {
      ips[k] = (buf.readUInt32LE(o + 4) & 0xffff) * 0x100000000 + buf.readUInt32LE(o);
    }
    stacks[i] = { hash, lost, ips };
  }
  for (const c of counts) {
    if ((c.user !== NO_STACK && c.user >= nStacks) || (c.kernel !== NO_STACK && c.kernel >= nStacks)) {
      throw new ProfileDecodeError('profile drain: a count names a stack that is not in the table');
    }
  }
  return { counts, stacks };
}
