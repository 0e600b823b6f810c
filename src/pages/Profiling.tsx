import React, { useMemo, useState } from 'react';
import { css } from '@emotion/css';
import { type DataFrame, dateTimeFormat, type GrafanaTheme2 } from '@grafana/data';
import { PluginPage, locationService } from '@grafana/runtime';
import { Alert, Button, Field, LinkButton, LoadingPlaceholder, useStyles2 } from '@grafana/ui';
import { ROUTES, pageUrl } from '../components/constants';
import { profilingHref, spanRange } from '../components/profilingLink';
import { OneTagPicker } from '../datasource/components/FilterPickers';
import { ProfileValuePicker } from '../datasource/components/FlameGraphQueryEditor';
import type { FlamePicker, FlowLensQuery, ProfileEvent } from '../datasource/types';
import { FlameGraphProfile } from '../panels/flamegraph/FlameGraphPanel';
import { formatMs } from '../panels/trace/model';
import { pageTagNames, profileValuesOf, queryFlowLens } from './flowlensQuery';
import { RangeField, Sized, getPageStyles, useAnswer, useLocationSearch } from './pageState';
import { paramsOfState, stateOfParams, timeRangeOf } from './traceSearch';

/** The page's state, all of it in the URL (a link shares the view). */
export type ProfilingState = {
  service: string;
  process: string;
  pid: string;
  tid: string;
  from: string;
  to: string;
  /** '1': the diff against the range of the same length just before */
  compare: string;
  /** a tag whose values are the flame graphs' root frames (each stack under its process's value) */
  roots: string;
};

export const DEFAULT_PROFILING: ProfilingState = {
  service: '',
  process: '',
  pid: '',
  tid: '',
  from: 'now-15m',
  to: 'now',
  compare: '',
  roots: '',
};

/** URL parameter of each state key: its own name. */
const PARAM = Object.fromEntries(Object.keys(DEFAULT_PROFILING).map((k) => [k, k])) as Record<
  keyof ProfilingState,
  string
>;

/**
 * A request's time instead of from/to (a request-log row's link: `span_start_us`, `span_duration_us` in µs): the
 * page shows the profile rows of the request's seconds (spanRange).
 */
const SPAN_PARAMS = ['span_start_us', 'span_duration_us'] as const;

export function profilingStateOf(search: URLSearchParams): ProfilingState {
  const state = stateOfParams(search, DEFAULT_PROFILING, PARAM);
  const start = search.get(SPAN_PARAMS[0]);
  if (start && /^\d+$/.test(start)) {
    const dur = Number(search.get(SPAN_PARAMS[1]) ?? 0) || 0;
    const r = spanRange(Number(start) / 1000, dur / 1000);
    return { ...state, from: String(r.from), to: String(r.to) };
  }
  return state;
}

/** The URL's parameters of a state (defaults and empty values removed: null; a request's time gives way to from/to). */
export function searchOfProfiling(state: ProfilingState): Record<string, string | null> {
  return { ...paramsOfState(state, DEFAULT_PROFILING, PARAM), [SPAN_PARAMS[0]]: null, [SPAN_PARAMS[1]]: null };
}

const EVENTS: Array<{ refId: string; event: ProfileEvent }> = [
  { refId: 'A', event: 'on_cpu' },
  { refId: 'B', event: 'off_cpu' },
];

const PICKERS: Array<{ key: FlamePicker & keyof ProfilingState; label: string }> = [
  { key: 'service', label: 'Service' },
  { key: 'process', label: 'Process' },
  { key: 'pid', label: 'PID' },
  { key: 'tid', label: 'Thread' },
];

/** The state's flame graph filters (service, process, pid, tid) that are set. */
function filtersOf(state: ProfilingState): Partial<Record<'service' | 'process' | 'pid' | 'tid', string>> {
  const out: Partial<Record<'service' | 'process' | 'pid' | 'tid', string>> = {};
  for (const { key } of PICKERS) {
    if (state[key].trim()) {
      out[key] = state[key].trim();
    }
  }
  return out;
}

