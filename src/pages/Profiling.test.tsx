import React from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { of } from 'rxjs';
import { locationService } from '@grafana/runtime';
import { Profiling, DEFAULT_PROFILING, profilingStateOf, searchOfProfiling, type ProfilingState } from './Profiling';
// The real plugin binary's answers to this page's queries over profiles the real agent captured from shape.c
// (record-flamegraph.js): a range starting when work_b grew, its on-CPU and off-CPU graphs, and both compared with
// the range of the same length before it.
import onCpu from '../../test/frontend/fixtures/ds-query-profiling-on_cpu.json';
import offCpu from '../../test/frontend/fixtures/ds-query-profiling-off_cpu.json';
import onDiff from '../../test/frontend/fixtures/ds-query-profiling-on_cpu-diff.json';
import offDiff from '../../test/frontend/fixtures/ds-query-profiling-off_cpu-diff.json';
import recording from '../../test/frontend/fixtures/ds-query-flamegraph.recording.json';

const mockBackendSrv = { fetch: jest.fn() };

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => mockBackendSrv,
  PluginPage: ({ children }: { children: React.ReactNode }) => children,
}));

type Body = { queries: Array<Record<string, unknown>>; from: string; to: string };

type Answer = { results: Record<string, { frames: Array<{ data: { values: unknown[][] } }> }> };
const result = (a: unknown) => Object.values((a as Answer).results)[0];

/** Answers each flame graph query as the plugin binary did: by event, compared or not. */
function answer() {
  mockBackendSrv.fetch.mockImplementation(({ data }: { data: Body }) => {
    const q = data.queries[0];
    const off = q.event === 'off_cpu';
    const recorded = q.baselineFrom ? (off ? offDiff : onDiff) : off ? offCpu : onCpu;
    return of({ data: { results: { [String(q.refId)]: result(recorded) } }, status: 200, ok: true });
  });
}

const bodies = () => mockBackendSrv.fetch.mock.calls.map(([o]) => o.data as Body);
const { from: FROM, to: TO } = recording.profilingPage;
/** a recorded graph's root: its value (and its comparison's) */
const root = (a: unknown, field = 1) => Number(result(a).frames[0].data.values[field][0]);
const PROFILING = '/a/flowlens-observability-app/profiling';

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
    expect(screen.getByTestId('flame-summary')).toHaveTextContent(`On-CPU (samples) · ${root(onCpu)} samples`);
    fireEvent.click(screen.getByLabelText('Off-CPU (time blocked)'));
    expect(screen.getByTestId('flame-summary')).toHaveTextContent(
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
      expect(screen.getByTestId('flame-summary')).toHaveTextContent(
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
      const row = screen.getAllByTestId('flame-top-row').find((r) => r.dataset.label === fn)!;
      expect(within(row).getByTestId('flame-top-change')).toHaveTextContent(
        `${sign === '+' ? '+' : ''}${change.toFixed(0)}%`
      );
    }
  });

  it('the form puts what to profile in the URL', async () => {
    act(() => locationService.push(`${PROFILING}?from=${FROM}&to=${TO}`));
    render(<Profiling />);
    await screen.findByTestId('flamegraph-panel');
    fireEvent.change(screen.getByTestId('profiling-pid'), { target: { value: '28614' } });
    fireEvent.change(screen.getByTestId('profiling-tid'), { target: { value: '28614' } });
    fireEvent.click(screen.getByTestId('profiling-show'));
    expect(locationService.getSearchObject()).toEqual(expect.objectContaining({ pid: '28614', tid: '28614' }));
    await waitFor(() => expect(bodies()).toHaveLength(4));
    expect(bodies()[3].queries[0]).toEqual(expect.objectContaining({ event: 'off_cpu', pid: '28614', tid: '28614' }));
  });
});
