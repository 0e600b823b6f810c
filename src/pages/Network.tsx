import React, { useMemo } from 'react';
import { css, cx } from '@emotion/css';
import { dateTimeFormat, type GrafanaTheme2 } from '@grafana/data';
import { PluginPage, locationService } from '@grafana/runtime';
import { Alert, Button, Field, TimeRangeInput, useStyles2 } from '@grafana/ui';
import { NetProfileView } from '../panels/netprofile/NetProfilePanel';
import { formatMs } from '../panels/trace/model';
import { queryFlowLens } from './flowlensQuery';
import {
  type EdgeRow,
  type FlowRow,
  type NetworkPageState,
  flowQueries,
  flowRows,
  networkStateFromSearch,
  profileQuery,
  searchOfNetworkState,
  unhealthyEdges,
} from './networkFlows';
import { type Loaded, Sized, getPageStyles, useAnswer, useLocationSearch } from './pageState';
import { timeRangeOf, urlTime } from './traceSearch';

/** A flow's profile is looked up a minute either side of its row: timelines are written at close, idle or every 60 s. */
const PROFILE_WINDOW_MS = 60_000;

/**
 * The Network page: the failing and lossy flows first, the client→server edges with the worst network health, and
 * the network profile of the flow chosen (one click from its row); an edge's click keeps the flows to that edge.
 */
