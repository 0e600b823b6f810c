// What FlowLens keeps of an SQL statement, shared by the PostgreSQL and MySQL parsers: the command
// word (request_type), the text with password literals redacted and cut (request_resource), command
// + first table (endpoint), and a W3C traceparent carried in a comment (sqlcommenter style).
import { parseTraceHeader, TraceContext } from '../traceHeaders';

export const MAX_SQL = 512;
/** Longest SQL prefix decoded: enough to redact a literal that straddles the cut at MAX_SQL. */
export const MAX_SQL_DECODE = 2048;

export interface SqlSummary {
  command: string;
  resource: string;
  endpoint: string;
  trace?: TraceContext;
}

// PASSWORD 'x', PASSWORD = 'x', PASSWORD('x'), IDENTIFIED BY 'x', IDENTIFIED WITH plugin AS 'x';
// an unterminated literal (the capture ended inside it) is redacted to the end.
const SECRET_LITERAL = /\b(PASSWORD|IDENTIFIED\s+(?:WITH\s+\S+\s+)?(?:BY|AS|USING)(?:\s+PASSWORD)?)(\s*=?\s*(?:PASSWORD\s*)?\(?\s*)(?:'(?:[^'\\]|\\[^]|'')*(?:'|$)|"(?:[^"\\]|\\[^])*(?:"|$))/gi;

/** Replaces password literals with '***'. */
export function redactSql(sql: string): string {
  return sql.replace(SECRET_LITERAL, "$1$2'***'");
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

const NAME = '([`"\\w.$]+)';
const FROM_TABLE = new RegExp(`\\bFROM\\s+(?:ONLY\\s+)?${NAME}`, 'i');
const INTO_TABLE = new RegExp(`\\bINTO\\s+${NAME}`, 'i');
const UPDATE_TABLE = new RegExp(`^UPDATE\\s+(?:(?:LOW_PRIORITY|IGNORE|ONLY)\\s+)*${NAME}`, 'i');
const DDL_TABLE = new RegExp(`^\\w+\\s+(?:(?:TEMP|TEMPORARY|UNLOGGED|OR\\s+REPLACE)\\s+)*(?:TABLE|VIEW|INDEX\\s+\\S+\\s+ON)\\s+(?:IF\\s+(?:NOT\\s+)?EXISTS\\s+)?${NAME}`, 'i');
const TRUNCATE_TABLE = new RegExp(`^TRUNCATE\\s+(?:TABLE\\s+)?${NAME}`, 'i');

/** The first table a statement names, when it is easy to tell. */
export function sqlTable(sql: string, command: string): string | undefined {
  const body = sql.slice(skipNoise(sql), MAX_SQL);
  let m: RegExpExecArray | null = null;
  switch (command) {
    case 'SELECT':
    case 'DELETE':
    case 'WITH':
      m = FROM_TABLE.exec(body);
      break;
    case 'INSERT':
    case 'REPLACE':
      m = INTO_TABLE.exec(body);
      break;
    case 'UPDATE':
      m = UPDATE_TABLE.exec(body);
      break;
    case 'CREATE':
    case 'DROP':
    case 'ALTER':
      m = DDL_TABLE.exec(body);
      break;
    case 'TRUNCATE':
      m = TRUNCATE_TABLE.exec(body);
      break;
  }
  if (!m) {
    return undefined;
  }
  const name = m[1].replace(/[`"]/g, '').slice(0, 64);
  return name.length ? name : undefined;
}

const TRACEPARENT = /traceparent\s*[=:]\s*['"]?([0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})/i;

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
    const m = TRACEPARENT.exec(sql);
    if (m) {
      const trace: TraceContext = {};
      parseTraceHeader('traceparent', m[1], trace);
      if (trace.traceId) {
        summary.trace = trace;
      }
    }
  }
  return summary;
}
