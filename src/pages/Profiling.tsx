import React, { useMemo, useState } from 'react';
import { css } from '@emotion/css';
import type { DataFrame, GrafanaTheme2 } from '@grafana/data';
import { PluginPage, locationService } from '@grafana/runtime';
import { Button, Field, Input, LoadingPlaceholder, useStyles2 } from '@grafana/ui';
import { FlameGraphProfile } from '../panels/flamegraph/FlameGraphPanel';
import type { FlowLensQuery, ProfileEvent } from '../datasource/types';
import { queryFlowLens } from './flowlensQuery';
import { RangeField, Sized, useAnswer, useLocationSearch } from './pageState';
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
};

export const DEFAULT_PROFILING: ProfilingState = {
  service: '',
  process: '',
  pid: '',
  tid: '',
  from: 'now-15m',
  to: 'now',
  compare: '',
};

/** URL parameter of each state key: its own name. */
const PARAM = Object.fromEntries(Object.keys(DEFAULT_PROFILING).map((k) => [k, k])) as Record<
  keyof ProfilingState,
  string
>;

export function profilingStateOf(search: URLSearchParams): ProfilingState {
  return stateOfParams(search, DEFAULT_PROFILING, PARAM);
}

/** The URL's parameters of a state (defaults and empty values removed: null). */
export function searchOfProfiling(state: ProfilingState): Record<string, string | null> {
  return paramsOfState(state, DEFAULT_PROFILING, PARAM);
}

const EVENTS: Array<{ refId: string; event: ProfileEvent }> = [
  { refId: 'A', event: 'on_cpu' },
  { refId: 'B', event: 'off_cpu' },
];

/** The flame graph queries of a state over [from, to] ms: on-CPU (A) and off-CPU (B), each a diff when comparing. */
export function profilingQueries(state: ProfilingState, from: number, to: number): FlowLensQuery[] {
  return EVENTS.map(({ refId, event }) => {
    const q: FlowLensQuery = { refId, queryType: 'flamegraph', event };
    for (const k of ['service', 'process', 'pid', 'tid'] as const) {
      if (state[k].trim()) {
        q[k] = state[k].trim();
      }
    }
    if (state.compare === '1') {
      q.baselineFrom = String(from - (to - from));
      q.baselineTo = String(from);
    }
    return q;
  });
}

/** FlowLens → Profiling: the flame graph and top functions of a service, process or thread over a range. */
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
  const set = (patch: Partial<ProfilingState>) => locationService.partial(searchOfProfiling({ ...state, ...patch }));
  let spanMs = 0;
  try {
    const r = timeRangeOf(state);
    spanMs = r.to.valueOf() - r.from.valueOf();
  } catch {
    spanMs = 0;
  }
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
                options={{}}
                width={width}
                height={820}
              />
            )}
          </Sized>
        )}
      </div>
    </PluginPage>
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
  const text = (k: 'service' | 'process' | 'pid' | 'tid', label: string, width: number) => (
    <Field label={label} className={s.field}>
      <Input
        value={draft[k]}
        placeholder="any"
        width={width}
        data-testid={`profiling-${k}`}
        onChange={(e) => setField({ [k]: e.currentTarget.value })}
      />
    </Field>
  );
  return (
    <form
      className={s.form}
      data-testid="profiling-form"
      onSubmit={(e) => {
        e.preventDefault();
        onShow(draft);
      }}
    >
      {text('service', 'Service', 20)}
      {text('process', 'Process', 20)}
      {text('pid', 'PID', 12)}
      {text('tid', 'Thread', 12)}
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
  page: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(1.5) }),
  form: css({ display: 'flex', flexWrap: 'wrap', alignItems: 'flex-end', gap: theme.spacing(1) }),
  field: css({ marginBottom: 0, marginRight: theme.spacing(2), flex: '0 0 auto' }),
  submit: css({ marginBottom: 0 }),
  actions: css({ display: 'flex', gap: theme.spacing(1) }),
});
