// What FlowLens keeps of an SQL statement, shared by the PostgreSQL and MySQL parsers: the command
// word (request_type), the text with password literals redacted and cut (request_resource), command
// + first table (endpoint), and a W3C traceparent carried in a comment (sqlcommenter style).
import { parseTraceHeader, TraceContext } from '../traceHeaders';
import { isSpace, isWord } from '../textScan';

export const MAX_SQL = 512;
/** Longest SQL prefix decoded: enough to redact a literal that straddles the cut at MAX_SQL. */
export const MAX_SQL_DECODE = 2048;

export interface SqlSummary {
  command: string;
  resource: string;
  endpoint: string;
  trace?: TraceContext;
}

// Captured SQL is attacker-controlled: no regular expression with backtracking runs over it (one
// `select password` + 1000 spaces took a backtracking pattern 0.5 s). Every scan below moves
// forward from where it starts, and `scanWork` counts the characters it looks at so tests can
// assert the work stays proportional to the input.
let scanWork = 0;

/** Characters looked at by the SQL scanners since the process started (for tests). */
export function sqlScanWork(): number {
  return scanWork;
}

/** A character of a table name: \w . $ and the quotes ` and ". */
function isNameChar(c: number): boolean {
  return isWord(c) || c === 0x2e || c === 0x24 || c === 0x60 || c === 0x22;
}

/** The end of the whitespace that starts at `i` (i when there is none). */
function skipSpaces(s: string, i: number): number {
  const from = i;
  while (i < s.length && isSpace(s.charCodeAt(i))) {
    i++;
  }
  scanWork += i - from + 1;
  return i;
}

/** The end of the run of non-space characters that starts at `i`. */
function skipNonSpaces(s: string, i: number): number {
  const from = i;
  while (i < s.length && !isSpace(s.charCodeAt(i))) {
    i++;
  }
  scanWork += i - from + 1;
  return i;
}

/** The end of the table name that starts at `i` (i when there is none). */
function nameEnd(s: string, i: number): number {
  const from = i;
  while (i < s.length && isNameChar(s.charCodeAt(i))) {
    i++;
  }
  scanWork += i - from + 1;
  return i;
}

/** Whether `s` has `word` (upper-case ASCII) at `i`, ignoring ASCII case. */
function hasWordAt(s: string, i: number, word: string): boolean {
  if (i + word.length > s.length) {
    return false;
  }
  scanWork += word.length;
  for (let k = 0; k < word.length; k++) {
    const c = s.charCodeAt(i + k);
    const w = word.charCodeAt(k);
    if (c !== w && !(w >= 0x41 && w <= 0x5a && c === w + 0x20)) {
      return false;
    }
  }
  return true;
}

/** After `word` at `i`, the end of the whitespace that must follow it; -1 when either is missing. */
function wordThenSpaces(s: string, i: number, word: string): number {
  if (!hasWordAt(s, i, word)) {
    return -1;
  }
  const end = skipSpaces(s, i + word.length);
  return end > i + word.length ? end : -1;
}

/** Whether a word (\w) starting at `i` is at a word boundary. */
function wordStart(s: string, i: number): boolean {
  return i === 0 || !isWord(s.charCodeAt(i - 1));
}

/**
 * The opening quote of a password literal introduced at `i`, or -1: PASSWORD 'x', PASSWORD = 'x',
 * PASSWORD('x'), IDENTIFIED BY 'x', IDENTIFIED WITH plugin AS 'x', IDENTIFIED BY PASSWORD 'x'.
 */
function secretLiteralStart(s: string, i: number): number {
  let p: number;
  if (hasWordAt(s, i, 'PASSWORD')) {
    p = i + 8;
  } else if (hasWordAt(s, i, 'IDENTIFIED')) {
    p = skipSpaces(s, i + 10);
    if (p === i + 10) {
      return -1;
    }
    const afterWith = wordThenSpaces(s, p, 'WITH');
    if (afterWith >= 0) {
      // WITH <plugin> : both or neither (BY/AS/USING cannot start at WITH)
      const plugin = skipNonSpaces(s, afterWith);
      const next = skipSpaces(s, plugin);
      if (plugin === afterWith || next === plugin) {
        return -1;
      }
      p = next;
    }
    if (hasWordAt(s, p, 'BY') || hasWordAt(s, p, 'AS')) {
      p += 2;
    } else if (hasWordAt(s, p, 'USING')) {
      p += 5;
    } else {
      return -1;
    }
    const q = skipSpaces(s, p);
    if (q > p && hasWordAt(s, q, 'PASSWORD')) {
      p = q + 8;
    }
  } else {
    return -1;
  }
  p = skipSpaces(s, p);
  if (s.charCodeAt(p) === 0x3d /* = */) {
    p = skipSpaces(s, p + 1);
  }
  if (hasWordAt(s, p, 'PASSWORD')) {
    p = skipSpaces(s, p + 8);
  }
  if (s.charCodeAt(p) === 0x28 /* ( */) {
    p = skipSpaces(s, p + 1);
  }
  const c = s.charCodeAt(p);
  return c === 0x27 || c === 0x22 ? p : -1;
}