export function Network() {
  const s = useStyles2(getStyles);
  const search = useLocationSearch();
  const state = useMemo(() => networkStateFromSearch(search), [search]);
  const range = timeRangeOf(state);
  const rangeKey = `${state.from}|${state.to}|${state.client}|${state.server}`;
  const queries = flowQueries(state);
  const failing = useAnswer(`failing|${rangeKey}`, () =>
    queryFlowLens(queries.failing, range.from.valueOf(), range.to.valueOf())
  );
  const lossy = useAnswer(`lossy|${rangeKey}`, () =>
    queryFlowLens(queries.lossy, range.from.valueOf(), range.to.valueOf())
  );
  const map = useAnswer(`map|${state.from}|${state.to}`, () =>
    queryFlowLens({ refId: 'A', queryType: 'map' }, range.from.valueOf(), range.to.valueOf())
  );
  const chosen = state.cip && state.cport && state.sip && state.sport && /^\d+$/.test(state.at);
  const profileKey = chosen ? `${state.cip}:${state.cport}>${state.sip}:${state.sport}@${state.at}` : undefined;
  const profile = useAnswer(profileKey, () => {
    const at = Number(state.at);
    return queryFlowLens(profileQuery(state), at - PROFILE_WINDOW_MS, at + PROFILE_WINDOW_MS);
  });
  const set = (patch: Partial<NetworkPageState>) =>
    locationService.partial(searchOfNetworkState({ ...state, ...patch }));
  const choose = (r: FlowRow) =>
    set({ cip: r.clientIp, cport: r.clientPort, sip: r.serverIp, sport: r.serverPort, at: String(r.endMs) });

  return (
    <PluginPage>
      <div className={s.page} data-testid="network-page">
        <div className={s.form}>
          <Field label="Time range" className={s.field}>
            <TimeRangeInput
              value={range}
              onChange={(r) => set({ from: urlTime(r.raw.from), to: urlTime(r.raw.to) })}
              hideTimeZone
            />
          </Field>
          {(state.client || state.server) && (
            <Button
              variant="secondary"
              icon="times"
              onClick={() => set({ client: '', server: '' })}
              data-testid="network-edge-filter"
            >
              {`${state.client || 'any'} → ${state.server || 'any'}`}
            </Button>
          )}
        </div>
        <h4>Failing and lossy flows</h4>
        <FlowList failing={failing} lossy={lossy} state={state} onChoose={choose} />
        <h4>Edges with unhealthy network</h4>
        <EdgeList map={map} onChoose={(e) => set({ client: e.client, server: e.server })} />
        {profileKey && (
          <div data-testid="network-profile">
            <h4>{`Network profile of ${state.cip}:${state.cport} → ${state.sip}:${state.sport}`}</h4>
            {profile?.state !== 'done' ? (
              <Loading text="Reading the flow's packets…" />
            ) : (
              <Sized>
                {(width) => (
                  <NetProfileView
                    series={profile.frames}
                    errors={profile.error ? [{ message: profile.error, refId: 'A' }] : undefined}
                    width={width}
                    height={520}
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

/** A line while a query runs (Grafana's LoadingPlaceholder spins an icon Grafana itself serves). */
function Loading({ text }: { text: string }) {
  const s = useStyles2(getStyles);
  return (
    <div className={s.notice} data-testid="network-loading">
      {text}
    </div>
  );
}

function errorOf(...answers: Array<Loaded | undefined>): string | undefined {
  for (const a of answers) {
    if (a?.state === 'done' && a.error) {
      return a.error;
    }
  }
  return undefined;
}

function FlowList({
  failing,
  lossy,
  state,
  onChoose,
}: {
  failing: Loaded | undefined;
  lossy: Loaded | undefined;
  state: NetworkPageState;
  onChoose: (r: FlowRow) => void;
}) {
  const s = useStyles2(getStyles);
  if (failing?.state !== 'done' || lossy?.state !== 'done') {
    return <Loading text="Reading the flow logs…" />;
  }
  const error = errorOf(failing, lossy);
  if (error) {
    return (
      <Alert severity="error" title="The flow log query failed" data-testid="network-error">
        {error}
      </Alert>
    );
  }
  const rows = flowRows(failing.frames, lossy.frames);
  if (rows.length === 0) {
    return (
      <div className={s.notice} data-testid="network-no-flows">
        No failing or lossy flow in this time range.
      </div>
    );
  }
  const isChosen = (r: FlowRow) =>
    r.clientIp === state.cip &&
    r.clientPort === state.cport &&
    r.serverIp === state.sip &&
    r.serverPort === state.sport;
  return (
    <div className={s.results}>
      <table className={s.table} data-testid="network-flows" data-rows={rows.length}>
        <thead>
          <tr>
            <th>End</th>
            <th>Client</th>
            <th>Server</th>
            <th>Close</th>
            <th>Retransmissions</th>
            <th>Zero windows</th>
            <th>RTT</th>
            <th>Seen at</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr
              key={r.key}
              className={cx(s.row, isChosen(r) && s.chosen)}
              data-testid="network-flow-row"
              data-failing={r.failing}
              aria-selected={isChosen(r)}
              tabIndex={0}
              onClick={() => onChoose(r)}
              onKeyDown={(e) => e.key === 'Enter' && onChoose(r)}
            >
              <td>{dateTimeFormat(r.endMs, { format: 'YYYY-MM-DD HH:mm:ss.SSS' })}</td>
              <td>{`${r.client} ${r.clientIp}:${r.clientPort}`}</td>
              <td>{`${r.server} ${r.serverIp}:${r.serverPort}`}</td>
              <td className={r.failing ? s.bad : undefined}>
                {r.closeType}
                {r.rstSender ? ` (RST from the ${r.rstSender})` : ''}
              </td>
              <td>{r.retrans}</td>
              <td>{r.zeroWindows}</td>
              <td>{r.rttUs > 0 ? formatMs(r.rttUs / 1000) : '–'}</td>
              <td>{r.point}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function EdgeList({ map, onChoose }: { map: Loaded | undefined; onChoose: (e: EdgeRow) => void }) {
  const s = useStyles2(getStyles);
  if (map?.state !== 'done') {
    return <Loading text="Reading the edges…" />;
  }
  if (map.error) {
    return (
      <Alert severity="error" title="The map query failed">
        {map.error}
      </Alert>
    );
  }
  const edges = unhealthyEdges(map.frames);
  if (edges.length === 0) {
    return (
      <div className={s.notice} data-testid="network-no-edges">
        No edge with failed connections, retransmissions (1% or more), RSTs or zero windows in this time range.
      </div>
    );
  }
  return (
    <table className={s.table} data-testid="network-edges">
      <thead>
        <tr>
          <th>Client → server</th>
          <th>Network</th>
          <th>Retransmitted</th>
          <th>Failed connections</th>
          <th>RSTs</th>
          <th>Zero windows</th>
          <th>Avg RTT</th>
        </tr>
      </thead>
      <tbody>
        {edges.map((e) => (
          <tr
            key={`${e.client}->${e.server}`}
            className={s.row}
            data-testid="network-edge-row"
            data-edge={`${e.client}->${e.server}`}
            tabIndex={0}
            onClick={() => onChoose(e)}
            onKeyDown={(ev) => ev.key === 'Enter' && onChoose(e)}
          >
            <td>{`${e.client} → ${e.server}`}</td>
            <td className={s.bad}>{e.verdict}</td>
            <td>{e.retransRatio === undefined ? '–' : `${(e.retransRatio * 100).toFixed(1)}%`}</td>
            <td>{e.failed}</td>
            <td>{e.rsts}</td>
            <td>{e.zeroWindows}</td>
            <td>{e.rttMs === undefined ? '–' : formatMs(e.rttMs)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  ...getPageStyles(theme),
  bad: css({ color: theme.colors.error.text }),
});
