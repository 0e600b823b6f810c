import React from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { of, throwError } from 'rxjs';
import { locationService } from '@grafana/runtime';
import {
  Profiling,
  DEFAULT_PROFILING,
  profilingStateOf,
  searchOfProfiling,
  slowestQuery,
  type ProfilingState,
} from './Profiling';
// The real plugin binary's answers to this page's queries over profiles the real agent captured from shape.c
// (record-flamegraph.js): a range starting when work_b grew, its on-CPU and off-CPU graphs, and both compared with
// the range of the same length before it.
import onCpu from '../../test/frontend/fixtures/ds-query-profiling-on_cpu.json';
import offCpu from '../../test/frontend/fixtures/ds-query-profiling-off_cpu.json';
import onDiff from '../../test/frontend/fixtures/ds-query-profiling-on_cpu-diff.json';
import offDiff from '../../test/frontend/fixtures/ds-query-profiling-off_cpu-diff.json';
import recording from '../../test/frontend/fixtures/ds-query-flamegraph.recording.json';
// the same for the page on the HTTP server's process over its five requests (/burn the slowest) and, one click on
// the /wait row, on the thread that served /wait over that request: its CPU (burnCpu) and its block (blockThread)
import serverOn from '../../test/frontend/fixtures/ds-query-profiling-server-on_cpu.json';
import serverOff from '../../test/frontend/fixtures/ds-query-profiling-server-off_cpu.json';
import serverSlowest from '../../test/frontend/fixtures/ds-query-profiling-server-slowest.json';
import threadOn from '../../test/frontend/fixtures/ds-query-profiling-thread-on_cpu.json';
import threadOff from '../../test/frontend/fixtures/ds-query-profiling-thread-off_cpu.json';
import threadSlowest from '../../test/frontend/fixtures/ds-query-profiling-thread-slowest.json';
import shapeSlowest from '../../test/frontend/fixtures/ds-query-profiling-slowest.json';

const mockBackendSrv = { fetch: jest.fn() };

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => mockBackendSrv,
  PluginPage: ({ children }: { children: React.ReactNode }) => children,
}));

type Body = { queries: Array<Record<string, unknown>>; from: string; to: string };
type Request = { url: string; data?: Body };

type Answer = { results: Record<string, { frames: Array<{ data: { values: unknown[][] } }> }> };
const result = (a: unknown) => Object.values((a as Answer).results)[0];

/** A query without what the page and the recorder differ in (refId, what Grafana's request adds), keys sorted. */
const normal = (q: Record<string, unknown>) =>
  JSON.stringify(
    Object.keys(q)
      .filter((k) => !['refId', 'datasource', 'intervalMs', 'maxDataPoints'].includes(k))
      .sort()
      .map((k) => [k, q[k]])
  );

const { files, resources } = recording as unknown as {
  files: Record<string, { request: Body }>;
  resources: Record<string, { http_status: number; body: unknown }>;
};
const ANSWERS: Record<string, unknown> = {
  'ds-query-profiling-server-on_cpu.json': serverOn,
  'ds-query-profiling-server-off_cpu.json': serverOff,
  'ds-query-profiling-server-slowest.json': serverSlowest,
  'ds-query-profiling-thread-on_cpu.json': threadOn,
  'ds-query-profiling-thread-off_cpu.json': threadOff,
  'ds-query-profiling-thread-slowest.json': threadSlowest,
  'ds-query-profiling-slowest.json': shapeSlowest,
};

/** A resource path's parameters, sorted (the page and the recorder may order them differently). */
const sortedParams = (path: string) => {
  const u = new URL(path, 'http://x');
  return `${u.pathname}?${[...u.searchParams.entries()].sort().map(([k, v]) => `${k}=${v}`)}`;
};

/**
 * Answers as the plugin binary did: the shape page's flame graphs by event, compared or not; the HTTP server's
 * recorded requests by their exact query and range; the pickers' recorded resource answers. Anything else is a 500.
 */
