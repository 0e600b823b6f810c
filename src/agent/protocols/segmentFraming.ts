// Where new messages start in one direction's segments, for protocols whose messages can run past
// a syscall and past the captured bytes: the bytes of a message whose end is known are skipped; a
// message whose end is unknown runs on until the other side speaks (or its terminator shows).
// Shared by the Redis and Memcached parsers.

/** start(): the whole segment continues the message in progress. */
export const CONTINUATION = -1;
/** start(): the whole segment continues a message whose end is unknown. */
export const UNKNOWN_TAIL = -2;

export class SegmentFraming {
  /** bytes still to come of a message whose end is known, per direction [ingress, egress] */
  private readonly skip = [0, 0];
  /** a message whose end is unknown continues in this direction until the other side speaks */
  private readonly unknownTail = [false, false];

  /** Offset in `seg` where the next message may start, or CONTINUATION / UNKNOWN_TAIL. */
  start(seg: Buffer, retLen: number, dir: number): number {
    this.unknownTail[1 - dir] = false; // the other side spoke: its open message is over
    if (this.skip[dir] > 0) {
      if (this.skip[dir] >= retLen) {
        this.skip[dir] -= retLen;
        return CONTINUATION;
      }
      const start = this.skip[dir];
      this.skip[dir] = 0;
      return start >= seg.length ? CONTINUATION : start; // the next message starts past the captured bytes
    }
    return this.unknownTail[dir] ? UNKNOWN_TAIL : 0;
  }

  /** The message of unknown length in `dir` showed its end. */
  endTail(dir: number): void {
    this.unknownTail[dir] = false;
  }

  /** After a message ending at `end` (-1: end not found): false when nothing more can be read from `seg`. */
  advance(end: number, seg: Buffer, retLen: number, dir: number): boolean {
    if (end < 0) {
      this.unknownTail[dir] = retLen > seg.length; // cut by the capture: the rest arrives later
      return false;
    }
    if (end > retLen) {
      this.skip[dir] = end - retLen;
      return false;
    }
    return end < seg.length;
  }
}
