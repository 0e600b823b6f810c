import React from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { of, throwError } from 'rxjs';
import { locationService } from '@grafana/runtime';
import type { DataFrame } from '@grafana/data';
import { Network } from './Network';
import { Profiling } from './Profiling';
import { pageTagNames } from './flowlensQuery';
// The real plugin binary's answers to every request the built Network and Profiling pages made, grouped by team and
// not, over the demo system the real agent traced, captured and profiled, its services tagged by team
// (test/frontend/pages-grouped-run.js --record); `expected` is what that script read from the database directly.
import recording from '../../test/frontend/fixtures/ds-query-pages-grouped.recording.json';

const mockBackendSrv = { fetch: jest.fn() };

// Grafana core sets PanelRenderer at start: here it keeps what the page asked it to draw
const mockPanelRenders: Array<Record<string, any>> = [];
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => mockBackendSrv,
  PluginPage: ({ children }: { children: React.ReactNode }) => children,
  PanelRenderer: (props: Record<string, any>) => {
    mockPanelRenders.push(props);
    return null;
  },
}));

// Grafana's Icon draws through react-inlinesvg: the create-plugin stand-in drops the icon's props, this one keeps
// them (the picker's clear icon is a button: role, title, onClick)
jest.mock('react-inlinesvg', () => ({
  __esModule: true,
  default: ({ src, innerRef, cacheRequests, ...props }: Record<string, unknown>) => (
    <svg data-testid={String(src).replace(/(.+)\/(.+)\.svg$/, '$2')} {...props} />
  ),
}));

type Query = Record<string, unknown>;
type Body = { queries: Query[]; from: string; to: string };
type Request = { url: string; method?: string; data?: Body };

const APP = '/a/flowlens-observability-app';
const { range, expected, answers } = recording;
const TAG = 'team';

/** Keys sorted all the way down: the recorded body and the page's request compared as values. */
const canonical = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(canonical)
    : v && typeof v === 'object'
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, canonical((v as Record<string, unknown>)[k])])
        )
      : v;

/** Replays the recording: the same request (method, path, body) gets its recorded answer; any other one a 500. */
function replay() {
  mockBackendSrv.fetch.mockImplementation(({ url, method, data }: Request) => {
    const m = method ?? 'GET';
    const hit = answers.find(
      (a) =>
        a.request.method === m &&
        a.request.path === url &&
        (m === 'GET' || JSON.stringify(canonical(JSON.parse(a.request.body))) === JSON.stringify(canonical(data)))
    );
    if (!hit || hit.status !== 200) {
      return throwError(() => ({
        status: 500,
        data: { message: `not recorded: ${m} ${url} ${JSON.stringify(data)}` },
      }));
    }
    return of({ data: JSON.parse(hit.body), status: hit.status, ok: true });
  });
}

const queries = (queryType: string): Query[] =>
  mockBackendSrv.fetch.mock.calls
    .map(([o]) => (o as Request).data?.queries[0])
    .filter((q): q is Query => q?.queryType === queryType);

const search = () => new URLSearchParams(locationService.getLocation().search);