function answer() {
  mockBackendSrv.fetch.mockImplementation(({ url, data }: Request) => {
    if (url.includes('/resources/')) {
      const hit = Object.entries(resources).find(([p]) => sortedParams(p) === sortedParams(url));
      return hit
        ? of({ data: hit[1].body, status: hit[1].http_status, ok: true })
        : throwError(() => ({ status: 500, data: { message: `not recorded: ${url}` } }));
    }
    const q = data!.queries[0];
    const file = Object.entries(files).find(
      ([name, rec]) =>
        name in ANSWERS &&
        normal(rec.request.queries[0]) === normal(q) &&
        rec.request.from === data!.from &&
        rec.request.to === data!.to
    )?.[0];
    if (file) {
      return of({ data: { results: { [String(q.refId)]: result(ANSWERS[file]) } }, status: 200, ok: true });
    }
    if (q.queryType !== 'flamegraph') {
      return throwError(() => ({ status: 500, data: { message: `not recorded: ${JSON.stringify(q)}` } }));
    }
    const off = q.event === 'off_cpu';
    const recorded = q.baselineFrom ? (off ? offDiff : onDiff) : off ? offCpu : onCpu;
    return of({ data: { results: { [String(q.refId)]: result(recorded) } }, status: 200, ok: true });
  });
}

/** The flame graph queries' bodies, in order (the slowest requests' and the pickers' apart). */
const bodies = () =>
  mockBackendSrv.fetch.mock.calls
    .map(([o]) => o.data as Body | undefined)
    .filter((b): b is Body => b?.queries[0].queryType === 'flamegraph');
const requests = () => mockBackendSrv.fetch.mock.calls.map(([o]) => o as Request);
const { from: FROM, to: TO } = recording.profilingPage;
/** a recorded graph's root: its value (and its comparison's) */
const root = (a: unknown, field = 1) => Number(result(a).frames[0].data.values[field][0]);
const PROFILING = '/a/flowlens-observability-app/profiling';
/** The page's on-CPU or off-CPU column. */
const column = (event: string) => screen.getAllByTestId('flame-profile').find((c) => c.dataset.event === event)!;

// two flame graphs, a table and four comboboxes in jsdom, on a shared 2-core machine
jest.setTimeout(60_000);
beforeEach(() => {
  mockBackendSrv.fetch.mockReset();
  answer();
});

