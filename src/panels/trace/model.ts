import type { DataFrame, Field } from '@grafana/data';
import { fieldOf, num, str } from '../frameFields';

/**
 * The trace panel's model of the datasource's `trace` query answer (pkg/plugin/trace.go traceFrames): the
 * `trace` frame (one row per span: Grafana's trace fields, then FlowLens's full-stack fields) and the `verdict`
 * frame (one row per hop, largest critical-path time first, the culprit flagged).
 */

export interface Tag {
  key: string;
  value: unknown;
}

export interface TraceSpan {
  /** row of the span in the trace frame */
  row: number;
  spanID: string;
  parentSpanID: string;
  operationName: string;
  serviceName: string;
  /** ms since the epoch (skew-corrected) */
  startMs: number;
  durationMs: number;
  observationPoint: string;
  host: string;
  process: string;
  pid: number;
  hopKind: string;
  hopLabel: string;
  /** `kind: label`, as the verdict frame's `hop` column names it */
  hop: string;
  selfMs: number;
  criticalMs: number;
  /** the rule that linked the span to its parent (empty for a root) */
  link: string;
  l7Protocol: string;
  responseStatus: string;
  statusCode: number;
  statusMessage: string;
  clockSkewMs: number;
  tags: Tag[];
  warnings: string[];
  /** L4 events of the span's connection (the frame's `logs`: retransmissions, failed connects, resets, client wait) */
  events: SpanEvent[];
  /** TCP retransmissions during the span's call */
  retransmissions: number;
  /** of the span's critical time, waiting on retransmissions (the network path's in the verdict) */
  retransWaitMs: number;
}

/** One log of a span (Grafana's trace `logs`): an L4 event or an exception. */
export interface SpanEvent {
  timeMs: number;
  /** retransmission, connect_failed, reset, zero_window, client_wait; exception */
  kind: string;
  message: string;
  count: number;
  waitMs: number;
}

/** The network evidence of one call of the trace (the verdict's `network` list, pkg/trace CallNet). */
export interface NetEvidence {
  /** the call's network path, `client → server` */
  path: string;
  retransmissions: number;
  retransWaitMs: number;
  criticalWaitMs: number;
  seenAt: string;
  untimedRetransmissions: number;
  failedConnects: number;
  resets: number;
  rstFromServer: boolean;
  ownReset: string;
  zeroWindows: number;
  clientWaitMs: number;
}

export interface HopShare {
  /** `kind: label` */
  hop: string;
  kind: string;
  label: string;
  criticalMs: number;
  /** critical-path time / end-to-end duration (0..1) */
  share: number;
  selfMs: number;
  spans: number;
  culprit: boolean;
}

export interface TraceModel {
  traceID: string;
  /** frame rows, in frame order */
  spans: TraceSpan[];
  /** end-to-end duration of the main root (the verdict's), else the spans' envelope */
  durationMs: number;
  startMs: number;
  endMs: number;
  /** hops, largest critical-path time first (the verdict frame, or computed from the spans without one) */
  hops: HopShare[];
  culprit?: HopShare;
  /** the backend's own one-line summary */
  summary: string;
  truncated: boolean;
  /** assembly warnings and frame notices */
  notices: Array<{ severity: string; text: string }>;
  /** the calls with L4 evidence, largest retransmission wait first */
  network: NetEvidence[];
  /** what lies outside the trace but explains it (a keep-alive client's wait before the request) */
  notes: string[];
  /** the trace frame itself, for the span details (every field of a row) */
  frame?: DataFrame;
}

export const OBSERVATION_POINTS = ['client_process', 'client_nic', 'gateway', 'server_nic', 'server_process'] as const;

/** Where a span was observed, in words. */
export const OBSERVATION_LABEL: Record<string, string> = {
  client_process: 'client process',
  client_nic: 'client NIC',
  gateway: 'gateway',
  server_nic: 'server NIC',
  server_process: 'server process',
};

/** Hop kinds (pkg/trace/verdict.go), in the order a call's time passes them. */
export const HOP_KINDS = ['client_app', 'network', 'gateway', 'server_app', 'dependency'] as const;

export const HOP_KIND_LABEL: Record<string, string> = {
  client_app: 'client process',
  network: 'network',
  gateway: 'gateway',
  server_app: 'server process',
  dependency: 'dependency',
};

