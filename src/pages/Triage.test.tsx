import React from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { of } from 'rxjs';
import { locationService } from '@grafana/runtime';
import { Triage } from './Triage';
import { triageQuery, triageStateOf } from './triage';
// The real plugin binary's answers over rows the real agent captured in the triage test bed
// (test/frontend/record-triage.js): the triage of each scenario's window.
import recording from '../../test/frontend/fixtures/ds-query-triage.recording.json';
import controlAnswer from '../../test/frontend/fixtures/ds-query-triage-control.json';
import databaseAnswer from '../../test/frontend/fixtures/ds-query-triage-slow_database.json';
import refusedAnswer from '../../test/frontend/fixtures/ds-query-triage-refused.json';
import waitAnswer from '../../test/frontend/fixtures/ds-query-triage-client_wait.json';
import cpuAnswer from '../../test/frontend/fixtures/ds-query-triage-cpu_bound.json';
import errorAnswer from '../../test/frontend/fixtures/ds-query-triage-error.json';

const mockBackendSrv = { fetch: jest.fn() };

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => mockBackendSrv,
  PluginPage: ({ children }: { children: React.ReactNode }) => children,
}));

type Query = Record<string, unknown>;
type Body = { queries: Query[]; from: string; to: string };

const TRIAGE = '/a/flowlens-observability-app/triage';
const scenario = (name: string) => recording.scenarios.find((s) => s.name === name)!;

/** The page's URL for a scenario's window (its seconds, inclusive, as the recording asked). */
function open(name: string, answer: unknown) {
  const s = scenario(name);
  mockBackendSrv.fetch.mockImplementation(() => of({ data: answer, status: 200, ok: true }));
  const client = 'client_service' in s.target ? `&client=${s.target.client_service}` : '';
  act(() =>
    locationService.push(
      `${TRIAGE}?service=${s.target.service}${client}&from=${s.window.from * 1000}&to=${(s.window.to - 1) * 1000}`
    )
  );
}

function requests(): Body[] {
  return mockBackendSrv.fetch.mock.calls.map(([o]) => o.data as Body);
}

beforeEach(() => mockBackendSrv.fetch.mockReset());

describe('the Triage page on the plugin binary’s answers over real captures', () => {
  it('asks the recorded query for the URL’s service, client and window', async () => {
    open('client_wait', waitAnswer);
    render(<Triage />);
    await screen.findAllByTestId('triage-suspect');
    const [body] = requests();
    const file = recording.files['ds-query-triage-client_wait.json'].request;
    const { refId, datasource, ...asked } = file.queries[0] as Query;
    const { refId: r2, ...sent } = triageQuery(
      triageStateOf(new URLSearchParams(locationService.getLocation().search))
    );
    expect(sent).toEqual(asked);
    expect([body.from, body.to]).toEqual([file.from, file.to]);
  });

  it('names the slow database first, with its evidence and links to its data', async () => {
    open('slow_database', databaseAnswer);
    render(<Triage />);
    const [top] = await screen.findAllByTestId('triage-suspect');
    const cells = within(top).getAllByRole('cell');
    expect(cells.slice(0, 4).map((c) => c.textContent)).toEqual(['1', 'dependency', 'latency', 'postgres']);
    expect(cells[6].textContent).toMatch(/^postgres's own time rose by \d+\.\d ms per request/);
    const links = within(top).getAllByRole('link');
    expect(links.map((l) => l.textContent)).toEqual(['Traces', 'CPU profile']);
    const traces = new URL(links[0].getAttribute('href')!, 'http://x');
    expect(traces.pathname).toBe('/a/flowlens-observability-app/traces');
    expect(traces.searchParams.get('service')).toBe('postgres');
  });

  it('names connects refused by resets on the edge, with a link to its flows', async () => {
    open('refused', refusedAnswer);
    render(<Triage />);
    const [top] = await screen.findAllByTestId('triage-suspect');
    const cells = within(top).getAllByRole('cell');
    expect(cells.slice(1, 4).map((c) => c.textContent)).toEqual([
      'server host / NIC',
      'connection failures',
      'frontend → backend',
    ]);
    expect(cells[6].textContent).toMatch(/(\d+) of \1 connects failed, \1 with an RST from the server's side/);
    const flows = within(top)
      .getAllByRole('link')
      .find((l) => l.textContent === 'Flows')!;
    const u = new URL(flows.getAttribute('href')!, 'http://x');
    expect([u.pathname, u.searchParams.get('client'), u.searchParams.get('server')]).toEqual([
      '/a/flowlens-observability-app/network',
      'frontend',
      'backend',
    ]);
  });

  it('names the client waiting, and shows what could not be told', async () => {
    open('client_wait', waitAnswer);
    render(<Triage />);
    const [top] = await screen.findAllByTestId('triage-suspect');
    expect(within(top).getAllByRole('cell')[1]).toHaveTextContent('client app');
    expect(within(top).getAllByRole('cell')[2]).toHaveTextContent('client wait');
    expect(screen.getByTestId('triage-notes')).toHaveTextContent('few requests to gateway');
  });

  it('names the CPU-bound function without its file path', async () => {
    open('cpu_bound', cpuAnswer);
    render(<Triage />);
    const [top] = await screen.findAllByTestId('triage-suspect');
    expect(within(top).getAllByRole('cell')[2].textContent).toMatch(/^CPU: burnCpu frontend\.js:\d+:\d+$/);
  });

  it('a healthy window names nothing', async () => {
    open('control', controlAnswer);
    render(<Triage />);
    expect(await screen.findByTestId('triage-none')).toHaveTextContent('No suspect for gateway');
    expect(screen.queryAllByTestId('triage-suspect')).toHaveLength(0);
  });

  it('asks nothing without a service; the form puts the target in the URL', async () => {
    act(() => locationService.push(TRIAGE));
    mockBackendSrv.fetch.mockImplementation(() => of({ data: databaseAnswer, status: 200, ok: true }));
    render(<Triage />);
    expect(screen.getByTestId('triage-empty')).toBeInTheDocument();
    expect(mockBackendSrv.fetch).not.toHaveBeenCalled();
    fireEvent.change(screen.getByTestId('triage-service'), { target: { value: 'gateway' } });
    fireEvent.submit(screen.getByTestId('triage-form'));
    await waitFor(() =>
      expect(new URLSearchParams(locationService.getLocation().search).get('service')).toBe('gateway')
    );
    await screen.findAllByTestId('triage-suspect');
    expect(requests()[0].queries[0]).toMatchObject({ queryType: 'triage', service: 'gateway' });
  });

  it('a refused query is shown', async () => {
    act(() => locationService.push(`${TRIAGE}?service=gateway`));
    mockBackendSrv.fetch.mockImplementation(() => of({ data: errorAnswer, status: 200, ok: true }));
    render(<Triage />);
    expect(await screen.findByTestId('triage-error')).toHaveTextContent('a triage is about one service');
  });
});
