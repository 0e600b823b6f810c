import { type DataFrame, dateMath, dateTime, type RawTimeRange, type TimeRange } from '@grafana/data';
import type { FlowLensQuery } from '../datasource/types';

/** What the Traces page shows, all of it in the URL (a trace is shared by its link). */
export interface TracesPageState {
  service: string;
  endpoint: string;
  status: string;
  /** minimum end-to-end duration, ms (text as typed) */
  minDurationMs: string;
  /** a trace id or an X-Request-ID */
  traceId: string;
  /** the time range as Grafana writes it: `now-1h` or epoch ms */
  from: string;
  to: string;
  /** the chosen trace: its entry request's row id and time (unix s) */
  rowId: string;
  time: string;
}

export const DEFAULT_STATE: TracesPageState = {
  service: '',
  endpoint: '',
  status: '',
  minDurationMs: '',
  traceId: '',
  from: 'now-1h',
  to: 'now',
  rowId: '',
  time: '',
};

/** URL search parameter of each state key. */
const PARAM: Record<keyof TracesPageState, string> = {
  service: 'service',
  endpoint: 'endpoint',
  status: 'status',
  minDurationMs: 'minDuration',
  traceId: 'traceId',
  from: 'from',
  to: 'to',
  rowId: 'row',
  time: 'time',
};

/** A page's state read from the URL: each key from its parameter (`param`), the default where absent. */
export function stateOfParams<T extends { [K in keyof T]: string }>(
  search: URLSearchParams,
  defaults: T,
  param: Record<keyof T, string>
): T {
  const out = { ...defaults };
  for (const k of Object.keys(param) as Array<keyof T>) {
    const v = search.get(param[k]);
    if (v !== null) {
      out[k] = v.trim() as T[keyof T];
    }
  }
  return out;
}

/** The URL parameters of a page's state, for locationService.partial: defaults and empty values are removed (null). */
export function paramsOfState<T extends { [K in keyof T]: string }>(
  state: T,
  defaults: T,
  param: Record<keyof T, string>
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const k of Object.keys(param) as Array<keyof T>) {
    const v = state[k].trim();
    out[param[k]] = v === '' || v === defaults[k] ? null : v;
  }
  return out;
}

export function stateFromSearch(search: URLSearchParams): TracesPageState {
  return stateOfParams(search, DEFAULT_STATE, PARAM);
}

/** The URL parameters of a state, for locationService.partial: defaults and empty values are removed (null). */
export function searchOfState(state: TracesPageState): Record<string, string | null> {
  return paramsOfState(state, DEFAULT_STATE, PARAM);
}

/** The page's time range as a TimeRange (relative ends resolved now). */
export function timeRangeOf(state: Pick<TracesPageState, 'from' | 'to'>): TimeRange {
  const raw = { from: rawTime(state.from), to: rawTime(state.to) };
  const from = dateMath.toDateTime(raw.from, { roundUp: false });
  const to = dateMath.toDateTime(raw.to, { roundUp: true });
  if (!from?.isValid() || !to?.isValid()) {
    throw new Error(`not a time range: ${state.from} to ${state.to}`);
  }
  return { from, to, raw: raw as RawTimeRange };
}

/** `now-1h` stays relative; epoch ms becomes a date. */
function rawTime(v: string) {
  return /^\d+$/.test(v) ? dateTime(Number(v)) : v;
}

/** A range picked in the time picker, as the URL keeps it. */
export function urlTime(v: TimeRange['raw']['from']): string {
  return typeof v === 'string' ? v : String(v.valueOf());
}

/** The datasource's trace_search query of the form. */
export function searchQuery(state: TracesPageState): FlowLensQuery {
  const q: FlowLensQuery = { refId: 'A', queryType: 'trace_search' };
  if (state.service) {
    q.service = state.service;
  }
  if (state.endpoint) {
    q.endpoint = state.endpoint;
  }
  if (state.status) {
    q.status = state.status;
  }
  if (state.minDurationMs) {
    q.min_duration_ms = state.minDurationMs;
  }
  if (state.traceId) {
    // the backend matches it against trace_id and x_request_id
    q.trace_id = state.traceId;
  }
  return q;
}

/** The datasource's trace query of the chosen trace. */
export function traceQuery(rowId: string, time: string): FlowLensQuery {
  return { refId: 'A', queryType: 'trace', row_id: rowId, time };
}

/** One trace of a search: its entry request. */
export interface TraceSearchRow {
  rowId: string;
  /** unix seconds, the trace query's `time` */
  time: number;
  startMs: number;
  durationMs: number;
  service: string;
  endpoint: string;
  clientService: string;
  status: string;
  /** '' where the protocol has no response code (stored as -1: Redis, PostgreSQL, ...) */
  responseCode: string;
  /** the requests of the trace at server_process, its root included */
  calls: number;
  errorCalls: number;
  traceId: string;
  requestId: string;
  culprit: string;
}

/** The rows of the trace_search `traces` frame. */
export function searchRows(frames: DataFrame[]): TraceSearchRow[] {
  const frame = frames.find((f) => f.name === 'traces') ?? frames[0];
  if (!frame) {
    return [];
  }
  const col = (name: string) => frame.fields.find((f) => f.name === name)?.values;
  const ids = col('_id');
  if (!ids) {
    return [];
  }
  const at = (name: string) => {
    const v = col(name);
    return (i: number) => v?.[i];
  };
  const [time, start, dur, svc, ep, cli, st, code, calls, errs, tid, xid, culprit] = [
    'time',
    'start_time',
    'duration_us',
    'service',
    'endpoint',
    'client_service',
    'response_status',
    'response_code',
    'calls',
    'error_calls',
    'trace_id',
    'x_request_id',
    'culprit',
  ].map(at);
  const text = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  return ids.map((id, i) => ({
    rowId: String(id),
    time: Math.floor(Number(time(i)) / 1000),
    startMs: Number(start(i)),
    durationMs: Number(dur(i)) / 1000,
    service: text(svc(i)),
    endpoint: text(ep(i)),
    clientService: text(cli(i)),
    status: text(st(i)),
    responseCode: Number(code(i)) < 0 ? '' : text(code(i)),
    calls: Number(calls(i) ?? 0),
    errorCalls: Number(errs(i) ?? 0),
    traceId: text(tid(i)),
    requestId: text(xid(i)),
    culprit: text(culprit(i)),
  }));
}