describe('the Profiling page', () => {
  it('keeps its whole state in the URL, defaults left out', () => {
    const state: ProfilingState = {
      ...DEFAULT_PROFILING,
      process: 'shape',
      tid: '28614',
      from: String(FROM),
      to: String(TO),
      compare: '1',
    };
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(searchOfProfiling(state))) {
      if (v !== null) {
        params.set(k, v);
      }
    }
    expect(params.toString()).toBe(`process=shape&tid=28614&from=${FROM}&to=${TO}&compare=1`);
    expect(profilingStateOf(params)).toEqual(state);
  });

  it('shows the on-CPU and off-CPU flame graphs of the process over the range, and compares with the range before in one click', async () => {
    act(() => locationService.push(`${PROFILING}?process=shape&from=${FROM}&to=${TO}`));
    render(<Profiling />);
    await screen.findByTestId('flamegraph-panel');
    expect(bodies().map((b) => [b.from, b.to, b.queries[0]])).toEqual([
      [
        String(FROM),
        String(TO),
        expect.objectContaining({ refId: 'A', queryType: 'flamegraph', event: 'on_cpu', process: 'shape' }),
      ],
      [
        String(FROM),
        String(TO),
        expect.objectContaining({ refId: 'B', queryType: 'flamegraph', event: 'off_cpu', process: 'shape' }),
      ],
    ]);
    // side by side: where it computed, where it waited
    expect(within(column('on_cpu')).getByTestId('flame-summary')).toHaveTextContent(
      `On-CPU (samples) · ${root(onCpu)} samples`
    );
    expect(within(column('off_cpu')).getByTestId('flame-summary')).toHaveTextContent(
      `Off-CPU (time blocked) · ${(root(offCpu) / 1e9).toFixed(2)} s`
    );

    // one click: the same range against the one of the same length before it
    expect(screen.getByTestId('profiling-compare')).toHaveTextContent(
      `Compare with the previous ${Math.round((TO - FROM) / 1000)} s`
    );
    fireEvent.click(screen.getByTestId('profiling-compare'));
    expect(locationService.getSearchObject().compare).toBe('1');
    await waitFor(() => expect(bodies()).toHaveLength(4));
    expect(bodies()[2].queries[0]).toEqual(
      expect.objectContaining({ event: 'on_cpu', baselineFrom: String(FROM - (TO - FROM)), baselineTo: String(FROM) })
    );
    await waitFor(() =>
      expect(within(column('on_cpu')).getByTestId('flame-summary')).toHaveTextContent(
        `baseline ${root(onDiff)} samples, comparison ${root(onDiff, 4)} samples`
      )
    );
    // work_b grew between the two ranges (3 -> 9 units): the table gives each function's change of share
    const frame = result(onDiff).frames[0].data.values as [number[], number[], number[], string[], number[]];
    const share = (fn: string, col: 1 | 4) =>
      frame[3].reduce((sum, l, i) => (l === fn ? sum + frame[col][i] : sum), 0) / frame[col][0];
    for (const [fn, sign] of [
      ['work_b', '+'],
      ['work_a', '-'],
    ]) {
      const change = ((share(fn, 4) - share(fn, 1)) / share(fn, 1)) * 100;
      expect(change > 0 ? '+' : '-').toBe(sign);
      const row = within(column('on_cpu'))
        .getAllByTestId('flame-top-row')
        .find((r) => r.dataset.label === fn)!;
      expect(within(row).getByTestId('flame-top-change')).toHaveTextContent(
        `${sign === '+' ? '+' : ''}${change.toFixed(0)}%`
      );
    }
  });

  it('the form puts what to profile in the URL', async () => {
    act(() => locationService.push(`${PROFILING}?from=${FROM}&to=${TO}`));
    render(<Profiling />);
    await screen.findByTestId('flamegraph-panel');
    // typed values (jsdom lays nothing out: the virtualised menu draws no option, Enter takes the typed value)
    await userEvent.type(screen.getByTestId('profiling-pid'), '28614{Enter}');
    await userEvent.type(screen.getByTestId('profiling-tid'), '28614{Enter}');
    fireEvent.click(screen.getByTestId('profiling-show'));
    expect(locationService.getSearchObject()).toEqual(expect.objectContaining({ pid: '28614', tid: '28614' }));
    await waitFor(() => expect(bodies()).toHaveLength(4));
    expect(bodies()[3].queries[0]).toEqual(expect.objectContaining({ event: 'off_cpu', pid: '28614', tid: '28614' }));
  });

  it("a request-log row's link (the request's µs) shows the rows of its seconds, and the page's own links drop it", () => {
    const params = new URLSearchParams('pid=7&tid=8&span_start_us=1796229923859018&span_duration_us=1125857');
    const state = profilingStateOf(params);
    // from the second before the start (a profile row is labelled with its drain interval's start) to the end's
    expect(state).toEqual({ ...DEFAULT_PROFILING, pid: '7', tid: '8', from: '1796229922000', to: '1796229924000' });
    expect(searchOfProfiling(state)).toEqual(
      expect.objectContaining({ from: '1796229922000', span_start_us: null, span_duration_us: null })
    );
  });

  const server = (recording as unknown as { profilingServer: { pid: string; from: number; to: number } })
    .profilingServer;
  const thread = (
    recording as unknown as {
      profilingThread: { pid: string; tid: string; from: number; to: number; row_id: string; blockMs: number };
    }
  ).profilingThread;
  const frameOf = (a: unknown) => {
    const f = result(a).frames[0] as unknown as {
      schema: { fields: Array<{ name: string }> };
      data: { values: unknown[][] };
    };
    return (name: string) => f.data.values[f.schema.fields.findIndex((x) => x.name === name)];
  };

  it("lists the server's slowest requests in the range, /burn first; a row opens its thread's on-CPU and off-CPU side by side", async () => {
    act(() => locationService.push(`${PROFILING}?pid=${server.pid}&from=${server.from}&to=${server.to}`));
    render(<Profiling />);
    const table = await screen.findByTestId('profiling-slowest');
    // the request-log query: slowest first, at the server's end, of the process the page shows
    const slow = requests().find((r) => r.data?.queries[0].queryType === 'sql_log')!;
    expect(slow.data!.queries[0]).toEqual(
      expect.objectContaining({ ...slowestQuery({ ...DEFAULT_PROFILING, pid: server.pid }), server_pid: server.pid })
    );
    const col = frameOf(serverSlowest);
    const resources = col('request_resource') as string[];
    expect(resources[0]).toBe('/burn');
    const rows = within(table).getAllByTestId('profiling-slow-row');
    expect(rows.map((r) => within(r).getByTestId('profiling-slow-request').textContent)).toEqual(
      resources.map((p) => `GET ${p}`)
    );
    expect(rows.map((r) => r.dataset.rowId)).toEqual(col('_id'));
    // slowest first
    const ms = (col('response_duration_us') as number[]).map((us) => us / 1000);
    expect([...ms].sort((a, b) => b - a)).toEqual(ms);
    // each row opens its trace on the Traces page
    const start = col('start_time') as number[];
    expect(within(rows[0]).getByTestId('profiling-slow-trace')).toHaveAttribute(
      'href',
      `/a/flowlens-observability-app/traces?from=${server.from}&to=${server.to}&row=${col('_id')[0]}&time=${Math.floor(start[0] / 1000)}`
    );
    // "what was this thread doing" on /wait
    const wait = rows[resources.indexOf('/wait')];
    fireEvent.click(within(wait).getByTestId('profiling-slow-thread'));
    expect(locationService.getSearchObject()).toEqual(
      expect.objectContaining({ pid: thread.pid, tid: thread.tid, from: String(thread.from), to: String(thread.to) })
    );
    await waitFor(() =>
      expect(within(column('off_cpu')).getByTestId('flame-summary')).toHaveTextContent(
        `Off-CPU (time blocked) · ${(root(threadOff) / 1e9).toFixed(2)} s`
      )
    );
    expect(within(column('on_cpu')).getByTestId('flame-summary')).toHaveTextContent(
      `On-CPU (samples) · ${root(threadOn)} samples`
    );
    // its CPU is burnCpu's, its block blockThread's (about 700 ms): each in its own column
    const top = (event: string) =>
      within(column(event))
        .getAllByTestId('flame-top-row')
        .map((r) => r.dataset.label!);
    expect(top('on_cpu')[0]).toMatch(/burnCpu/);
    const blocked = within(column('off_cpu'))
      .getAllByTestId('flame-top-row')
      .find((r) => /blockThread/.test(r.dataset.label!))!;
    const blockedNs = Number(
      (frameOf(threadOff)('value') as number[]).find((_, i) =>
        /blockThread/.test((frameOf(threadOff)('label') as string[])[i])
      )
    );
    expect(blockedNs / 1e6).toBeGreaterThanOrEqual(thread.blockMs);
    expect(blockedNs / 1e6).toBeLessThan(thread.blockMs + 100);
    expect(within(blocked).getByTestId('flame-top-total')).toHaveTextContent(`${(blockedNs / 1e6).toFixed(2)} ms`);
    expect(top('off_cpu').some((l) => /burnCpu/.test(l))).toBe(false);
  });

  it("the pickers list the backend's values in the range, with the page's other filters", async () => {
    act(() => locationService.push(`${PROFILING}?pid=${server.pid}&from=${server.from}&to=${server.to}`));
    render(<Profiling />);
    await screen.findByTestId('profiling-slowest');
    await userEvent.click(screen.getByTestId('profiling-tid'));
    await waitFor(() => expect(requests().some((r) => r.url.includes('profile-values'))).toBe(true));
    const asked = requests().find((r) => r.url.includes('profile-values'))!;
    const params = Object.fromEntries(new URL(asked.url, 'http://x').searchParams);
    expect(params).toEqual({
      field: 'tid',
      event: 'on_cpu',
      from: String(server.from),
      to: String(server.to),
      pid: server.pid,
    });
  });
});