const resourcesAsked = () =>
  mockBackendSrv.fetch.mock.calls
    .map(([o]) => (o as Request).url)
    .filter((u) => u.includes('/resources/'))
    .map((u) => u.replace(/^.*\/resources\//, ''));

/**
 * Opens a one-tag picker (it asks the backend's tag names: tag-values and tags), types `tag` and takes it (jsdom lays
 * nothing out: the virtualised menu draws no option, Enter takes the typed value; the browser test reads the options).
 */
async function pick(testId: string, tag: string) {
  const input = screen.getByTestId(testId);
  const before = resourcesAsked().length;
  await userEvent.click(input);
  await waitFor(() => expect(resourcesAsked().slice(before).sort()).toEqual(['tag-values', 'tags']));
  fireEvent.change(input, { target: { value: tag } });
  await act(async () => {});
  await userEvent.keyboard('{Enter}');
}

/** The picker's clear icon (a query by role over the whole page is slow: a flame graph is thousands of boxes). */
const clearOf = (testId: string) =>
  within(screen.getByTestId(testId).closest<HTMLElement>('[data-testid="input-wrapper"]')!).getByRole('button', {
    name: 'Clear value',
  });

/** The backend's tag names as the picker lists them: business tags first, then the resource's (no `<...>` forms). */
function backendTagNames(): string[] {
  const body = (path: string) => JSON.parse(answers.find((a) => a.request.path.endsWith(`/resources/${path}`))!.body);
  const names = (body('tag-values').tags as string[]).filter((t) => !t.includes('<'));
  const business = [...new Set((body('tags').tags as Array<{ key: string }>).map((t) => t.key))].sort();
  return [...business, ...names];
}

beforeEach(() => {
  mockBackendSrv.fetch.mockReset();
  replay();
});

describe('the Network page grouped by a tag, on the plugin binary’s recorded answers', () => {
  const network = `${APP}/network?from=${range.from}&to=${range.to}`;

  it('lists the backend’s tag names, sends exactly the grouped queries, draws the groups and keeps them in the URL', async () => {
    act(() => locationService.push(network));
    render(<Network />);
    await screen.findByText('Failing and lossy flows');
    // the list the pickers offer: the business tag first, then the backend's tag names
    const tags = backendTagNames();
    expect(tags[0]).toBe(TAG);
    expect((await pageTagNames()).map((o) => o.value)).toEqual(tags);
    await pick('network-group-by', TAG);
    await waitFor(() => expect(search().get('group')).toBe(TAG));
    const rows = await screen.findAllByTestId('network-group-row');
    const grouped = queries('flow_log').filter((q) => q.group_by);
    expect(grouped).toHaveLength(1);
    const { datasource, intervalMs, maxDataPoints, ...sent } = grouped[0];
    expect(sent).toEqual({ refId: 'A', queryType: 'flow_log', format: 'table', limit: '100', group_by: [TAG] });
    const series = queries('net_metrics');
    expect(series.map(({ datasource: _d, intervalMs: _i, maxDataPoints: _m, ...q }) => q)).toEqual([
      { refId: 'A', queryType: 'net_metrics', metric: 'byte_rate', group_by: [TAG] },
    ]);
    // one row per (client team, server team, point): the database's own sums
    const drawn = rows
      .map((r) =>
        within(r)
          .getAllByRole('cell')
          .map((c) => c.textContent)
      )
      .map((c) => [c[0], c[1], c[2], Number(c[3]), Number(c[4]), Number(c[6]), Number(c[7])]);
    const want = expected.flowGroups.map((g) => [g.client, g.server, g.point, g.flows, g.failed, g.retrans, g.rsts]);
    const order = (a: unknown[], b: unknown[]) => String(a.slice(0, 3)).localeCompare(String(b.slice(0, 3)));
    expect([...drawn].sort(order)).toEqual([...want].sort(order));
    expect(drawn.map((r) => r[3])).toEqual([...drawn.map((r) => r[3])].sort((a, b) => Number(b) - Number(a)));
    // the byte rate per team pair over time, drawn by Grafana's time series panel: the net_metrics frames as the
    // backend sent them, one per pair of client_team and server_team, busiest first in the legend
    await screen.findByTestId('network-series-graph');
    const graph = mockPanelRenders[mockPanelRenders.length - 1];
    expect(graph.pluginId).toBe('timeseries');
    expect(graph.fieldConfig.overrides[0].properties).toEqual([{ id: 'unit', value: 'binBps' }]);
    expect(graph.options.legend).toMatchObject({
      displayMode: 'table',
      calcs: ['mean', 'max'],
      sortBy: 'Mean',
      sortDesc: true,
    });
    const pairs = graph.data.series.map((f: DataFrame) => {
      const labels = f.fields.find((x) => x.type === 'number')?.labels ?? {};
      return `${labels.client_team}→${labels.server_team}`;
    });
    expect(pairs.sort()).toEqual([...new Set(expected.flowGroups.map((g) => `${g.client}→${g.server}`))].sort());
  }, 20000);

  it('the URL alone draws the groups; clearing the picker removes the grouping from the URL and the queries', async () => {
    act(() => locationService.push(`${network}&group=${TAG}`));
    render(<Network />);
    expect(await screen.findAllByTestId('network-group-row')).toHaveLength(expected.flowGroups.length);
    expect(queries('flow_log').every((q) => JSON.stringify(q.group_by) === JSON.stringify([TAG]))).toBe(true);
    expect(screen.getByTestId('network-group-by')).toHaveValue(TAG);
    const asked = mockBackendSrv.fetch.mock.calls.length;
    await userEvent.click(clearOf('network-group-by'));
    await waitFor(() => expect(search().get('group')).toBeNull());
    await screen.findByText('Failing and lossy flows');
    const after = mockBackendSrv.fetch.mock.calls
      .slice(asked)
      .map(([o]) => (o as Request).data?.queries[0])
      .filter((q) => q?.queryType === 'flow_log');
    expect(after.length).toBe(2); // the failing and the lossy flows
    expect(after.some((q) => q && 'group_by' in q)).toBe(false);
    expect(screen.queryAllByTestId('network-group-row')).toHaveLength(0);
  }, 20000);
});

describe('the Profiling page rooted by a tag, on the plugin binary’s recorded answers', () => {
  const profiling = `${APP}/profiling?from=${range.from}&to=${range.to}`;

  it('one root frame per team; both flame graph queries grouped; the URL keeps it and a clear removes it', async () => {
    act(() => locationService.push(profiling));
    render(<Profiling />);
    await waitFor(() => expect(queries('flamegraph')).toHaveLength(2));
    await pick('profiling-roots', TAG);
    await waitFor(() => expect(search().get('roots')).toBe(TAG));
    await waitFor(() => expect(queries('flamegraph').filter((q) => q.group_by)).toHaveLength(2));
    expect(
      queries('flamegraph')
        .filter((q) => q.group_by)
        .map(({ datasource, intervalMs, maxDataPoints, ...q }) => q)
    ).toEqual([
      { refId: 'A', queryType: 'flamegraph', event: 'on_cpu', group_by: [TAG] },
      { refId: 'B', queryType: 'flamegraph', event: 'off_cpu', group_by: [TAG] },
    ]);
    const onCpu = () => screen.getAllByTestId('flame-profile').find((p) => p.dataset.event === 'on_cpu')!;
    await waitFor(() =>
      expect(
        within(onCpu())
          .getAllByTestId('flame-rect')
          .filter((r) => r.dataset.level === '1')
          .map((r) => r.dataset.label)
          .sort()
      ).toEqual(expected.roots)
    );
    await userEvent.click(clearOf('profiling-roots'));
    await waitFor(() => expect(search().get('roots')).toBeNull());
    const last = queries('flamegraph').slice(-2);
    expect(last.some((q) => 'group_by' in q)).toBe(false);
  }, 20000);
});
