import React from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { of } from 'rxjs';
import { locationService } from '@grafana/runtime';
import { Network } from './Network';
import { DEFAULT_NETWORK_STATE, flowQueries, networkPageHref } from './networkFlows';
// The real plugin binary's answers over rows the real agent captured (test/frontend/record-netprofile.js): the
// page's two flow-log queries, the map, and the network profile of a lossy transfer.
import failingAnswer from '../../test/frontend/fixtures/ds-query-network-failing.json';
import lossyAnswer from '../../test/frontend/fixtures/ds-query-network-lossy.json';
import mapAnswer from '../../test/frontend/fixtures/ds-query-netprofile-map.json';
import profileAnswer from '../../test/frontend/fixtures/ds-query-netprofile-lossy.json';
import recording from '../../test/frontend/fixtures/ds-query-netprofile.recording.json';
// what the kernel counted while the agent captured those flows
import capture from '../../pkg/plugin/testdata/netcapture/recording.json';

const mockBackendSrv = { fetch: jest.fn() };

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => mockBackendSrv,
  PluginPage: ({ children }: { children: React.ReactNode }) => children,
}));

type Query = Record<string, unknown>;
type Body = { queries: Query[]; from: string; to: string };

const NETWORK = '/a/flowlens-observability-app/network';
const lossyFlow = recording.flows.lossy;

function answer(q: Query): unknown {
  switch (q.queryType) {
    case 'map':
      return mapAnswer;
    case 'netprofile':
      return String(q.client_port) === String(lossyFlow.client_port)
        ? profileAnswer
        : { results: { A: { frames: [] } } };
    case 'flow_log':
      return q.min_retrans ? lossyAnswer : failingAnswer;
  }
  throw new Error(`unexpected query ${JSON.stringify(q)}`);
}

function requests(queryType: string): Body[] {
  return mockBackendSrv.fetch.mock.calls
    .map(([o]) => o.data as Body)
    .filter((b) => b.queries[0].queryType === queryType);
}

/** A recorded request's query as the page writes it (no refId, no datasource). */
function recorded(file: keyof typeof recording.files): Query {
  const { refId, datasource, ...q } = recording.files[file].request.queries[0] as Query;
  return q;
}

beforeEach(() => {
  mockBackendSrv.fetch.mockReset();
  mockBackendSrv.fetch.mockImplementation(({ data }: { data: Body }) =>
    of({ data: answer(data.queries[0]), status: 200, ok: true })
  );
  act(() => locationService.push(`${NETWORK}?from=${recording.range.from}&to=${recording.range.to}`));
});

