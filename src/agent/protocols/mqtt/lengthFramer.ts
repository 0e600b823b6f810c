// Finds message boundaries in one direction of a length-prefixed binary stream (MQTT packets, AMQP
// frames) whatever the syscalls do: one byte per read (libmosquitto reads the fixed header byte by
// byte), several messages per write, messages cut by the capture size. Shared by MQTT and AMQP.

/** frameLength() results besides a length. */
export const NEED_MORE = -1;
export const INVALID = -2;

/** Bytes of a frame's beginning that are kept for parsing (captures are 1 KiB by default). */
export const KEEP_BYTES = 1024;

export interface FrameSink {
  /**
   * One frame begins (or resumes its beginning) in this segment: `prefix` holds up to KEEP_BYTES of
   * its first bytes (fewer when the capture was cut), `total` its full length and `fromHere` its
   * bytes from this segment on (less than `total` when its header came in earlier syscalls).
   */
  frame(prefix: Buffer, total: number, fromHere: number): void;
}

export class LengthFramer {
  /** bytes of the current frame still to come (its body, already reported) */
  private skip = 0;
  /** the beginning of a frame whose header straddles syscalls */
  private partial?: Buffer;
  /** true once anything was framed: the first segment may need the caller's special case */
  started = false;

  constructor(private readonly frameLength: (head: Buffer) => number) {}

  /** Frames `seg` (the captured prefix of a `retLen`-byte syscall) from `from`; false when lost. */
  push(seg: Buffer, retLen: number, sink: FrameSink, from = 0): boolean {
    this.started = true;
    let pos = from;
    while (pos < retLen) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, retLen - pos);
        this.skip -= n;
        pos += n;
        continue;
      }
      const partialLen = this.partial?.length ?? 0;
      if (pos >= seg.length) {
        // a frame starts in bytes the capture did not keep: its length is unknown
        this.reset();
        return false;
      }
      const here = seg.subarray(pos, pos + KEEP_BYTES - partialLen);
      const buf = this.partial ? Buffer.concat([this.partial, here]) : here;
      const total = this.frameLength(buf);
      if (total === INVALID) {
        this.reset();
        return false;
      }
      const segEndsSyscall = pos + here.length >= retLen;
      if (total === NEED_MORE) {
        if (!segEndsSyscall || buf.length >= KEEP_BYTES) {
          this.reset(); // the header runs into uncaptured bytes
          return false;
        }
        this.partial = Buffer.from(buf);
        return true;
      }
      const want = Math.min(total, KEEP_BYTES);
      if (buf.length < want && segEndsSyscall && pos + here.length === seg.length && seg.length === retLen) {
        // the syscall ended inside the part we parse: wait for the rest
        this.partial = Buffer.from(buf);
        return true;
      }
      const remaining = total - partialLen;
      const consumed = Math.min(remaining, retLen - pos);
      this.partial = undefined;
      sink.frame(buf.length > want ? buf.subarray(0, want) : buf, total, remaining);
      this.skip = remaining - consumed;
      pos += consumed;
    }
    return true;
  }

  /** Forget the frame in progress: the next segment is taken as the start of a frame. */
  reset(): void {
    this.skip = 0;
    this.partial = undefined;
  }
}
