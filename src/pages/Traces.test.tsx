import React from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { of, throwError } from 'rxjs';
import { locationService } from '@grafana/runtime';
import { Traces } from './Traces';
import { DEFAULT_STATE, searchOfState, searchQuery, stateFromSearch, type TracesPageState } from './traceSearch';
// The real plugin binary's answers (test/frontend/record-trace.js --answers-only): a trace search over a minute of
// the demo traced by the real agent, and the trace of its slowest result (a checkout slowed at the backend).
import recordedSearch from '../../test/frontend/fixtures/ds-query-trace-search.json';

// The recorded search (a page not full: no notice) with the notice a full page carries, as the backend words it.
const PAGE_NOTICE =
  'traces of the newest 1000 matching requests (from 2026-12-02T13:47:50Z): narrow the time range or filters';
const searchAnswer: typeof recordedSearch = JSON.parse(JSON.stringify(recordedSearch));
Object.assign(searchAnswer.results.A.frames[0].schema, {
  meta: { notices: [{ severity: 'info', text: PAGE_NOTICE }] },
});
import traceAnswer from '../../test/frontend/fixtures/ds-query-trace-search-trace.json';
import recording from '../../test/frontend/fixtures/ds-query-traces-page.recording.json';

/** A mock of Grafana's backend srv: answers POST /api/ds/query by the query type. */
const mockBackendSrv = { fetch: jest.fn() };

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => mockBackendSrv,
  PluginPage: ({ children }: { children: React.ReactNode }) => children,
}));

type Body = { queries: Array<Record<string, unknown>>; from: string; to: string };

function answerWith(answers: Record<string, unknown>) {
  mockBackendSrv.fetch.mockImplementation(({ data }: { data: Body }) => {
    const a = answers[String(data.queries[0].queryType)];
    return a instanceof Error ? throwError(() => a) : of({ data: a, status: 200, ok: true });
  });
}

function requests(queryType: string): Body[] {
  return mockBackendSrv.fetch.mock.calls
    .map(([o]) => o.data as Body)
    .filter((b) => b.queries[0].queryType === queryType);
}

const chosenTrace = recording.files['ds-query-trace-search-trace.json'].request.queries[0] as {
  row_id: string;
  time: string;
};
const TRACES = '/a/flowlens-observability-app/traces';

beforeEach(() => {
  mockBackendSrv.fetch.mockReset();
  answerWith({ trace_search: searchAnswer, trace: traceAnswer });
  act(() => locationService.push(TRACES));
});

describe('the URL state', () => {
  it('round-trips every field and leaves defaults out of the URL', () => {
    const state: TracesPageState = {
      service: 'backend',
      endpoint: '/api/checkout',
      status: 'server_error',
      minDurationMs: '50',
      traceId: 'req-42',
      from: '1796207400000',
      to: '1796207500000',
      rowId: '2369683781059071',
      time: '1796207481',
    };
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(searchOfState(state))) {
      if (v !== null) {
        params.set(k, v);
      }
    }
    expect(params.toString()).toBe(
      'service=backend&endpoint=%2Fapi%2Fcheckout&status=server_error&minDuration=50&traceId=req-42&from=1796207400000&to=1796207500000&row=2369683781059071&time=1796207481'
    );
    expect(stateFromSearch(params)).toEqual(state);
    expect(searchOfState(DEFAULT_STATE)).toEqual(
      Object.fromEntries(
        ['service', 'endpoint', 'status', 'minDuration', 'traceId', 'from', 'to', 'row', 'time'].map((k) => [k, null])
      )
    );
  });

  it('makes the trace_search query of the filters, nothing for an empty one', () => {
    expect(searchQuery(DEFAULT_STATE)).toEqual({ refId: 'A', queryType: 'trace_search' });
    expect(
      searchQuery({
        ...DEFAULT_STATE,
        service: 'backend',
        status: 'ok',
        minDurationMs: '100',
        traceId: 'abc',
        endpoint: 'GET /x',
      })
    ).toEqual({
      refId: 'A',
      queryType: 'trace_search',
      service: 'backend',
      endpoint: 'GET /x',
      status: 'ok',
      min_duration_ms: '100',
      trace_id: 'abc',
    });
  });
});