describe('the Network page on the plugin binary’s answers over real captures', () => {
  it('asks the recorded queries', () => {
    const q = flowQueries(DEFAULT_NETWORK_STATE);
    const strip = ({ refId, ...rest }: Query) => rest;
    expect(strip(q.failing)).toEqual(recorded('ds-query-network-failing.json'));
    expect(strip(q.lossy)).toEqual(recorded('ds-query-network-lossy.json'));
  });

  it('lists the failing flows first, then the lossy ones by retransmissions, and the unhealthy edges worst first', async () => {
    render(<Network />);
    const rows = await screen.findAllByTestId('network-flow-row');
    expect(rows).toHaveLength(7);
    expect(rows.map((r) => r.dataset.failing)).toEqual(['true', 'true', 'true', 'true', 'false', 'false', 'false']);
    const close = rows.slice(0, 4).map((r) => within(r).getAllByRole('cell')[3].textContent);
    expect(close.filter((c) => c === 'connect_failed (RST from the server)')).toHaveLength(3);
    expect(close.filter((c) => c === 'reset_by_server (RST from the server)')).toHaveLength(1);
    const retrans = rows.slice(4).map((r) => Number(within(r).getAllByRole('cell')[4].textContent));
    expect(retrans).toEqual([...retrans].sort((a, b) => b - a));
    expect(retrans.reduce((a, b) => a + b, 0)).toBe(capture.kernel.serverTcpRetransSegs);
    const edges = await screen.findAllByTestId('network-edge-row');
    expect(edges.map((e) => e.dataset.edge)).toEqual([
      'curl->refuser',
      'curl->files-lossy',
      'curl->resetter',
      'python3->files-slow',
    ]);
    expect(within(edges[0]).getAllByRole('cell')[1]).toHaveTextContent('3 failed connections, 3 RSTs');
    expect(within(edges[1]).getAllByRole('cell')[1]).toHaveTextContent(/^\d\.\d% retransmitted$/);
  }, 15000); // several hundred rows rendered: slow on a loaded machine

  it('one click on a flow opens its network profile, and the URL shares it', async () => {
    render(<Network />);
    const rows = await screen.findAllByTestId('network-flow-row');
    const row = rows.find((r) => r.textContent?.includes(`:${lossyFlow.client_port}`))!;
    fireEvent.click(row);
    await waitFor(() => expect(screen.getAllByTestId('np-packet')).toHaveLength(512));
    const search = new URLSearchParams(locationService.getLocation().search);
    expect([search.get('cip'), search.get('cport'), search.get('sip'), search.get('sport')]).toEqual([
      lossyFlow.client_ip,
      String(lossyFlow.client_port),
      lossyFlow.server_ip,
      String(lossyFlow.server_port),
    ]);
    const [profile] = requests('netprofile');
    expect(profile.queries[0]).toMatchObject({
      ...lossyFlow,
      client_port: String(lossyFlow.client_port),
      server_port: String(lossyFlow.server_port),
    });
    expect(Number(profile.to) - Number(profile.from)).toBe(120_000);
    expect(row).toHaveAttribute('aria-selected', 'true');
  });

  it("a link with the flow in its URL (a trace span's) opens the page on that flow's profile", async () => {
    const at = recording.range.from + 90_000;
    const href = networkPageHref({
      from: String(at - 60_000),
      to: String(at + 60_000),
      cip: lossyFlow.client_ip,
      cport: String(lossyFlow.client_port),
      sip: lossyFlow.server_ip,
      sport: String(lossyFlow.server_port),
      at: String(at),
    });
    expect(href.startsWith(`${NETWORK}?from=`)).toBe(true);
    act(() => locationService.push(href));
    render(<Network />);
    await waitFor(() => expect(screen.getAllByTestId('np-packet')).toHaveLength(512));
    expect(screen.getByTestId('network-profile')).toHaveTextContent(
      `Network profile of ${lossyFlow.client_ip}:${lossyFlow.client_port} → ${lossyFlow.server_ip}:${lossyFlow.server_port}`
    );
    const [profile] = requests('netprofile');
    expect([Number(profile.from), Number(profile.to)]).toEqual([at - 60_000, at + 60_000]);
  });

  it('one click on an edge keeps the flows to that edge', async () => {
    render(<Network />);
    const edges = await screen.findAllByTestId('network-edge-row');
    fireEvent.click(edges[1]);
    await waitFor(() => expect(screen.getByTestId('network-edge-filter')).toHaveTextContent('curl → files-lossy'));
    const flowLogs = requests('flow_log');
    expect(flowLogs[flowLogs.length - 1].queries[0]).toMatchObject({ service: 'files-lossy', client_service: 'curl' });
  });

  it('a refused query is shown', async () => {
    mockBackendSrv.fetch.mockImplementation(({ data }: { data: Body }) =>
      of({
        data:
          data.queries[0].queryType === 'flow_log'
            ? { results: { A: { error: 'filter close_type: bad', status: 400 } } }
            : answer(data.queries[0]),
        status: 200,
        ok: true,
      })
    );
    render(<Network />);
    expect(await screen.findByTestId('network-error')).toHaveTextContent('filter close_type: bad');
  });
});