/** A JSON field value: the wire format gives parsed JSON, a hand-built frame may hold its text. */
function json(f: Field | undefined, i: number): unknown {
  const v = f?.values[i];
  if (typeof v === 'string') {
    try {
      return JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  return v;
}

function tagsOf(v: unknown): Tag[] {
  if (!Array.isArray(v)) {
    return [];
  }
  return v.filter((t): t is Tag => !!t && typeof t === 'object' && typeof (t as Tag).key === 'string');
}

export function isTraceFrame(f: DataFrame): boolean {
  return f.name === 'trace' || (!!fieldOf(f, 'spanID') && !!fieldOf(f, 'parentSpanID') && !!fieldOf(f, 'startTime'));
}

export function isVerdictFrame(f: DataFrame): boolean {
  return f.name === 'verdict' && !!fieldOf(f, 'hop') && !!fieldOf(f, 'critical_time_ms');
}

export function spansOf(frame: DataFrame): TraceSpan[] {
  const F = (n: string) => fieldOf(frame, n);
  const [spanID, parent, op, svc, start, dur] = [
    'spanID',
    'parentSpanID',
    'operationName',
    'serviceName',
    'startTime',
    'duration',
  ].map(F);
  const [obs, host, proc, pid, hopKind, hop, self, crit] = [
    'observation_point',
    'host',
    'process',
    'pid',
    'hop_kind',
    'hop',
    'self_time_ms',
    'critical_time_ms',
  ].map(F);
  const [link, proto, status, statusCode, statusMsg, skew, tags, warnings, logs, retrans, retransWait] = [
    'link',
    'l7_protocol',
    'response_status',
    'statusCode',
    'statusMessage',
    'clock_skew_correction_ms',
    'tags',
    'warnings',
    'logs',
    'retransmissions',
    'retrans_wait_ms',
  ].map(F);
  const spans: TraceSpan[] = [];
  for (let i = 0; i < frame.length; i++) {
    const kind = str(hopKind, i);
    const label = str(hop, i);
    const w = json(warnings, i);
    spans.push({
      row: i,
      spanID: str(spanID, i),
      parentSpanID: str(parent, i),
      operationName: str(op, i),
      serviceName: str(svc, i),
      startMs: num(start, i),
      durationMs: Math.max(0, num(dur, i)),
      observationPoint: str(obs, i),
      host: str(host, i),
      process: str(proc, i),
      pid: num(pid, i),
      hopKind: kind,
      hopLabel: label,
      hop: kind && label ? `${kind}: ${label}` : kind || label,
      selfMs: num(self, i),
      criticalMs: num(crit, i),
      link: str(link, i),
      l7Protocol: str(proto, i),
      responseStatus: str(status, i),
      statusCode: num(statusCode, i),
      statusMessage: str(statusMsg, i),
      clockSkewMs: num(skew, i),
      tags: tagsOf(json(tags, i)),
      warnings: Array.isArray(w) ? w.map(String) : [],
      events: eventsOf(json(logs, i)),
      retransmissions: num(retrans, i),
      retransWaitMs: num(retransWait, i),
    });
  }
  return spans;
}

/** A span's logs: `[{timestamp, fields: [{key, value}]}]`, the L4 event's kind in `event`. */
function eventsOf(v: unknown): SpanEvent[] {
  if (!Array.isArray(v)) {
    return [];
  }
  const out: SpanEvent[] = [];
  for (const l of v) {
    if (!l || typeof l !== 'object' || !Array.isArray((l as { fields?: unknown }).fields)) {
      continue;
    }
    const f = new Map<string, unknown>();
    for (const kv of (l as { fields: Tag[] }).fields) {
      if (kv && typeof kv.key === 'string') {
        f.set(kv.key, kv.value);
      }
    }
    out.push({
      timeMs: Number((l as { timestamp?: unknown }).timestamp) || 0,
      kind: String(f.get('event') ?? (f.has('exception') ? 'exception' : '')),
      message: String(f.get('message') ?? f.get('exception') ?? ''),
      count: Number(f.get('count') ?? 1) || 1,
      waitMs: Number(f.get('wait_ms') ?? 0) || 0,
    });
  }
  return out;
}

/** The verdict's network evidence (pkg/plugin/trace.go: custom.verdict.network). */
function networkOf(v: unknown): NetEvidence[] {
  if (!Array.isArray(v)) {
    return [];
  }
  const n = (x: unknown) => Number(x) || 0;
  return v
    .filter((x): x is Record<string, unknown> => !!x && typeof x === 'object')
    .map((x) => ({
      path: String(x.path ?? ''),
      retransmissions: n(x.retransmissions),
      retransWaitMs: n(x.retrans_wait_ms),
      criticalWaitMs: n(x.critical_wait_ms),
      seenAt: String(x.seen_at ?? ''),
      untimedRetransmissions: n(x.untimed_retransmissions),
      failedConnects: n(x.failed_connects),
      resets: n(x.resets),
      rstFromServer: x.rst_from_server === true,
      ownReset: String(x.own_reset ?? ''),
      zeroWindows: n(x.zero_windows),
      clientWaitMs: n(x.client_wait_ms),
    }));
}

function hopsOfVerdict(frame: DataFrame): HopShare[] {
  const F = (n: string) => fieldOf(frame, n);
  const [hop, kind, label, crit, share, self, spans, culprit] = [
    'hop',
    'kind',
    'label',
    'critical_time_ms',
    'share',
    'self_time_ms',
    'spans',
    'culprit',
  ].map(F);
  const out: HopShare[] = [];
  for (let i = 0; i < frame.length; i++) {
    out.push({
      hop: str(hop, i),
      kind: str(kind, i),
      label: str(label, i),
      criticalMs: num(crit, i),
      share: num(share, i),
      selfMs: num(self, i),
      spans: num(spans, i),
      culprit: culprit?.values[i] === true,
    });
  }
  return out;
}

/** Each hop's critical-path time and share, summed from the spans (when no verdict frame came). */
export function hopShares(spans: TraceSpan[], durationMs: number): HopShare[] {
  const byHop = new Map<string, HopShare>();
  for (const s of spans) {
    let h = byHop.get(s.hop);
    if (!h) {
      h = {
        hop: s.hop,
        kind: s.hopKind,
        label: s.hopLabel,
        criticalMs: 0,
        share: 0,
        selfMs: 0,
        spans: 0,
        culprit: false,
      };
      byHop.set(s.hop, h);
    }
    h.criticalMs += s.criticalMs;
    h.selfMs += s.selfMs;
    h.spans++;
  }
  const hops = [...byHop.values()];
  for (const h of hops) {
    h.share = durationMs > 0 ? h.criticalMs / durationMs : 0;
  }
  hops.sort((a, b) => b.criticalMs - a.criticalMs || a.hop.localeCompare(b.hop));
  if (hops.length > 0 && hops[0].criticalMs > 0) {
    hops[0].culprit = true;
  }
  return hops;
}

interface VerdictMeta {
  summary?: string;
  duration_ms?: number;
  network?: unknown;
  notes?: unknown;
}

/** Builds the model from a query's frames; undefined when no trace frame is among them. */
export function traceModel(series: DataFrame[]): TraceModel | undefined {
  const frame = series.find(isTraceFrame);
  if (!frame) {
    return undefined;
  }
  const verdictFrame = series.find(isVerdictFrame);
  const custom = (frame.meta?.custom ?? {}) as {
    traceID?: string;
    verdict?: VerdictMeta;
    truncated?: boolean;
    warnings?: string[];
  };
  const spans = spansOf(frame);
  let startMs = Infinity;
  let endMs = -Infinity;
  for (const s of spans) {
    startMs = Math.min(startMs, s.startMs);
    endMs = Math.max(endMs, s.startMs + s.durationMs);
  }
  if (spans.length === 0) {
    startMs = endMs = 0;
  }
  const durationMs =
    custom.verdict?.duration_ms && custom.verdict.duration_ms > 0 ? custom.verdict.duration_ms : endMs - startMs;
  const hops = verdictFrame && verdictFrame.length > 0 ? hopsOfVerdict(verdictFrame) : hopShares(spans, durationMs);
  const notices: TraceModel['notices'] = [];
  for (const n of frame.meta?.notices ?? []) {
    // the verdict and note notices repeat what the panel already puts in words
    if (!n.text.startsWith('Verdict: ') && !n.text.startsWith('Note: ')) {
      notices.push({ severity: n.severity, text: n.text });
    }
  }
  return {
    traceID: String(custom.traceID ?? (spans.length ? str(fieldOf(frame, 'traceID'), 0) : '')),
    spans,
    durationMs,
    startMs,
    endMs,
    hops,
    culprit: hops.find((h) => h.culprit) ?? (hops[0]?.criticalMs > 0 ? hops[0] : undefined),
    summary: custom.verdict?.summary ?? '',
    truncated: custom.truncated === true,
    notices,
    network: networkOf(custom.verdict?.network),
    notes: Array.isArray(custom.verdict?.notes) ? custom.verdict.notes.map(String) : [],
    frame,
  };
}

/** One row of the waterfall: a span, its depth under the roots, its place among its parent's children. */
export interface TreeRow {
  span: TraceSpan;
  depth: number;
  /** direct children */
  children: number;
  /** all spans below it */
  descendants: number;
}

const obsRank = (o: string) => {
  const i = (OBSERVATION_POINTS as readonly string[]).indexOf(o);
  return i < 0 ? OBSERVATION_POINTS.length : i;
};

/** Siblings by start time; at one instant, along the call's path (client process first), then by id. */
export function byStart(a: TraceSpan, b: TraceSpan): number {
  return (
    a.startMs - b.startMs ||
    obsRank(a.observationPoint) - obsRank(b.observationPoint) ||
    a.spanID.localeCompare(b.spanID)
  );
}

/**
 * The spans as a depth-first tree: each span right under its parent, siblings by start. A span whose
 * parent is not in the frame is a root; so is one caught in a parent cycle (the backend refuses cycles,
 * but a panel must not loop on a frame that has one). Linear in the spans (plus the sorts).
 */
export function buildTree(spans: TraceSpan[]): TreeRow[] {
  const byID = new Map<string, TraceSpan>();
  for (const s of spans) {
    if (!byID.has(s.spanID)) {
      byID.set(s.spanID, s);
    }
  }
  const kids = new Map<string, TraceSpan[]>();
  const roots: TraceSpan[] = [];
  for (const s of spans) {
    if (byID.get(s.spanID) !== s) {
      roots.push(s); // a duplicate id: shown, at the top level
      continue;
    }
    const p = s.parentSpanID && s.parentSpanID !== s.spanID ? byID.get(s.parentSpanID) : undefined;
    if (p) {
      const list = kids.get(p.spanID) ?? [];
      list.push(s);
      kids.set(p.spanID, list);
    } else {
      roots.push(s);
    }
  }
  const rows: TreeRow[] = [];
  const placed = new Set<TraceSpan>();
  // iterative DFS (a 2,000-span chain must not overflow the stack)
  const walk = (root: TraceSpan) => {
    const stack: Array<{ span: TraceSpan; depth: number }> = [{ span: root, depth: 0 }];
    const open: TreeRow[] = [];
    while (stack.length) {
      const { span, depth } = stack.pop()!;
      if (placed.has(span)) {
        continue;
      }
      placed.add(span);
      while (open.length > depth) {
        open.pop();
      }
      const children = [...(kids.get(span.spanID) ?? [])].filter((c) => !placed.has(c)).sort(byStart);
      const row: TreeRow = { span, depth, children: children.length, descendants: 0 };
      for (const o of open) {
        o.descendants++;
      }
      rows.push(row);
      open.push(row);
      for (let i = children.length - 1; i >= 0; i--) {
        stack.push({ span: children[i], depth: depth + 1 });
      }
    }
  };
  for (const r of [...roots].sort(byStart)) {
    walk(r);
  }
  // spans only reachable through a cycle: each unplaced one becomes a root of what it still reaches
  const rest = spans.filter((s) => !placed.has(s)).sort(byStart);
  for (const s of rest) {
    walk(s);
  }
  return rows;
}

/** The rows left visible when the subtrees under `collapsed` span ids are folded. */
export function visibleRows(rows: TreeRow[], collapsed: ReadonlySet<string>): TreeRow[] {
  if (collapsed.size === 0) {
    return rows;
  }
  const out: TreeRow[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    out.push(r);
    if (r.descendants > 0 && collapsed.has(r.span.spanID)) {
      i += r.descendants;
    }
  }
  return out;
}

/** A group of the hop view: a hop, its share, its spans by start. */
export interface HopGroup {
  hop: HopShare;
  spans: TraceSpan[];
}

/** The spans grouped by the hop they belong to, hops in the verdict's order (largest critical time first). */
export function groupByHop(model: Pick<TraceModel, 'spans' | 'hops'>): HopGroup[] {
  const groups = new Map<string, HopGroup>();
  for (const h of model.hops) {
    groups.set(h.hop, { hop: h, spans: [] });
  }
  for (const s of model.spans) {
    let g = groups.get(s.hop);
    if (!g) {
      // a hop off the main root's tree (a second root) is not in the verdict
      g = {
        hop: {
          hop: s.hop,
          kind: s.hopKind,
          label: s.hopLabel,
          criticalMs: 0,
          share: 0,
          selfMs: 0,
          spans: 0,
          culprit: false,
        },
        spans: [],
      };
      groups.set(s.hop, g);
    }
    g.spans.push(s);
  }
  const out = [...groups.values()].filter((g) => g.spans.length > 0);
  for (const g of out) {
    g.spans.sort(byStart);
  }
  return out;
}

/** A duration in the unit a reader expects: 850 µs, 12.3 ms, 240 ms, 1.25 s. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) {
    return '';
  }
  const a = Math.abs(ms);
  if (a === 0) {
    return '0 ms';
  }
  if (a < 1) {
    return `${Math.round(ms * 1000)} µs`;
  }
  if (a < 10) {
    return `${trim(ms.toFixed(2))} ms`;
  }
  if (a < 100) {
    return `${trim(ms.toFixed(1))} ms`;
  }
  if (a < 1000) {
    return `${Math.round(ms)} ms`;
  }
  return `${trim((ms / 1000).toFixed(a < 10000 ? 2 : 1))} s`;
}

function trim(n: string): string {
  return n.includes('.') ? n.replace(/\.?0+$/, '') : n;
}

export function formatShare(share: number): string {
  const p = share * 100;
  if (p > 0 && p < 1) {
    return '<1%';
  }
  return `${Math.round(p)}%`;
}

function possessive(name: string): string {
  return /s$/i.test(name) ? `${name}'` : `${name}'s`;
}

/** Splits a network hop's label `client → server`. */
function pairOf(label: string): [string, string] | undefined {
  const i = label.indexOf(' → ');
  return i < 0 ? undefined : [label.slice(0, i), label.slice(i + 3)];
}

/**
 * The verdict in one sentence both a developer and a network engineer read the same way, e.g.
 * "82% of the 240 ms is between checkout's NIC and payments' NIC: network".
 */
export function verdictSentence(
  model: Pick<TraceModel, 'culprit' | 'durationMs' | 'spans'> & { network?: NetEvidence[] }
): string {
  const c = model.culprit;
  if (!c) {
    return '';
  }
  // a network path that retransmitted: the figures the time is made of
  const own =
    c.kind === 'network' ? model.network?.find((n) => n.path === c.label && n.retransmissions > 0) : undefined;
  if (own) {
    return `${verdictSentence({ ...model, network: undefined })}, ${retransFigures(own)}`;
  }
  const head = `${formatShare(c.share)} of the ${formatMs(model.durationMs)} is`;
  switch (c.kind) {
    case 'network': {
      const pair = pairOf(c.label);
      const nic = model.spans.some((s) => s.hop === c.hop && s.observationPoint.endsWith('_nic'));
      if (!pair) {
        return `${head} in the network (${c.label}): network`;
      }
      const [a, b] = pair;
      return nic
        ? `${head} between ${possessive(a)} NIC and ${possessive(b)} NIC: network`
        : `${head} between ${a} and ${b}, outside both processes: network`;
    }
    case 'server_app':
      return `${head} inside ${c.label}: its own processing, not the calls it makes`;
    case 'dependency':
      return `${head} waiting on ${c.label}: a dependency seen from its client only`;
    case 'gateway':
      return `${head} inside the gateway ${c.label}: load balancer or proxy`;
    case 'client_app':
      return `${head} in ${c.label} before its NIC: the client's own process and host stack`;
  }
  return `${head} in ${c.hop || c.label}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "4 retransmissions, 209.7 ms waiting on them" */
export function retransFigures(n: NetEvidence): string {
  return `${plural(n.retransmissions, 'retransmission')}, ${formatMs(n.retransWaitMs)} waiting on them`;
}

/**
 * The network evidence beside the verdict, one line per call with any: retransmissions (and how much of the
 * critical path waited on them), failed connects and resets before the request, its own reset, zero windows.
 * The culprit's own retransmissions are already in the verdict sentence.
 */
export function networkLines(model: Pick<TraceModel, 'culprit' | 'network'>): string[] {
  const out: string[] = [];
  for (const n of model.network) {
    const parts: string[] = [];
    const inSentence = model.culprit?.kind === 'network' && model.culprit.label === n.path;
    if (n.retransmissions > 0 && !inSentence) {
      parts.push(`${retransFigures(n)} (${formatMs(n.criticalWaitMs)} of them on the critical path)`);
    }
    if (n.untimedRetransmissions > 0) {
      parts.push(`${plural(n.untimedRetransmissions, 'retransmission')} counted by the flow log (when is unknown)`);
    }
    const rst = n.rstFromServer ? 'RST from the server' : "RST from the client's side";
    if (n.failedConnects > 0) {
      parts.push(`${plural(n.failedConnects, 'failed connect')} before the request (${rst})`);
    }
    if (n.resets > 0) {
      parts.push(`${plural(n.resets, 'connection')} reset before the request (${rst})`);
    }
    if (n.ownReset) {
      parts.push(`the connection was reset by the ${n.ownReset}`);
    }
    if (n.zeroWindows > 0) {
      parts.push(`${plural(n.zeroWindows, 'zero-window episode')}`);
    }
    if (parts.length > 0) {
      out.push(`${n.path}: ${parts.join('; ')}`);
    }
  }
  return out;
}
