import React, { useMemo } from 'react';
import { css, cx } from '@emotion/css';
import { LoadingState, dateTimeFormat, type GrafanaTheme2, type TimeRange } from '@grafana/data';
import { PanelRenderer, PluginPage, locationService } from '@grafana/runtime';
import { Alert, Button, Field, TimeRangeInput, useStyles2 } from '@grafana/ui';
import { OneTagPicker } from '../datasource/components/FilterPickers';
import { NetProfileView } from '../panels/netprofile/NetProfilePanel';
import { formatMs } from '../panels/trace/model';
import { pageTagNames, queryFlowLens } from './flowlensQuery';
import {
  type EdgeRow,
  type FlowRow,
  type NetworkPageState,
  GROUP_SERIES_METRIC,
  flowGroupRows,
  formatBytes,
  flowQueries,
  flowRows,
  groupQueries,
  networkStateFromSearch,
  profileQuery,
  searchOfNetworkState,
  seriesWithValues,
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
  const grouped = groupQueries(state);
  // grouped by a tag, the flow groups and the series per tag pair take the failing and lossy lists' place
  const failing = useAnswer(state.group ? undefined : `failing|${rangeKey}`, () =>
    queryFlowLens(queries.failing, range.from.valueOf(), range.to.valueOf())
  );
  const lossy = useAnswer(state.group ? undefined : `lossy|${rangeKey}`, () =>
    queryFlowLens(queries.lossy, range.from.valueOf(), range.to.valueOf())
  );
  const groups = useAnswer(state.group ? `groups|${state.group}|${rangeKey}` : undefined, () =>
    queryFlowLens(grouped.flows, range.from.valueOf(), range.to.valueOf())
  );
  const series = useAnswer(state.group ? `series|${state.group}|${rangeKey}` : undefined, () =>
    queryFlowLens(grouped.series, range.from.valueOf(), range.to.valueOf())
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
          <OneTagPicker
            label="Group by"
            tooltip="the flows and the byte rate per pair of the ends' values of a tag (an end without the tag keeps its service name)"
            testId="network-group-by"
            placeholder="none: every flow"
            value={state.group || undefined}
            tags={pageTagNames}
            onChange={(tag) => set({ group: tag ?? '' })}
          />
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
        {state.group ? (
          <>
            <h4>{`Flows by ${state.group}`}</h4>
            <FlowGroups loaded={groups} tag={state.group} />
            <h4>{`Byte rate by ${state.group}`}</h4>
            <GroupSeries loaded={series} tag={state.group} range={range} />
          </>
        ) : (
          <>
            <h4>Failing and lossy flows</h4>
            <FlowList failing={failing} lossy={lossy} state={state} onChoose={choose} />
          </>
        )}
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

/** A section until its answers are in: a loading line, then its first query's error if one failed. */
function NotReady(p: { answers: Array<Loaded | undefined>; reading: string; failed: string; testId?: string }) {
  const error = errorOf(...p.answers);
  if (p.answers.some((a) => a?.state !== 'done') || !error) {
    return <Loading text={p.reading} />;
  }
  return (
    <Alert severity="error" title={p.failed} data-testid={p.testId}>
      {error}
    </Alert>
  );
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
  if (failing?.state !== 'done' || lossy?.state !== 'done' || errorOf(failing, lossy)) {
    return (
      <NotReady
        answers={[failing, lossy]}
        reading="Reading the flow logs…"
        failed="The flow log query failed"
        testId="network-error"
      />
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

/** The flows summed per (client tag, server tag, observation point), most flows first. */
function FlowGroups({ loaded, tag }: { loaded: Loaded | undefined; tag: string }) {
  const s = useStyles2(getStyles);
  if (loaded?.state !== 'done' || loaded.error) {
    return (
      <NotReady
        answers={[loaded]}
        reading="Reading the flow logs…"
        failed="The flow log query failed"
        testId="network-error"
      />
    );
  }
  const rows = flowGroupRows(loaded.frames, tag);
  if (rows.length === 0) {
    return (
      <div className={s.notice} data-testid="network-no-groups">
        No flow in this time range.
      </div>
    );
  }
  return (
    <div className={s.results}>
      <table className={s.table} data-testid="network-groups" data-rows={rows.length}>
        <thead>
          <tr>
            <th>{`Client ${tag}`}</th>
            <th>{`Server ${tag}`}</th>
            <th>Seen at</th>
            <th>Flows</th>
            <th>Failed connections</th>
            <th>Bytes sent / received</th>
            <th>Retransmissions</th>
            <th>RSTs</th>
            <th>Zero windows</th>
            <th>Avg RTT</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={`${r.client}|${r.server}|${r.point}`} data-testid="network-group-row">
              <td>{r.client}</td>
              <td>{r.server}</td>
              <td>{r.point}</td>
              <td>{r.flows}</td>
              <td className={r.failed > 0 ? s.bad : undefined}>{r.failed}</td>
              <td>{`${formatBytes(r.bytesTx)} / ${formatBytes(r.bytesRx)}`}</td>
              <td>{r.retrans}</td>
              <td>{r.rsts}</td>
              <td>{r.zeroWindows}</td>
              <td>{r.rttUs > 0 ? formatMs(r.rttUs / 1000) : '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The network series per pair of tag values (client_<tag>, server_<tag>): their mean and peak over the range. */
/**
 * The byte rate per pair of tag values, drawn by Grafana's own time series panel (PanelRenderer): a legend row per
 * pair with its mean and peak, the busiest first.
 */
const SERIES_GRAPH_OPTIONS = {
  legend: {
    showLegend: true,
    displayMode: 'table',
    placement: 'bottom',
    calcs: ['mean', 'max'],
    sortBy: 'Mean',
    sortDesc: true,
  },
  tooltip: { mode: 'multi', sort: 'desc' },
};
/** bytes/s in IEC units (KiB/s), as the flow table's bytes: an override, as the frames' own unit is above the defaults */
const SERIES_GRAPH_FIELDS = {
  defaults: { custom: { fillOpacity: 10 } },
  overrides: [{ matcher: { id: 'byType', options: 'number' }, properties: [{ id: 'unit', value: 'binBps' }] }],
};

function GroupSeries({ loaded, tag, range }: { loaded: Loaded | undefined; tag: string; range: TimeRange }) {
  const s = useStyles2(getStyles);
  if (loaded?.state !== 'done' || loaded.error) {
    return (
      <NotReady
        answers={[loaded]}
        reading="Reading the network metrics…"
        failed="The network metrics query failed"
        testId="network-series-error"
      />
    );
  }
  const series = seriesWithValues(loaded.frames);
  if (series === 0) {
    return (
      <div className={s.notice} data-testid="network-no-series">
        No network metrics in this time range.
      </div>
    );
  }
  return (
    <div data-testid="network-series-graph" data-metric={GROUP_SERIES_METRIC}>
      <Sized>
        {(width) => (
          <PanelRenderer
            title={`Byte rate by ${tag}`}
            pluginId="timeseries"
            width={width}
            height={240 + 28 * series}
            data={{ series: loaded.frames, state: LoadingState.Done, timeRange: range }}
            options={SERIES_GRAPH_OPTIONS}
            fieldConfig={SERIES_GRAPH_FIELDS}
          />
        )}
      </Sized>
    </div>
  );
}

function EdgeList({ map, onChoose }: { map: Loaded | undefined; onChoose: (e: EdgeRow) => void }) {
  const s = useStyles2(getStyles);
  if (map?.state !== 'done' || map.error) {
    return <NotReady answers={[map]} reading="Reading the edges…" failed="The map query failed" />;
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
