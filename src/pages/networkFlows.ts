import type { DataFrame } from '@grafana/data';
import { CLOSE_TYPES } from '../shared/schema';
import { fieldOf, num, str } from '../panels/frameFields';
import type { FlowLensQuery } from '../datasource/types';
import { ROUTES, pageUrl } from '../components/constants';

/** What the Network page shows, all of it in the URL. */
export interface NetworkPageState {
  /** the time range as Grafana writes it: `now-1h` or epoch ms */
  from: string;
  to: string;
  /** an edge chosen: its flows only */
  client: string;
  server: string;
  /** the chosen flow: its ends and its row's end time (epoch ms) */
  cip: string;
  cport: string;
  sip: string;
  sport: string;
  at: string;
  /** a tag the flows and the network series are grouped by (the ends' values: client <tag>, server <tag>) */
  group: string;
}

export const DEFAULT_NETWORK_STATE: NetworkPageState = {
  from: 'now-1h',
  to: 'now',
  client: '',
  server: '',
  cip: '',
  cport: '',
  sip: '',
  sport: '',
  at: '',
  group: '',
};

const KEYS = Object.keys(DEFAULT_NETWORK_STATE) as Array<keyof NetworkPageState>;

export function networkStateFromSearch(search: URLSearchParams): NetworkPageState {
  const out = { ...DEFAULT_NETWORK_STATE };
  for (const k of KEYS) {
    const v = search.get(k);
    if (v !== null) {
      out[k] = v.trim();
    }
  }
  return out;
}

/** The URL parameters of a state, for locationService.partial: defaults and empty values removed (null). */
export function searchOfNetworkState(state: NetworkPageState): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const k of KEYS) {
    out[k] = state[k] && state[k] !== DEFAULT_NETWORK_STATE[k] ? state[k] : null;
  }
  return out;
}

/** The Network page's URL showing `state` (links from elsewhere: a trace span's flow). */
export function networkPageHref(state: Partial<NetworkPageState>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(searchOfNetworkState({ ...DEFAULT_NETWORK_STATE, ...state }))) {
    if (v !== null) {
      params.set(k, v);
    }
  }
  const q = params.toString();
  return pageUrl(ROUTES.network) + (q ? `?${q}` : '');
}

/** A flow-log query with several close types (the editor's model holds one). */
export type FlowQuery = Omit<FlowLensQuery, 'close_type'> & { close_type?: string | string[] };

/** Close types of flows that failed: never connected, reset, or timed out. */
export const FAILING_CLOSE_TYPES = CLOSE_TYPES.filter((c) => c !== 'normal' && c !== 'still_open');

/** The page's two flow-log queries: the failing flows, and the lossy ones (a retransmission or more). */
export function flowQueries(state: NetworkPageState): { failing: FlowQuery; lossy: FlowQuery } {
  const edge = {
    ...(state.server ? { service: state.server } : {}),
    ...(state.client ? { client_service: state.client } : {}),
  };
  return {
    failing: { refId: 'A', queryType: 'flow_log', close_type: [...FAILING_CLOSE_TYPES], limit: '100', ...edge },
    lossy: { refId: 'A', queryType: 'flow_log', min_retrans: '1', limit: '100', ...edge },
  };
}

/** Byte rate: the network series the page shows per pair of tag values. */
export const GROUP_SERIES_METRIC = 'byte_rate';

/**
 * The page's queries grouped by its tag: the flows summed per (client tag, server tag, observation point), and the
 * byte rate per pair of tag values (series labelled client_<tag>, server_<tag>); the chosen edge filters both.
 */
export function groupQueries(state: NetworkPageState): { flows: FlowLensQuery; series: FlowLensQuery } {
  const edge = {
    ...(state.server ? { service: state.server } : {}),
    ...(state.client ? { client_service: state.client } : {}),
  };
  return {
    flows: { refId: 'A', queryType: 'flow_log', format: 'table', limit: '100', group_by: [state.group], ...edge },
    series: { refId: 'A', queryType: 'net_metrics', metric: GROUP_SERIES_METRIC, group_by: [state.group], ...edge },
  };
}

/** One row of the flows grouped by a tag (pkg/query flowGroups' columns). */
export interface FlowGroupRow {
  client: string;
  server: string;
  point: string;
  flows: number;
  failed: number;
  bytesTx: number;
  bytesRx: number;
  retrans: number;
  rsts: number;
  zeroWindows: number;
  rttUs: number;
}