/** The flame graph queries of a state over [from, to] ms: on-CPU (A) and off-CPU (B), each a diff when comparing. */
export function profilingQueries(state: ProfilingState, from: number, to: number): FlowLensQuery[] {
  return EVENTS.map(({ refId, event }) => {
    const q: FlowLensQuery = { refId, queryType: 'flamegraph', event, ...filtersOf(state) };
    if (state.roots) {
      q.group_by = [state.roots];
    }
    if (state.compare === '1') {
      q.baselineFrom = String(from - (to - from));
      q.baselineTo = String(from);
    }
    return q;
  });
}

/** Slowest requests listed. */
export const SLOWEST_LIMIT = 20;

/**
 * The request-log query of the slowest requests the profiled service or process served in the range: where its
 * flame graph's time went, request by request (the thread is not a request-log filter: a process's requests).
 */
export function slowestQuery(state: ProfilingState): FlowLensQuery {
  const f = filtersOf(state);
  return {
    refId: 'S',
    queryType: 'sql_log',
    format: 'table',
    observation_point: 'server_process',
    order_by: 'duration',
    limit: String(SLOWEST_LIMIT),
    ...(f.service ? { service: f.service } : {}),
    ...(f.process ? { server_process: f.process } : {}),
    ...(f.pid ? { server_pid: f.pid } : {}),
  };
}

/** One row of the slowest requests. */
export interface SlowRequest {
  rowId: string;
  startMs: number;
  durationMs: number;
  request: string;
  status: string;
  service: string;
  pid: string;
  tid: string;
}

/** The rows of the request-log table frame (slowest first, as the query ordered them). */
export function slowRequests(frames: DataFrame[]): SlowRequest[] {
  const frame = frames[0];
  const col = (name: string) => frame?.fields.find((f) => f.name === name)?.values;
  const ids = col('_id');
  if (!ids) {
    return [];
  }
  const text = (name: string, i: number) => {
    const v = col(name)?.[i];
    return v === null || v === undefined ? '' : String(v);
  };
  return ids.map((id, i) => ({
    rowId: String(id),
    startMs: Number(col('start_time')?.[i]),
    durationMs: Number(col('response_duration_us')?.[i]) / 1000,
    request: [text('request_type', i), text('request_resource', i) || text('endpoint', i)].filter(Boolean).join(' '),
    status: [text('response_status', i), Number(text('response_code', i)) >= 0 ? text('response_code', i) : '']
      .filter(Boolean)
      .join(' '),
    service: text('server_service', i),
    pid: text('server_pid', i),
    tid: text('syscall_thread_response', i),
  }));
}

