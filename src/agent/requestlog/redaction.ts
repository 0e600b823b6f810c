// Secrets never leave the agent: values of sensitive parameters in resources (URL query strings,
// SQL, commands) and exception texts are replaced by *** before a row is queued. Headers such as
// Authorization and Cookie are never stored at all; parsers redact handshake credentials themselves.
// The texts come from captured bytes, so the built-in rule is a forward scan (no regular expression).

import { isSpace } from '../protocols/textScan';

/** Parameter names whose values are secrets, in query strings, form bodies and key=value texts. */
const SENSITIVE = new Set(
  'password passwd pwd pass token access_token refresh_token id_token api_key apikey secret client_secret auth authorization session sessionid sig signature credential private_key'.split(
    ' '
  )
);
const LONGEST_NAME = Math.max(...[...SENSITIVE].map((s) => s.length));

/**
 * User patterns are regular expressions the user wrote: one may backtrack, so they run on at most
 * this many characters of a text and a longer text is cut to it first (stored columns are cut at
 * 512 anyway, so nothing a user pattern did not see is stored).
 */
export const MAX_USER_PATTERN_INPUT = 1024;

/** Texts with a '=' redacted lately: the same resource comes back at both ends of a call and from
 * every client of an endpoint, and a map lookup is cheaper than the scan. */
const MEMO_SIZE = 4096;

/** A character before a parameter name: start, ? & ; , or whitespace (JavaScript's \s). */
function isParamStart(c: number): boolean {
  return c === 0x3f || c === 0x26 || c === 0x3b || c === 0x2c || isSpace(c);
}

/** A character that ends a parameter's value: & # ; , or whitespace. */
function endsValue(c: number): boolean {
  return c === 0x26 || c === 0x23 || c === 0x3b || c === 0x2c || isSpace(c);
}

/** When a sensitive name and '=' start at `i`, the index after the '='; else -1. At most LONGEST_NAME + 1 characters are looked at. */
function sensitiveValueStart(text: string, i: number): number {
  const limit = Math.min(text.length, i + LONGEST_NAME + 1);
  for (let j = i; j < limit; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x3d /* = */) {
      return j > i && SENSITIVE.has(text.slice(i, j).toLowerCase()) ? j + 1 : -1;
    }
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f)) {
      return -1;
    }
  }
  return -1;
}

/** The built-in rule: `name=value` after a start, ? & ; , or whitespace, with a sensitive name (any case), has its value replaced by ***. */
export function redactParameters(text: string): string {
  let out = '';
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    if (i > 0 && !isParamStart(text.charCodeAt(i - 1))) {
      continue;
    }
    const value = sensitiveValueStart(text, i);
    if (value < 0) {
      continue;
    }
    let end = value;
    while (end < text.length && !endsValue(text.charCodeAt(end))) {
      end++;
    }
    out += `${text.slice(copied, value)}***`;
    copied = end;
    i = end; // the loop's i++ looks at the character after the terminator, whose predecessor is the terminator
  }
  return copied === 0 ? text : out + text.slice(copied);
}

export class Redactor {
  private readonly userPatterns: RegExp[];
  private memo = new Map<string, string>();

  /** `extra` are user patterns (regular expressions); a match is replaced by *** whole. */
  constructor(extra: string[] = []) {
    this.userPatterns = extra.map((p) => new RegExp(p, 'g'));
  }

  redact(text: string): string {
    // the built-in rule needs a '=': most paths and SQL texts are left without scanning them
    const hasEquals = text.indexOf('=') >= 0;
    if (this.userPatterns.length === 0 && !hasEquals) {
      return text;
    }
    let out = this.memo.get(text);
    if (out !== undefined) {
      return out;
    }
    out = hasEquals ? redactParameters(text) : text;
    if (this.userPatterns.length && out.length > MAX_USER_PATTERN_INPUT) {
      out = out.slice(0, MAX_USER_PATTERN_INPUT);
    }
    for (const pattern of this.userPatterns) {
      out = out.replace(pattern, '***');
    }
    if (this.memo.size >= MEMO_SIZE) {
      this.memo = new Map(); // bounded: start over rather than track ages
    }
    this.memo.set(text, out);
    return out;
  }
}
