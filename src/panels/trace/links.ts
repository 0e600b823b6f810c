import type { DataQuery } from '@grafana/schema';
import { profilingHref, spanRange } from '../../components/profilingLink';
import type { TraceSpan } from './model';
import { networkPageHref } from '../../pages/networkFlows';

/**
 * Links from a span to the views of its own issues: the network profile of its flow and the flame graph of
 * the process (thread) that served it over the span's time. Each carries a typed datasource query, opened in
 * Explore with the same datasource, whether or not that target's panel exists yet.
 */

/** The query of a flow's network profile (`queryType: "netprofile"`, a query type still to come): the 5-tuple's ends. */
export interface NetProfileQuery extends DataQuery {
  queryType: 'netprofile';
  client_ip: string;
  client_port: number;
  server_ip: string;
  server_port: number;
  /** the agent host that observed the span: its interfaces hold the flow's packet timeline */
  host?: string;
}

/** The flame graph query (pkg/query/flamegraph.go FlameModel): on-CPU stacks of that pid (and thread) over the range. */
export interface FlameGraphQuery extends DataQuery {
  queryType: 'flamegraph';
  pid: number[];
  tid?: number[];
  host?: string[];
  event: 'on_cpu' | 'off_cpu';
}

export interface SpanLink {
  title: string;
  /** what the link cannot carry, e.g. a field the trace frame lacks */
  note?: string;
  query: NetProfileQuery | FlameGraphQuery;
  /** ms since the epoch */
  from: number;
  to: number;
  href: string;
}

function tag(span: TraceSpan, key: string): string {
  const t = span.tags.find((x) => x.key === key);
  return t === undefined || t.value === null || t.value === undefined ? '' : String(t.value);
}

/** `10.1.2.3:443` or `[::1]:443` / `::1:443` → address and port (port 0 when absent). */
export function splitHostPort(s: string): { ip: string; port: number } {
  const i = s.lastIndexOf(':');
  if (i < 0) {
    return { ip: s, port: 0 };
  }
  const port = Number(s.slice(i + 1));
  const ip = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return Number.isInteger(port) && port >= 0 && port <= 65535 ? { ip, port } : { ip: s, port: 0 };
}

export interface DatasourceRef {
  uid?: string;
  type?: string;
}

/** An Explore URL (Grafana 10+ `panes` form) running `query` on `ds` over [from, to]. */
export function exploreHref(ds: DatasourceRef | undefined, query: DataQuery, from: number, to: number): string {
  const panes = {
    trace: {
      datasource: ds?.uid,
      queries: [{ ...query, refId: 'A', datasource: ds }],
      range: { from: String(from), to: String(to) },
    },
  };
  return `/explore?schemaVersion=1&orgId=1&panes=${encodeURIComponent(JSON.stringify(panes))}`;
}

/** The network profile link, or undefined when the span names no flow (no ports). */
export function netProfileLink(span: TraceSpan, ds: DatasourceRef | undefined): SpanLink | undefined {
  const c = splitHostPort(tag(span, 'client'));
  const s = splitHostPort(tag(span, 'server'));
  if (!c.ip || !s.ip || c.port === 0 || s.port === 0) {
    return undefined;
  }
  const query: NetProfileQuery = {
    refId: 'A',
    queryType: 'netprofile',
    client_ip: c.ip,
    client_port: c.port,
    server_ip: s.ip,
    server_port: s.port,
    ...(span.host ? { host: span.host } : {}),
  };
  // tcp_timeline rows are written when the flow closes, idles or every 60 s: a minute either side finds the row
  const from = Math.floor(span.startMs) - 60_000;
  const to = Math.ceil(span.startMs + span.durationMs) + 60_000;
  return {
    title: `Network profile of ${c.ip}:${c.port} → ${s.ip}:${s.port}`,
    note: 'the trace frame does not say the L4 protocol; the network profile is kept for TCP flows',
    query,
    from,
    to,
    // the Network page with the flow chosen (its profile drawn, its flows listed over the same minutes)
    href: networkPageHref({
      from: String(from),
      to: String(to),
      cip: c.ip,
      cport: String(c.port),
      sip: s.ip,
      sport: String(s.port),
      at: String(Math.ceil(span.startMs + span.durationMs)),
    }),
  };
}

/** A thread id the frame may carry (a `tid` field or tag); the current trace frame has none. */
function threadOf(span: TraceSpan, frameTid: number | undefined): number | undefined {
  const t = frameTid ?? Number(tag(span, 'tid') || NaN);
  return Number.isInteger(t) && t > 0 ? t : undefined;
}

/**
 * The flame graph link of the span's process (and thread when known) over the span's time: on-CPU (where it
 * computed) or off-CPU (where it waited: locks, I/O, sleeps).
 */
export function flameGraphLink(
  span: TraceSpan,
  ds: DatasourceRef | undefined,
  frameTid?: number,
  event: FlameGraphQuery['event'] = 'on_cpu'
): SpanLink | undefined {
  if (!span.pid) {
    return undefined;
  }
  const tid = threadOf(span, frameTid);
  const query: FlameGraphQuery = {
    refId: 'A',
    queryType: 'flamegraph',
    pid: [span.pid],
    ...(tid ? { tid: [tid] } : {}),
    ...(span.host ? { host: [span.host] } : {}),
    event,
  };
  // profile samples are aggregated per second: the rows that hold the span's samples
  const { from, to } = spanRange(span.startMs, span.durationMs);
  return {
    title: `${event === 'off_cpu' ? 'Off-CPU' : 'On-CPU'} flame graph of ${span.process || 'pid'} ${span.pid}${tid ? ` thread ${tid}` : ''} over the span`,
    note: tid ? undefined : 'the trace frame carries no thread id: the flame graph covers every thread of the process',
    query,
    from,
    to,
    href: exploreHref(ds, query, from, to),
  };
}

/**
 * "What was this thread doing": the app's Profiling page with the on-CPU and off-CPU flame graphs of the span's
 * process (and thread) side by side over the span's time; undefined when the span names no process.
 */
export function threadActivityHref(span: TraceSpan, frameTid?: number): string | undefined {
  if (!span.pid) {
    return undefined;
  }
  return profilingHref({ pid: span.pid, tid: threadOf(span, frameTid), ...spanRange(span.startMs, span.durationMs) });
}