/** The end of the quoted literal that opens at `open`: backslash escapes, '' inside '...'; an unterminated literal runs to the end. */
function literalEnd(s: string, open: number): number {
  const quote = s.charCodeAt(open);
  let j = open + 1;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === 0x5c /* \ */) {
      j += 2;
    } else if (c !== quote) {
      j++;
    } else if (quote === 0x27 && s.charCodeAt(j + 1) === 0x27) {
      j += 2;
    } else {
      scanWork += j - open;
      return j + 1;
    }
  }
  scanWork += s.length - open;
  return s.length;
}

/** Replaces password literals with '***' (an unterminated one, cut by the capture, to the end). */
export function redactSql(sql: string): string {
  const n = sql.length;
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i) | 0x20;
    if ((c === 0x70 /* p */ || c === 0x69) /* i */ && wordStart(sql, i)) {
      const open = secretLiteralStart(sql, i);
      if (open >= 0) {
        out += `${sql.slice(copied, open)}'***'`;
        i = copied = literalEnd(sql, open);
        continue;
      }
    }
    i++;
  }
  scanWork += n;
  return copied === 0 ? sql : out + sql.slice(copied);
}

/** Index of the first character after leading whitespace, comments and opening parentheses. */
function skipNoise(sql: string): number {
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x28 /* ( */) {
      i++;
    } else if (c === 0x2d /* - */ && sql.charCodeAt(i + 1) === 0x2d) {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
    } else if (c === 0x23 /* # (MySQL comment) */) {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
    } else if (c === 0x2f /* / */ && sql.charCodeAt(i + 1) === 0x2a) {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else {
      break;
    }
  }
  return i;
}

/** The statement's first keyword, upper-cased ('' when there is none). */
export function sqlCommand(sql: string): string {
  const start = skipNoise(sql);
  let end = start;
  while (end < sql.length && end - start < 32) {
    const c = sql.charCodeAt(end) | 0x20;
    if (c < 0x61 || c > 0x7a) {
      break;
    }
    end++;
  }
  return sql.slice(start, end).toUpperCase();
}

/** The name at `i` without its quotes, cut to 64 characters; undefined when there is no name there. */
function nameAt(s: string, i: number): string | undefined {
  const end = nameEnd(s, i);
  if (end === i) {
    return undefined;
  }
  let name = '';
  for (let k = i; k < end && name.length < 64; k++) {
    const c = s.charCodeAt(k);
    if (c !== 0x60 && c !== 0x22) {
      name += s[k];
    }
  }
  return name;
}

/** The name after `keyword` + whitespace [+ `optional` + whitespace], at `at`; a missing name after `optional` falls back to `optional` itself as the name. */
function nameAfter(s: string, at: number, keyword: string, optional?: string): string | undefined {
  const p = wordThenSpaces(s, at, keyword);
  if (p < 0) {
    return undefined;
  }
  if (optional) {
    const q = wordThenSpaces(s, p, optional);
    if (q >= 0 && nameEnd(s, q) > q) {
      return nameAt(s, q);
    }
  }
  return nameAt(s, p);
}

/** The name after the first `keyword` (at a word start) that has one: FROM t, INTO t. */
function firstNameAfter(s: string, keyword: string, optional?: string): string | undefined {
  const first = keyword.charCodeAt(0) | 0x20;
  for (let i = 0; i < s.length; i++) {
    if ((s.charCodeAt(i) | 0x20) === first && wordStart(s, i)) {
      const name = nameAfter(s, i, keyword, optional);
      if (name !== undefined) {
        scanWork += i;
        return name;
      }
    }
  }
  scanWork += s.length;
  return undefined;
}

/** After `at`, the end of any run of `phrases` (words each followed by whitespace); `lastPhrase` gets the start of the last one taken. */
function skipPhrases(s: string, at: number, phrases: string[][], lastPhrase?: { at: number }): number {
  for (;;) {
    let next = -1;
    for (let k = 0; k < phrases.length && next < 0; k++) {
      next = at;
      for (const w of phrases[k]) {
        next = wordThenSpaces(s, next, w);
        if (next < 0) {
          break;
        }
      }
    }
    if (next < 0) {
      return at;
    }
    if (lastPhrase) {
      lastPhrase.at = at;
    }
    at = next;
  }
}

const UPDATE_MODIFIERS = [['LOW_PRIORITY'], ['IGNORE'], ['ONLY']];
const DDL_MODIFIERS = [['TEMP'], ['TEMPORARY'], ['UNLOGGED'], ['OR', 'REPLACE']];

/** UPDATE [LOW_PRIORITY|IGNORE|ONLY ...] t */
function updateTable(s: string): string | undefined {
  const p = wordThenSpaces(s, 0, 'UPDATE');
  if (p < 0) {
    return undefined;
  }
  const lastModifier = { at: -1 };
  const q = skipPhrases(s, p, UPDATE_MODIFIERS, lastModifier);
  // a modifier word with no name after it is the name itself (UPDATE ignore SET ...)
  return nameAt(s, q) ?? (lastModifier.at >= 0 ? nameAt(s, lastModifier.at) : undefined);
}

