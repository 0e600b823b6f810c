// Character classes for the hand-written scanners that replace regular expressions over captured
// text (SQL, key=value redaction, NATS CONNECT JSON): the same sets JavaScript's \s and \w match.

/** JavaScript's \s. */
export function isSpace(c: number): boolean {
  if (c <= 0x20) {
    return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  }
  return (
    c >= 0xa0 &&
    (c === 0xa0 ||
      c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x202f ||
      c === 0x205f ||
      c === 0x3000 ||
      c === 0xfeff)
  );
}

/** JavaScript's \w: [A-Za-z0-9_]. */
export function isWord(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
}

/** The end of the run of \s that starts at `i` (i when there is none). */
export function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) {
    i++;
  }
  return i;
}