/** The grouped flow-log table (its ends' fields: client_<tag>, server_<tag>), in the backend's order (most flows first). */
export function flowGroupRows(frames: DataFrame[], tag: string): FlowGroupRow[] {
  const frame = frames[0];
  if (!frame) {
    return [];
  }
  const f = (n: string) => fieldOf(frame, n);
  const out: FlowGroupRow[] = [];
  for (let i = 0; i < frame.length; i++) {
    out.push({
      client: str(f(`client_${tag}`), i),
      server: str(f(`server_${tag}`), i),
      point: str(f('observation_point'), i),
      flows: num(f('flows'), i),
      failed: num(f('conn_failed'), i),
      bytesTx: num(f('byte_tx'), i),
      bytesRx: num(f('byte_rx'), i),
      retrans: num(f('retrans_count'), i),
      rsts: num(f('rst_count'), i),
      zeroWindows: num(f('zero_window_count'), i),
      rttUs: num(f('rtt_avg_us'), i),
    });
  }
  return out;
}

/** The grouped net_metrics series that have a value in the range (one frame per series): the graph's legend rows. */
export function seriesWithValues(frames: DataFrame[]): number {
  return frames.filter((frame) =>
    frame.fields.some((f) => f.type === 'number' && f.values.some((v) => v !== null && v !== undefined))
  ).length;
}

/** Bytes in B, KiB, MiB, GiB (one decimal above bytes). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The network profile query of the chosen flow. */
export function profileQuery(state: NetworkPageState): FlowLensQuery {
  return {
    refId: 'A',
    queryType: 'netprofile',
    client_ip: state.cip,
    client_port: state.cport,
    server_ip: state.sip,
    server_port: state.sport,
  };
}

export interface FlowRow {
  /** the row's key: flow id, observation point, end */
  key: string;
  endMs: number;
  client: string;
  clientIp: string;
  clientPort: string;
  server: string;
  serverIp: string;
  serverPort: string;
  closeType: string;
  rstSender: string;
  retrans: number;
  zeroWindows: number;
  rttUs: number;
  point: string;
  failing: boolean;
}

function rowsOf(frame: DataFrame | undefined, failing: boolean): FlowRow[] {
  if (!frame) {
    return [];
  }
  const f = (n: string) => fieldOf(frame, n);
  const out: FlowRow[] = [];
  for (let i = 0; i < frame.length; i++) {
    const endMs = num(f('end_time'), i);
    out.push({
      key: `${str(f('flow_id'), i)}@${str(f('observation_point'), i)}@${endMs}`,
      endMs,
      client: str(f('client_service'), i),
      clientIp: str(f('client_ip'), i),
      clientPort: str(f('client_port'), i),
      server: str(f('server_service'), i),
      serverIp: str(f('server_ip'), i),
      serverPort: str(f('server_port'), i),
      closeType: str(f('close_type'), i),
      rstSender: str(f('rst_sender'), i),
      retrans: num(f('retrans_count'), i),
      zeroWindows: num(f('zero_window_count'), i),
      rttUs: num(f('rtt_us'), i),
      point: str(f('observation_point'), i),
      failing,
    });
  }
  return out;
}

/** Failing flows first (newest first, as the backend orders them), then the lossy ones, most retransmissions first. */
export function flowRows(failing: DataFrame[], lossy: DataFrame[]): FlowRow[] {
  const out = rowsOf(failing[0], true);
  const seen = new Set(out.map((r) => r.key));
  const more = rowsOf(lossy[0], false).filter((r) => !seen.has(r.key));
  more.sort((a, b) => b.retrans - a.retrans || b.endMs - a.endMs);
  return [...out, ...more];
}

export interface EdgeRow {
  client: string;
  server: string;
  verdict: string;
  retransRatio?: number;
  failed: number;
  rsts: number;
  zeroWindows: number;
  rttMs?: number;
}

/** The map's edges whose network is unhealthy, the worst first: failed connections, then retransmitted share. */
export function unhealthyEdges(mapFrames: DataFrame[]): EdgeRow[] {
  const edges = mapFrames.find((f) => f.name === 'edges');
  if (!edges) {
    return [];
  }
  const f = (n: string) => fieldOf(edges, n);
  const opt = (n: string, i: number) => {
    const v = f(n)?.values[i];
    return v === null || v === undefined ? undefined : Number(v);
  };
  const out: EdgeRow[] = [];
  for (let i = 0; i < edges.length; i++) {
    if (f('highlighted')?.values[i] !== true) {
      continue;
    }
    out.push({
      client: str(f('source'), i),
      server: str(f('target'), i),
      verdict: str(f('detail__network'), i),
      retransRatio: opt('detail__retrans_ratio', i),
      failed: num(f('detail__conn_failed'), i),
      rsts: num(f('detail__rsts'), i),
      zeroWindows: num(f('detail__zero_windows'), i),
      rttMs: opt('detail__rtt_avg', i),
    });
  }
  out.sort((a, b) => b.failed - a.failed || (b.retransRatio ?? 0) - (a.retransRatio ?? 0) || b.rsts - a.rsts);
  return out;
}