/** FlowLens → Profiling: the flame graphs and top functions of a service, process or thread over a range. */
export function Profiling() {
  const s = useStyles2(getStyles);
  const search = useLocationSearch();
  const state = useMemo(() => profilingStateOf(search), [search]);
  const [runs, setRuns] = useState(0);
  const key = `${JSON.stringify(state)}#${runs}`;
  const answer = useAnswer(key, async () => {
    const range = timeRangeOf(state);
    const [from, to] = [range.from.valueOf(), range.to.valueOf()];
    const answers = await Promise.all(profilingQueries(state, from, to).map((q) => queryFlowLens(q, from, to)));
    const error = answers.map((a) => a.error).find(Boolean);
    // each frame keeps its query's refId: the view tells on-CPU from off-CPU by it
    const frames: DataFrame[] = answers.flatMap((a, i) => a.frames.map((f) => ({ ...f, refId: EVENTS[i].refId })));
    return { frames, error };
  });
  // the slowest requests do not change with the comparison or the roots
  const slowKey = `${JSON.stringify({ ...state, compare: '', roots: '' })}#${runs}`;
  const slowest = useAnswer(slowKey, () => {
    const range = timeRangeOf(state);
    return queryFlowLens(slowestQuery(state), range.from.valueOf(), range.to.valueOf());
  });
  const set = (patch: Partial<ProfilingState>) => locationService.partial(searchOfProfiling({ ...state, ...patch }));
  let spanMs = 0;
  try {
    const r = timeRangeOf(state);
    spanMs = r.to.valueOf() - r.from.valueOf();
  } catch {
    spanMs = 0;
  }
  const what = describe(state);
  return (
    <PluginPage>
      <div className={s.page} data-testid="profiling-page">
        <ProfilingForm key={search.toString()} state={state} onShow={(draft) => (set(draft), setRuns((n) => n + 1))} />
        <div className={s.actions}>
          <Button
            size="sm"
            variant={state.compare === '1' ? 'primary' : 'secondary'}
            icon="exchange-alt"
            data-testid="profiling-compare"
            onClick={() => set({ compare: state.compare === '1' ? '' : '1' })}
          >
            {state.compare === '1'
              ? 'Comparing with the previous range (click to stop)'
              : `Compare with the previous ${formatSpan(spanMs)}`}
          </Button>
          <OneTagPicker
            label="Roots by"
            tooltip="each stack under its process's value of a tag, one root frame per value: compare workloads, containers, teams (a process without the tag: its service)"
            testId="profiling-roots"
            placeholder="none"
            value={state.roots || undefined}
            tags={pageTagNames}
            onChange={(tag) => set({ roots: tag ?? '' })}
          />
        </div>
        {answer?.state !== 'done' ? (
          <LoadingPlaceholder text="Reading the profiles…" />
        ) : (
          <Sized>
            {(width) => (
              <FlameGraphProfile
                series={answer.frames}
                targets={EVENTS}
                errors={answer.error ? [{ message: answer.error }] : undefined}
                options={{ sideBySide: true }}
                width={width}
                height={760}
              />
            )}
          </Sized>
        )}
        <h4 className={s.heading}>Slowest requests {what} in this range</h4>
        <SlowestRequests loaded={slowest} state={state} />
      </div>
    </PluginPage>
  );
}

/** "of checkout (pid 4811)": what the page profiles, for its headings. */
function describe(state: ProfilingState): string {
  const f = filtersOf(state);
  const parts = [f.service, f.process, f.pid && `pid ${f.pid}`].filter(Boolean);
  return parts.length > 0 ? `served by ${parts.join(', ')}` : 'of every service';
}

