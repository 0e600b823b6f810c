import React from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { of } from 'rxjs';
import { locationService } from '@grafana/runtime';
import { Profiling, DEFAULT_PROFILING, profilingStateOf, searchOfProfiling, type ProfilingState } from './Profiling';
// The real plugin binary's answers over profiles the real agent captured from shape.c (record-flamegraph.js): its
// on-CPU and off-CPU graphs, and the diff after work_b grew against before.
import onCpu from '../../test/frontend/fixtures/ds-query-flamegraph.json';
import offCpu from '../../test/frontend/fixtures/ds-query-flamegraph-offcpu.json';
import diff from '../../test/frontend/fixtures/ds-query-flamegraph-diff.json';

const mockBackendSrv = { fetch: jest.fn() };

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => mockBackendSrv,
  PluginPage: ({ children }: { children: React.ReactNode }) => children,
}));

type Body = { queries: Array<Record<string, unknown>>; from: string; to: string };

/** Answers each flame graph query as the plugin binary did: the diff when it has a baseline, else by event. */
function answer() {
  mockBackendSrv.fetch.mockImplementation(({ data }: { data: Body }) => {
    const q = data.queries[0];
    const recorded = q.baselineFrom ? diff : q.event === 'off_cpu' ? offCpu : onCpu;
    const results = { [String(q.refId)]: recorded.results.A };
    return of({ data: { results }, status: 200, ok: true });
  });
}

const bodies = () => mockBackendSrv.fetch.mock.calls.map(([o]) => o.data as Body);
const FROM = 1796220193000;
const TO = 1796220201000;
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
    const root = onCpu.results.A.frames[0].data.values[1][0];
    expect(screen.getByTestId('flame-summary')).toHaveTextContent(`On-CPU (samples) · ${root} samples`);
    fireEvent.click(screen.getByLabelText('Off-CPU (time blocked)'));
    expect(screen.getByTestId('flame-summary')).toHaveTextContent('Off-CPU (time blocked) · 7.19 s');

    // one click: the same range against the 8 s before it
    expect(screen.getByTestId('profiling-compare')).toHaveTextContent('Compare with the previous 8 s');
    fireEvent.click(screen.getByTestId('profiling-compare'));
    expect(locationService.getSearchObject().compare).toBe('1');
    await waitFor(() => expect(bodies()).toHaveLength(4));
    expect(bodies()[2].queries[0]).toEqual(
      expect.objectContaining({ event: 'on_cpu', baselineFrom: String(FROM - (TO - FROM)), baselineTo: String(FROM) })
    );
    await waitFor(() =>
      expect(screen.getByTestId('flame-summary')).toHaveTextContent('baseline 231 samples, comparison 227 samples')
    );
    const workB = within(screen.getByTestId('flame-graph'))
      .getAllByTestId('flame-rect')
      .filter((r) => r.dataset.label === 'work_b');
    expect(workB.length).toBeGreaterThan(0);
    expect(workB.every((r) => Number(r.dataset.change) > 0)).toBe(true);
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