/** CREATE|DROP|ALTER [TEMP|TEMPORARY|UNLOGGED|OR REPLACE ...] TABLE|VIEW|INDEX i ON [IF [NOT] EXISTS] t */
function ddlTable(s: string): string | undefined {
  let p = 0;
  while (p < s.length && isWord(s.charCodeAt(p))) {
    p++;
  }
  scanWork += p;
  const afterCommand = skipSpaces(s, p);
  if (p === 0 || afterCommand === p) {
    return undefined;
  }
  const at = skipPhrases(s, afterCommand, DDL_MODIFIERS);
  let objectEnd = wordThenSpaces(s, at, 'TABLE');
  if (objectEnd < 0) {
    objectEnd = wordThenSpaces(s, at, 'VIEW');
  }
  if (objectEnd < 0) {
    const index = wordThenSpaces(s, at, 'INDEX');
    const indexName = index < 0 ? -1 : skipNonSpaces(s, index);
    const on = indexName <= index ? -1 : skipSpaces(s, indexName);
    objectEnd = on <= indexName ? -1 : wordThenSpaces(s, on, 'ON');
  }
  if (objectEnd < 0) {
    return undefined;
  }
  let ifExists = wordThenSpaces(s, objectEnd, 'IF');
  if (ifExists >= 0) {
    const not = wordThenSpaces(s, ifExists, 'NOT');
    ifExists = wordThenSpaces(s, not >= 0 ? not : ifExists, 'EXISTS');
  }
  return (ifExists >= 0 ? nameAt(s, ifExists) : undefined) ?? nameAt(s, objectEnd);
}

/** The first table a statement names, when it is easy to tell. */
export function sqlTable(sql: string, command: string): string | undefined {
  const body = sql.slice(skipNoise(sql), MAX_SQL);
  let name: string | undefined;
  switch (command) {
    case 'SELECT':
    case 'DELETE':
    case 'WITH':
      name = firstNameAfter(body, 'FROM', 'ONLY');
      break;
    case 'INSERT':
    case 'REPLACE':
      name = firstNameAfter(body, 'INTO');
      break;
    case 'UPDATE':
      name = updateTable(body);
      break;
    case 'CREATE':
    case 'DROP':
    case 'ALTER':
      name = ddlTable(body);
      break;
    case 'TRUNCATE':
      name = nameAfter(body, 0, 'TRUNCATE', 'TABLE');
      break;
  }
  return name ? name : undefined;
}

/** Whether s[from, to) is all hex digits (either case). */
function isHex(s: string, from: number, to: number): boolean {
  scanWork += to - from;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) {
      return false;
    }
  }
  return true;
}

/** The traceparent value of `traceparent = '00-<32 hex>-<16 hex>-<2 hex>'` (or `:`) at `i`, if there is one. */
function traceparentAt(s: string, i: number): string | undefined {
  if (!hasWordAt(s, i, 'TRACEPARENT')) {
    return undefined;
  }
  let p = skipSpaces(s, i + 11);
  const sep = s.charCodeAt(p);
  if (sep !== 0x3d && sep !== 0x3a) {
    return undefined;
  }
  p = skipSpaces(s, p + 1);
  const q = s.charCodeAt(p);
  if (q === 0x27 || q === 0x22) {
    p++;
  }
  if (
    p + 55 > s.length ||
    s.charCodeAt(p + 2) !== 0x2d ||
    s.charCodeAt(p + 35) !== 0x2d ||
    s.charCodeAt(p + 52) !== 0x2d
  ) {
    return undefined;
  }
  return isHex(s, p, p + 2) && isHex(s, p + 3, p + 35) && isHex(s, p + 36, p + 52) && isHex(s, p + 53, p + 55)
    ? s.slice(p, p + 55)
    : undefined;
}

/** The first sqlcommenter traceparent in the text. */
function sqlTraceparent(sql: string): string | undefined {
  for (let i = 0; i < sql.length; i++) {
    if ((sql.charCodeAt(i) | 0x20) === 0x74 /* t */) {
      const value = traceparentAt(sql, i);
      if (value !== undefined) {
        scanWork += i;
        return value;
      }
    }
  }
  scanWork += sql.length;
  return undefined;
}

/** Summarises SQL text (already decoded, at most MAX_SQL_DECODE chars). */
export function summarizeSql(sql: string): SqlSummary {
  const redacted = redactSql(sql);
  const command = sqlCommand(redacted);
  const table = command ? sqlTable(redacted, command) : undefined;
  const summary: SqlSummary = {
    command,
    resource: redacted.length > MAX_SQL ? redacted.slice(0, MAX_SQL) : redacted,
    endpoint: table ? `${command} ${table}` : command,
  };
  if (sql.includes('traceparent')) {
    const value = sqlTraceparent(sql);
    if (value) {
      const trace: TraceContext = {};
      parseTraceHeader('traceparent', value, trace);
      if (trace.traceId) {
        summary.trace = trace;
      }
    }
  }
  return summary;
}