/** The slowest requests: each opens its trace, or its thread's on-CPU and off-CPU side by side over its time. */
function SlowestRequests({ loaded, state }: { loaded: ReturnType<typeof useAnswer>; state: ProfilingState }) {
  const s = useStyles2(getStyles);
  const rows = useMemo(() => (loaded?.state === 'done' ? slowRequests(loaded.frames) : []), [loaded]);
  if (loaded?.state !== 'done') {
    return <LoadingPlaceholder text="Finding the slowest requests…" />;
  }
  if (loaded.error) {
    return (
      <Alert title="The request log query failed" severity="error" data-testid="profiling-slowest-error">
        {loaded.error}
      </Alert>
    );
  }
  if (rows.length === 0) {
    return (
      <div className={s.notice} data-testid="profiling-slowest-empty">
        No request served in this range.
      </div>
    );
  }
  const range = timeRangeOf(state);
  return (
    <div className={s.results}>
      <table className={s.table} data-testid="profiling-slowest" data-rows={rows.length}>
        <thead>
          <tr>
            <th>Start</th>
            <th>Duration</th>
            <th>Request</th>
            <th>Status</th>
            <th>Service</th>
            <th>PID / thread</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.rowId} data-testid="profiling-slow-row" data-row-id={r.rowId}>
              <td>{dateTimeFormat(r.startMs, { format: 'YYYY-MM-DD HH:mm:ss.SSS' })}</td>
              <td data-testid="profiling-slow-duration">{formatMs(r.durationMs)}</td>
              <td data-testid="profiling-slow-request">{r.request}</td>
              <td>{r.status}</td>
              <td>{r.service}</td>
              <td>
                {r.pid} / {r.tid}
              </td>
              <td className={s.rowActions}>
                <LinkButton
                  size="sm"
                  variant="secondary"
                  icon="gf-traces"
                  data-testid="profiling-slow-trace"
                  href={`${pageUrl(ROUTES.traces)}?${new URLSearchParams({
                    from: String(range.from.valueOf()),
                    to: String(range.to.valueOf()),
                    row: r.rowId,
                    time: String(Math.floor(r.startMs / 1000)),
                  })}`}
                >
                  Trace
                </LinkButton>
                <Button
                  size="sm"
                  variant="secondary"
                  icon="fire"
                  data-testid="profiling-slow-thread"
                  disabled={!r.pid || !r.tid || r.tid === '0'}
                  tooltip="What was this thread doing: its on-CPU and off-CPU flame graphs over this request"
                  onClick={() =>
                    locationService.push(
                      profilingHref({ pid: r.pid, tid: r.tid, ...spanRange(r.startMs, r.durationMs) })
                    )
                  }
                >
                  Thread
                </Button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function formatSpan(ms: number): string {
  if (ms <= 0) {
    return 'range';
  }
  if (ms < 120_000) {
    return `${Math.round(ms / 1000)} s`;
  }
  const min = Math.round(ms / 60000);
  return min < 120 ? `${min} min` : `${Math.round(min / 60)} h`;
}

/** What to profile and when; Show puts it in the URL (keyed by the URL: back, forward and a shared link reset it). */
function ProfilingForm({ state, onShow }: { state: ProfilingState; onShow: (draft: ProfilingState) => void }) {
  const s = useStyles2(getStyles);
  const [draft, setDraft] = useState(state);
  const setField = (patch: Partial<ProfilingState>) => setDraft((d) => ({ ...d, ...patch }));
  // a picker lists the values of the draft's range among the rows its other filters match
  const list = (field: FlamePicker) => () => {
    const r = timeRangeOf(draft);
    return profileValuesOf(field, filtersOf(draft), r.from.valueOf(), r.to.valueOf());
  };
  return (
    <form
      className={s.form}
      data-testid="profiling-form"
      onSubmit={(e) => {
        e.preventDefault();
        onShow(draft);
      }}
    >
      {PICKERS.map(({ key, label }) => {
        const width = key === 'pid' || key === 'tid' ? 18 : 22;
        return (
          <Field key={key} label={label} className={s.field}>
            {/* the combobox fills a box of its own width (given its own, it overflowed its field) */}
            <div style={{ width: width * 8, marginRight: 32 }}>
              <ProfileValuePicker
                field={key}
                value={draft[key]}
                list={list(key)}
                testId={`profiling-${key}`}
                width="parent"
                onChange={(v) => setField({ [key]: v ?? '' })}
              />
            </div>
          </Field>
        );
      })}
      <RangeField
        from={draft.from}
        to={draft.to}
        fallback={DEFAULT_PROFILING}
        className={s.field}
        onChange={(from, to) => setField({ from, to })}
      />
      <Button type="submit" icon="fire" className={s.submit} data-testid="profiling-show">
        Show
      </Button>
    </form>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  ...getPageStyles(theme),
  page: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(1.5) }),
  submit: css({ marginBottom: 0 }),
  actions: css({ display: 'flex', alignItems: 'center', gap: theme.spacing(2) }),
  heading: css({ margin: theme.spacing(1, 0, 0) }),
  rowActions: css({ whiteSpace: 'nowrap', display: 'flex', gap: theme.spacing(0.5) }),
});
