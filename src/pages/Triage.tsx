import React, { useMemo, useState } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { PluginPage, locationService } from '@grafana/runtime';
import { Alert, Badge, Button, Field, Input, LinkButton, LoadingPlaceholder, useStyles2 } from '@grafana/ui';
import { queryFlowLens } from './flowlensQuery';
import { RangeField, getPageStyles, useAnswer, useLocationSearch } from './pageState';
import { timeRangeOf } from './traceSearch';
import {
  DEFAULT_TRIAGE_STATE,
  KIND_LABEL,
  PLACE_LABEL,
  type Suspect,
  type TriagePageState,
  searchOfTriage,
  suspectLinks,
  triageQuery,
  triageRows,
  triageStateOf,
} from './triage';

/**
 * The Triage page: for a service (or the edge from a client to it, or one of its endpoints) over a time range (the
 * fault window, e.g. an alert's), where the problem is: the ranked suspects with their evidence against the window
 * just before, what could not be seen, and links to the data behind each suspect.
 */
export function Triage() {
  const s = useStyles2(getStyles);
  const search = useLocationSearch();
  const state = useMemo(() => triageStateOf(search), [search]);
  const [runs, setRuns] = useState(0);
  let range: ReturnType<typeof timeRangeOf> | undefined;
  let rangeError = '';
  try {
    range = timeRangeOf(state);
  } catch (e) {
    rangeError = e instanceof Error ? e.message : String(e);
  }
  const key =
    state.service && range
      ? `${state.service}|${state.client}|${state.endpoint}|${state.from}|${state.to}|${runs}`
      : undefined;
  const answer = useAnswer(key, () => queryFlowLens(triageQuery(state), range!.from.valueOf(), range!.to.valueOf()));
  const set = (patch: Partial<TriagePageState>) => locationService.partial(searchOfTriage({ ...state, ...patch }));

  return (
    <PluginPage>
      <div className={s.page} data-testid="triage-page">
        <TriageForm key={search.toString()} state={state} onRun={(draft) => (set(draft), setRuns((n) => n + 1))} />
        {rangeError && <Alert severity="error" title={rangeError} />}
        {!state.service ? (
          <div className={s.notice} data-testid="triage-empty">
            Name a service (the server; with a client, the edge between them) and the time range of the problem.
          </div>
        ) : answer?.state !== 'done' ? (
          <LoadingPlaceholder text="Comparing the window with the one before…" />
        ) : answer.error ? (
          <Alert severity="error" title="The triage query failed" data-testid="triage-error">
            {answer.error}
          </Alert>
        ) : (
          <Answer {...triageRows(answer.frames)} state={state} />
        )}
      </div>
    </PluginPage>
  );
}

function Answer({ suspects, notes, state }: { suspects: Suspect[]; notes: string[]; state: TriagePageState }) {
  const s = useStyles2(getStyles);
  const target = `${state.client ? `${state.client} → ` : ''}${state.service}${state.endpoint ? ` ${state.endpoint}` : ''}`;
  return (
    <>
      {suspects.length === 0 ? (
        <Alert severity="success" title={`No suspect for ${target}`} data-testid="triage-none">
          Its figures in this window are within the bounds of the window just before.
        </Alert>
      ) : (
        <div data-testid="triage-suspects">
          <h4>{`Suspects for ${target}, most likely first`}</h4>
          <table className={s.table}>
            <thead>
              <tr>
                <th>#</th>
                <th>Where</th>
                <th>What</th>
                <th>Of</th>
                <th>Score</th>
                <th>Confidence</th>
                <th>Evidence (window against the one before)</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {suspects.map((x) => (
                <tr key={x.rank} data-testid="triage-suspect">
                  <td>{x.rank}</td>
                  <td className={s.strong}>{PLACE_LABEL[x.place] ?? x.place}</td>
                  <td>{x.kind === 'cpu' && x.fn ? `CPU: ${shortFunction(x.fn)}` : (KIND_LABEL[x.kind] ?? x.kind)}</td>
                  <td>{x.client && x.place !== 'client_app' ? `${x.client} → ${x.server}` : x.service}</td>
                  <td>{x.score.toFixed(2)}</td>
                  <td>
                    <Badge
                      text={x.confidence}
                      color={x.confidence === 'high' ? 'green' : x.confidence === 'medium' ? 'orange' : 'red'}
                    />
                  </td>
                  <td className={s.evidence}>{x.evidence}</td>
                  <td className={s.links}>
                    {suspectLinks(x, state).map((l) => (
                      <LinkButton key={l.title} size="sm" variant="secondary" fill="text" href={l.href}>
                        {l.title}
                      </LinkButton>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {notes.length > 0 && (
        <div data-testid="triage-notes">
          <h5>What the triage could not see or tell</h5>
          <ul className={s.notes}>
            {notes.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        </div>
      )}
    </>
  );
}

/** A profiled function's name without its file path (JIT names carry one). */
function shortFunction(fn: string): string {
  return fn.replace(/^JS:[*^~]?/, '').replace(/\s+\/\S+\/([^/\s]+)$/, ' $1');
}

/** What to triage; Triage puts it in the URL (keyed by the URL: back, forward and a shared link reset it). */
function TriageForm({ state, onRun }: { state: TriagePageState; onRun: (draft: TriagePageState) => void }) {
  const s = useStyles2(getStyles);
  const [draft, setDraft] = useState(state);
  const setField = (patch: Partial<TriagePageState>) => setDraft((d) => ({ ...d, ...patch }));
  const text = (k: 'service' | 'client' | 'endpoint', label: string, placeholder: string) => (
    <Field label={label} className={s.field}>
      <Input
        value={draft[k]}
        placeholder={placeholder}
        width={22}
        data-testid={`triage-${k}`}
        onChange={(e) => setField({ [k]: e.currentTarget.value })}
      />
    </Field>
  );
  return (
    <form
      className={s.form}
      data-testid="triage-form"
      onSubmit={(e) => {
        e.preventDefault();
        onRun(draft);
      }}
    >
      {text('service', 'Service', 'the server')}
      {text('client', 'Client', 'any (an edge: its client)')}
      {text('endpoint', 'Endpoint', 'any')}
      <RangeField
        from={draft.from}
        to={draft.to}
        fallback={DEFAULT_TRIAGE_STATE}
        className={s.field}
        onChange={(from, to) => setField({ from, to })}
      />
      <Button type="submit" icon="search" data-testid="triage-run" disabled={!draft.service.trim()}>
        Triage
      </Button>
    </form>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  ...getPageStyles(theme),
  strong: css({ fontWeight: theme.typography.fontWeightMedium, whiteSpace: 'nowrap' }),
  evidence: css({ maxWidth: 640 }),
  links: css({ whiteSpace: 'nowrap' }),
  notes: css({ color: theme.colors.text.secondary, paddingLeft: theme.spacing(2) }),
});