describe('the Traces page', () => {
  it('lists the traces the search found, one row each, with the backend notice', async () => {
    render(<Traces />);
    const table = await screen.findByTestId('traces-results');
    const frame = searchAnswer.results.A.frames[0];
    const n = frame.data.values[0].length;
    expect(n).toBe(33); // the 32 warm-up requests and the checkout, each listed once by its gateway request
    expect(screen.getAllByTestId('traces-result-row')).toHaveLength(n);
    expect(table).toHaveAttribute('data-rows', String(n));
    expect(screen.getByTestId('traces-notice')).toHaveTextContent(PAGE_NOTICE);
    // the first row: its entry service, endpoint, status and span count as the frame has them
    const col = (name: string) => frame.data.values[frame.schema.fields.findIndex((f) => f.name === name)] as unknown[];
    const first = within(screen.getAllByTestId('traces-result-row')[0])
      .getAllByRole('cell')
      .map((c) => c.textContent);
    expect(first[2]).toBe(col('service')[0]);
    expect(first[3]).toBe(col('endpoint')[0]);
    expect(first[4]).toContain(String(col('response_status')[0]));
    // a protocol without response codes (stored as -1: Redis, PostgreSQL) shows its status alone
    const code = Number(col('response_code')[0]);
    expect(first[4]).toBe(code < 0 ? String(col('response_status')[0]) : `${col('response_status')[0]} (${code})`);
    expect(first[5]).toBe(String(col('calls')[0]));
    // one search, over the default hour, through /api/ds/query with the FlowLens datasource
    const [req] = requests('trace_search');
    expect(requests('trace_search')).toHaveLength(1);
    expect(mockBackendSrv.fetch.mock.calls[0][0]).toMatchObject({ url: '/api/ds/query', method: 'POST' });
    expect(req.queries[0]).toMatchObject({ refId: 'A', queryType: 'trace_search', datasource: { uid: 'flowlens' } });
    expect(Number(req.to) - Number(req.from)).toBeGreaterThanOrEqual(3600_000);
    expect(Number(req.to) - Number(req.from)).toBeLessThan(3601_000);
    expect(requests('trace')).toHaveLength(0);
  });

  it('puts the form in the URL and queries with it', async () => {
    render(<Traces />);
    await screen.findByTestId('traces-results');
    fireEvent.change(screen.getByTestId('traces-service'), { target: { value: 'backend' } });
    fireEvent.change(screen.getByTestId('traces-endpoint'), { target: { value: 'GET /products' } });
    fireEvent.change(screen.getByTestId('traces-min-duration'), { target: { value: '100' } });
    fireEvent.change(screen.getByTestId('traces-trace-id'), { target: { value: 'req-7' } });
    fireEvent.click(screen.getByTestId('traces-search'));
    await waitFor(() => expect(requests('trace_search')).toHaveLength(2));
    expect(Object.fromEntries(locationService.getSearch())).toEqual({
      service: 'backend',
      endpoint: 'GET /products',
      minDuration: '100',
      traceId: 'req-7',
    });
    // the same filters again: a new search (a relative range finds newer traces)
    fireEvent.click(screen.getByTestId('traces-search'));
    await waitFor(() => expect(requests('trace_search')).toHaveLength(3));
    const [, first, again] = requests('trace_search');
    expect(again.queries).toEqual(first.queries);
    expect(Number(again.to)).toBeGreaterThanOrEqual(Number(first.to)); // now-1h to now, resolved again
    expect(requests('trace_search')[1].queries[0]).toEqual({
      refId: 'A',
      queryType: 'trace_search',
      service: 'backend',
      endpoint: 'GET /products',
      min_duration_ms: '100',
      trace_id: 'req-7',
      datasource: { uid: 'flowlens', type: 'flowlens-clickhouse-datasource' },
      intervalMs: 1000,
      maxDataPoints: 1000,
    });
  });

  it('draws the chosen trace with the trace panel view and puts it in the URL', async () => {
    render(<Traces />);
    await screen.findByTestId('traces-results');
    const row = screen.getAllByTestId('traces-result-row').find((r) => r.dataset.rowId === chosenTrace.row_id);
    expect(row).toBeDefined();
    fireEvent.click(row!);
    expect(locationService.getSearch().get('row')).toBe(chosenTrace.row_id);
    expect(locationService.getSearch().get('time')).toBe(String(chosenTrace.time));
    const rows = await screen.findByTestId('trace-rows');
    expect(rows).toHaveAttribute('data-rows', '36');
    expect(screen.getByTestId('trace-verdict')).toHaveTextContent(/^\d+% of the [\d.]+ m?s is inside backend/);
    expect(
      screen.getAllByTestId('traces-result-row').find((r) => r.dataset.rowId === chosenTrace.row_id)
    ).toHaveAttribute('aria-selected', 'true');
    const [req] = requests('trace');
    expect(req.queries[0]).toMatchObject({
      queryType: 'trace',
      row_id: chosenTrace.row_id,
      time: String(chosenTrace.time),
    });
    expect(Number(req.from)).toBeLessThan(Number(chosenTrace.time) * 1000);
    expect(Number(req.to)).toBeGreaterThan(Number(chosenTrace.time) * 1000);
    // choosing a trace does not search again
    expect(requests('trace_search')).toHaveLength(1);
  });

  it('opens a shared link: filters in the form, the trace drawn without a click', async () => {
    act(() =>
      locationService.push(
        `${TRACES}?service=backend&minDuration=100&row=${chosenTrace.row_id}&time=${chosenTrace.time}`
      )
    );
    render(<Traces />);
    expect(await screen.findByTestId('trace-rows')).toHaveAttribute('data-rows', '36');
    expect(screen.getByTestId('traces-service')).toHaveValue('backend');
    expect(screen.getByTestId('traces-min-duration')).toHaveValue(100);
    expect(requests('trace_search')[0].queries[0]).toMatchObject({ service: 'backend', min_duration_ms: '100' });
  });

  it('shows a refused search with the datasource error, and a failed trace in the trace view', async () => {
    answerWith({
      trace_search: Object.assign(new Error('Bad Request'), {
        status: 400,
        statusText: 'Bad Request',
        data: { results: { A: { error: 'min_duration_ms: not a number', status: 400 } } },
      }),
      trace: Object.assign(new Error('Bad Request'), {
        status: 400,
        statusText: 'Bad Request',
        data: {
          results: { A: { error: 'a trace query needs exactly one of row_id + time or trace_id', status: 400 } },
        },
      }),
    });
    act(() => locationService.push(`${TRACES}?row=1&time=1796207481`));
    render(<Traces />);
    expect(await screen.findByTestId('traces-error')).toHaveTextContent('min_duration_ms: not a number');
    expect(await screen.findByTestId('trace-error')).toHaveTextContent('a trace query needs exactly one of row_id');
  });
});
