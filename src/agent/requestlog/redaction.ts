// Secrets never leave the agent: values of sensitive parameters in resources (URL query strings,
// SQL, commands) and exception texts are replaced by *** before a row is queued. Headers such as
// Authorization and Cookie are never stored at all; parsers redact handshake credentials themselves.

/** Parameter names whose values are secrets, in query strings, form bodies and key=value texts. */
const SENSITIVE = 'password|passwd|pwd|pass|token|access_token|refresh_token|id_token|api_key|apikey|secret|client_secret|auth|authorization|session|sessionid|sig|signature|credential|private_key';
export const DEFAULT_REDACTIONS = [`(^|[?&;\\s,])((?:${SENSITIVE})=)[^&#\\s;,]*`];

/** Texts with a '=' redacted lately: the same resource comes back at both ends of a call and from
 * every client of an endpoint, and a map lookup is cheaper than the patterns. */
const MEMO_SIZE = 4096;

export class Redactor {
  private readonly patterns: RegExp[];
  private memo = new Map<string, string>();

  /** `extra` are user patterns (regular expressions); a match is replaced by *** whole. */
  constructor(extra: string[] = []) {
    this.patterns = [new RegExp(DEFAULT_REDACTIONS[0], 'gi'), ...extra.map((p) => new RegExp(p, 'g'))];
  }

  redact(text: string): string {
    // the built-in pattern needs a '=': most paths and SQL texts are left without running it
    const hasEquals = text.indexOf('=') >= 0;
    if (this.patterns.length === 1 && !hasEquals) {
      return text;
    }
    let out = this.memo.get(text);
    if (out !== undefined) {
      return out;
    }
    out = hasEquals ? text.replace(this.patterns[0], '$1$2***') : text;
    for (let i = 1; i < this.patterns.length; i++) {
      out = out.replace(this.patterns[i], '***');
    }
    if (this.memo.size >= MEMO_SIZE) {
      this.memo = new Map(); // bounded: start over rather than track ages
    }
    this.memo.set(text, out);
    return out;
  }
}
