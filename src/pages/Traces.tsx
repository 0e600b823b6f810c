import React, { useMemo, useState } from 'react';
import { css, cx } from '@emotion/css';
import { dateTimeFormat, type GrafanaTheme2 } from '@grafana/data';
import { PluginPage, locationService } from '@grafana/runtime';
import {
  Alert,
  Button,
  Combobox,
  type ComboboxOption,
  Field,
  Input,
  LoadingPlaceholder,
  useStyles2,
} from '@grafana/ui';
import { DATASOURCE_TYPE, DATASOURCE_UID } from '../components/constants';
import { RESPONSE_STATUSES } from '../shared/schema';
import { TraceView } from '../panels/trace/TracePanel';
import { formatMs } from '../panels/trace/model';
import type { TraceLayout } from '../panels/trace/types';
import { queryFlowLens } from './flowlensQuery';
import { type Loaded, RangeField, Sized, getPageStyles, useAnswer, useLocationSearch } from './pageState';
import {
  type TraceSearchRow,
  type TracesPageState,
  searchOfState,
  searchQuery,
  searchRows,
  stateFromSearch,
  timeRangeOf,
  traceQuery,
} from './traceSearch';

const STATUS_OPTIONS: Array<ComboboxOption<string>> = [
  { value: '', label: 'any' },
  ...RESPONSE_STATUSES.map((s) => ({ value: s, label: s })),
];

/** The trace query looks around its entry request's time (unix s): the trace's other spans are near it. */
const TRACE_WINDOW_S = 3600;

export function Traces() {
  const s = useStyles2(getStyles);
  const search = useLocationSearch();
  const state = useMemo(() => stateFromSearch(search), [search]);
  const [layout, setLayout] = useState<TraceLayout>('tree');
  // each Search click searches again (the same filters over `now-1h` find newer traces)
  const [searches, setSearches] = useState(0);

  const filters = { ...state, rowId: '', time: '' };
  const searchKey = `${JSON.stringify(filters)}#${searches}`;
  const results = useAnswer(searchKey, () => {
    const range = timeRangeOf(state);
    return queryFlowLens(searchQuery(state), range.from.valueOf(), range.to.valueOf());
  });
  const rows = useMemo(() => (results?.state === 'done' ? searchRows(results.frames) : []), [results]);

  const chosen = state.rowId && /^\d+$/.test(state.time) ? `${state.rowId}@${state.time}` : undefined;
  const trace = useAnswer(chosen, () => {
    const t = Number(state.time);
    return queryFlowLens(traceQuery(state.rowId, state.time), (t - TRACE_WINDOW_S) * 1000, (t + TRACE_WINDOW_S) * 1000);
  });

  const choose = (row: TraceSearchRow) =>
    locationService.partial(searchOfState({ ...state, rowId: row.rowId, time: String(row.time) }));

  return (
    <PluginPage>
      <div className={s.page} data-testid="traces-page">
        <SearchForm key={search.toString()} state={state} onSearch={() => setSearches((n) => n + 1)} />
        <ResultList results={results} rows={rows} chosen={state.rowId} onChoose={choose} />
        {chosen && (
          <div data-testid="traces-trace">
            {trace?.state !== 'done' ? (
              <LoadingPlaceholder text="Assembling the trace…" />
            ) : (
              <Sized>
                {(width) => (
                  <TraceView
                    series={trace.frames}
                    errors={trace.error ? [{ message: trace.error, refId: 'A' }] : undefined}
                    datasource={{ uid: DATASOURCE_UID, type: DATASOURCE_TYPE }}
                    width={width}
                    height={760}
                    layout={layout}
                    showHopStrip
                    onLayoutChange={setLayout}
                  />
                )}
              </Sized>
            )}
          </div>
        )}
      </div>
    </PluginPage>
  );
}

/** The filters being edited; a search puts them in the URL (keyed by the URL: back, forward and a shared link reset it). */
function SearchForm({ state, onSearch }: { state: TracesPageState; onSearch: () => void }) {
  const s = useStyles2(getStyles);
  const [draft, setDraft] = useState(state);
  const set = (patch: Partial<TracesPageState>) => setDraft((d) => ({ ...d, ...patch }));
  const submit = () => {
    locationService.partial(searchOfState({ ...draft, rowId: '', time: '' }));
    onSearch();
  };
  return (
    <form
      className={s.form}
      data-testid="traces-form"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <Field label="Service" className={s.field}>
        <Input
          value={draft.service}
          placeholder="any"
          onChange={(e) => set({ service: e.currentTarget.value })}
          width={20}
          data-testid="traces-service"
        />
      </Field>
      <Field label="Endpoint" className={s.field}>
        <Input
          value={draft.endpoint}
          placeholder="any"
          onChange={(e) => set({ endpoint: e.currentTarget.value })}
          width={24}
          data-testid="traces-endpoint"
        />
      </Field>
      <Field label="Status" className={s.field}>
        <Combobox
          id="traces-status"
          options={STATUS_OPTIONS}
          value={draft.status}
          onChange={(v) => set({ status: v.value })}
          width={16}
        />
      </Field>
      <Field label="Min duration (ms)" className={s.field}>
        <Input
          value={draft.minDurationMs}
          type="number"
          min={0}
          width={16}
          onChange={(e) => set({ minDurationMs: e.currentTarget.value })}
          data-testid="traces-min-duration"
        />
      </Field>
      <Field label="Trace id or X-Request-ID" className={s.field}>
        <Input
          value={draft.traceId}
          onChange={(e) => set({ traceId: e.currentTarget.value })}
          width={30}
          data-testid="traces-trace-id"
        />
      </Field>
      <RangeField
        from={draft.from}
        to={draft.to}
        fallback={{ from: 'now-1h', to: 'now' }}
        className={s.field}
        onChange={(from, to) => set({ from, to })}
      />
      <Button type="submit" icon="search" className={s.submit} data-testid="traces-search">
        Search
      </Button>
    </form>
  );
}

function ResultList({
  results,
  rows,
  chosen,
  onChoose,
}: {
  results: Loaded | undefined;
  rows: TraceSearchRow[];
  chosen: string;
  onChoose: (row: TraceSearchRow) => void;
}) {
  const s = useStyles2(getStyles);
  if (!results || results.state === 'loading') {
    return <LoadingPlaceholder text="Searching traces…" />;
  }
  if (results.error) {
    return (
      <Alert severity="error" title="The trace search failed" data-testid="traces-error">
        {results.error}
      </Alert>
    );
  }
  const notices = results.frames.flatMap((f) => f.meta?.notices ?? []);
  return (
    <div className={s.results}>
      {notices.map((n, i) => (
        <div key={i} className={s.notice} data-testid="traces-notice">
          {n.text}
        </div>
      ))}
      {rows.length === 0 ? (
        <div className={s.notice} data-testid="traces-none">
          No trace matches these filters in this time range.
        </div>
      ) : (
        <table className={s.table} data-testid="traces-results" data-rows={rows.length}>
          <thead>
            <tr>
              <th>Start</th>
              <th>Duration</th>
              <th>Entry service</th>
              <th>Endpoint</th>
              <th>Status</th>
              <th>Calls</th>
              <th>Trace</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr
                key={r.rowId}
                className={cx(s.row, r.rowId === chosen && s.chosen)}
                data-testid="traces-result-row"
                data-row-id={r.rowId}
                aria-selected={r.rowId === chosen}
                tabIndex={0}
                onClick={() => onChoose(r)}
                onKeyDown={(e) => e.key === 'Enter' && onChoose(r)}
              >
                <td>{dateTimeFormat(r.startMs, { format: 'YYYY-MM-DD HH:mm:ss.SSS' })}</td>
                <td>{formatMs(r.durationMs)}</td>
                <td>{r.service}</td>
                <td>{r.endpoint}</td>
                <td>
                  {r.status}
                  {r.responseCode ? ` (${r.responseCode})` : ''}
                </td>
                <td>
                  {r.calls}
                  {r.errorCalls > 0 ? ` (${r.errorCalls} failed)` : ''}
                </td>
                <td className={s.id}>{r.traceId || r.requestId || `_id ${r.rowId}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  ...getPageStyles(theme),
  submit: css({ marginBottom: 0 }),
  id: css({ fontFamily: theme.typography.fontFamilyMonospace, color: theme.colors.text.secondary }),
});
