import React from 'react';
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { type CoreApp, dateTime, type PanelData, toDataFrame } from '@grafana/data';
import { QueryEditor } from './QueryEditor';
import { listOf, withList } from './FilterPickers';
import { testDatasource } from '../testDatasource';
import { FILTER_KEYS, type FlowLensQuery, LIST_KEYS } from '../types';

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({
    replace: (s: string) => s.replace('$svc', 'orders').replace('$empty', ''),
    getVariables: () => [],
  }),
}));

const ds = testDatasource();

function setup(query: FlowLensQuery, app?: CoreApp) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  render(<QueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={onRunQuery} app={app} />);
  return { onChange, onRunQuery };
}

/**
 * Types an option's whole text into a combobox at once (one debounced lookup, not one per key; no custom value
 * offered first), waits for that lookup's answer to be drawn, and takes the option left with Enter (jsdom lays nothing out: the virtualised menu draws
 * no option to click).
 */
async function typeAndPick(testId: string, text: string, asked: () => boolean, move = '{ArrowDown}') {
  fireEvent.change(screen.getByTestId(testId), { target: { value: text } });
  await waitFor(() => expect(asked()).toBe(true));
  await act(async () => {}); // the answer's promise and the menu's state update
  await userEvent.keyboard(`${move}{Enter}`); // a multi-value combobox highlights nothing by itself
}

describe('QueryEditor', () => {
  it('changes the query type and runs the query', () => {
    const { onChange, onRunQuery } = setup({ refId: 'A', queryType: 'red' });
    fireEvent.click(screen.getByLabelText('Universal Map'));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'map' });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('asks for one RED metric', () => {
    const { onChange } = setup({ refId: 'A', queryType: 'red' });
    fireEvent.click(screen.getByLabelText('Error ratio'));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'red', metric: 'error_ratio' });
  });

  it('offers every query type', () => {
    setup({ refId: 'A' });
    for (const label of [
      'RED',
      'Universal Map',
      'Request log',
      'Trace search',
      'Trace',
      'Flow log',
      'Network metrics',
      'Network profile',
      'Triage',
    ]) {
      expect(screen.getByLabelText(label)).toBeInTheDocument();
    }
  });

  it('writes filters under their contract names', () => {
    const { onChange } = setup({ refId: 'A', queryType: 'sql_log' });
    fireEvent.click(screen.getByLabelText('server_process'));
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'sql_log',
      observation_point: 'server_process',
    });
  });

  it("lists a filter's values from the backend over the range (endpoints of the chosen services), one or several", async () => {
    const getResource = jest.spyOn(ds, 'getResource').mockResolvedValue({ values: ['/api/orders', '/api/cart'] });
    const range = {
      from: dateTime(1_796_219_200_000),
      to: dateTime(1_796_219_500_000),
      raw: { from: 'now-5m', to: 'now' },
    };
    const onChange = jest.fn();
    const onRunQuery = jest.fn();
    const q: FlowLensQuery = { refId: 'A', queryType: 'sql_log', service: ['orders', '$svc'] };
    render(<QueryEditor datasource={ds} query={q} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
    await userEvent.click(screen.getByTestId('flowlens-picker-endpoint'));
    await waitFor(() =>
      expect(getResource).toHaveBeenCalledWith('values', {
        kind: 'endpoints',
        from: 1_796_219_200_000,
        to: 1_796_219_500_000,
        service: ['orders'],
      })
    );
    // typed text narrows the options; Enter takes the first left (jsdom lays nothing out: the virtualised menu
    // draws no option to click)
    await waitFor(() => expect(getResource).toHaveBeenCalledTimes(1));
    await typeAndPick('flowlens-picker-endpoint', '/api/cart', () => getResource.mock.calls.length === 2);
    expect(onChange).toHaveBeenLastCalledWith({ ...q, endpoint: '/api/cart' });
    expect(onRunQuery).toHaveBeenCalled();
    getResource.mockRestore();
  });

  it('a filter chosen several times is a list; one value stays a string; none unsets it', () => {
    expect(withList({ refId: 'A' }, 'service', ['a', 'b'])).toEqual({ refId: 'A', service: ['a', 'b'] });
    expect(withList({ refId: 'A' }, 'service', ['a'])).toEqual({ refId: 'A', service: 'a' });
    expect(withList({ refId: 'A', service: 'a' }, 'service', [])).toEqual({ refId: 'A' });
    expect(listOf('$svc')).toEqual(['$svc']);
    expect(listOf(['x', 4811])).toEqual(['x', '4811']);
    expect(listOf('')).toEqual([]);
  });

  it('groups RED by its dimensions and by tags the backend names (resource and business tags)', async () => {
    const getResource = jest
      .spyOn(ds, 'getResource')
      .mockImplementation(async (path: string) =>
        path === 'tag-values'
          ? { tags: ['namespace', 'workload', 'label.<key>', '<business tag key: team, owner, ...>'] }
          : { tags: [{ kind: 'service', subject: 'orders', key: 'team', value: 'shop' }] }
      );
    const { onChange } = setup({ refId: 'A', queryType: 'red', group_by: ['service'] });
    await userEvent.click(screen.getByTestId('flowlens-picker-group_by'));
    await waitFor(() => expect(getResource).toHaveBeenCalledTimes(2));
    await typeAndPick('flowlens-picker-group_by', 'team', () => getResource.mock.calls.length === 4);
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'red', group_by: ['service', 'team'] });
    getResource.mockRestore();
  });

  it("names the map's nodes by one tag; a switch to another type drops the group by", async () => {
    const getResource = jest
      .spyOn(ds, 'getResource')
      .mockImplementation(async (path: string) =>
        path === 'tag-values' ? { tags: ['namespace', 'workload'] } : { tags: [] }
      );
    const { onChange } = setup({ refId: 'A', queryType: 'map' });
    await userEvent.click(screen.getByTestId('flowlens-picker-map-group_by'));
    await waitFor(() => expect(getResource).toHaveBeenCalled());
    const opened = getResource.mock.calls.length;
    await typeAndPick(
      'flowlens-picker-map-group_by',
      'workload',
      () => getResource.mock.calls.length >= opened + 2,
      ''
    );
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'map', group_by: ['workload'] });
    cleanup();
    const next = setup({ refId: 'A', queryType: 'map', group_by: ['workload'] });
    fireEvent.click(screen.getByLabelText('RED'));
    expect(next.onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'red' });
    getResource.mockRestore();
  });

  it('groups flows by one tag as a table, and network series by one tag of both ends', async () => {
    const getResource = jest
      .spyOn(ds, 'getResource')
      .mockImplementation(async (path: string) =>
        path === 'tag-values'
          ? { tags: ['namespace', 'workload'] }
          : { tags: [{ kind: 'service', subject: 'orders', key: 'team', value: 'shop' }] }
      );
    const flows = setup({ refId: 'A', queryType: 'flow_log', format: 'logs' }, 'explore' as CoreApp);
    expect(screen.getByText('Group by')).toBeInTheDocument();
    await userEvent.click(screen.getByTestId('flowlens-picker-tag-group_by'));
    await waitFor(() => expect(getResource).toHaveBeenCalled());
    let opened = getResource.mock.calls.length;
    await typeAndPick(
      'flowlens-picker-tag-group_by',
      'workload',
      () => getResource.mock.calls.length >= opened + 2,
      ''
    );
    // the groups are a table: the log-lines format goes
    expect(flows.onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'flow_log',
      format: 'table',
      group_by: ['workload'],
    });
    cleanup();
    const series = setup({ refId: 'A', queryType: 'net_metrics', metric: 'byte_rate' });
    expect(screen.getByText('Ends by')).toBeInTheDocument();
    await userEvent.click(screen.getByTestId('flowlens-picker-tag-group_by'));
    await waitFor(() => expect(getResource.mock.calls.length).toBeGreaterThan(opened));
    opened = getResource.mock.calls.length;
    await typeAndPick('flowlens-picker-tag-group_by', 'team', () => getResource.mock.calls.length >= opened + 2, '');
    expect(series.onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'net_metrics',
      metric: 'byte_rate',
      group_by: ['team'],
    });
    cleanup();
    // a query without a grouping of its ends offers none
    setup({ refId: 'A', queryType: 'sql_log' });
    expect(screen.queryByTestId('flowlens-picker-tag-group_by')).not.toBeInTheDocument();
    getResource.mockRestore();
  });

  it('a switch to the flow log keeps the options flows have and drops the rest', () => {
    const { onChange } = setup(
      { refId: 'A', queryType: 'sql_log', service: 'web', endpoint: '/x', status: 'ok', format: 'logs', limit: '5' },
      'explore' as CoreApp
    );
    fireEvent.click(screen.getByLabelText('Flow log'));
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'flow_log',
      service: 'web',
      format: 'logs',
      limit: '5',
    });
  });

  it('writes the flow-log filters under their contract names (NetModel)', () => {
    const { onChange } = setup({ refId: 'A', queryType: 'flow_log' });
    const cases: Array<[string, string]> = [
      ['client_process', 'curl'],
      ['server_process', 'python3'],
      ['client_ip', '10.0.0.1'],
      ['server_port', '8082'],
      ['min_retrans', '1'],
      ['min_rtt_ms', '0.5'],
      ['host', 'vm'],
    ];
    for (const [key, value] of cases) {
      fireEvent.change(screen.getByTestId(`flowlens-filter-${key}`), { target: { value } });
      expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'flow_log', [key]: value });
    }
    fireEvent.click(screen.getByLabelText('reset_by_server'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'flow_log', close_type: 'reset_by_server' });
    fireEvent.click(screen.getByLabelText('failed connects only'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'flow_log', conn_failed: 'true' });
    expect(screen.queryByTestId('flowlens-filter-l7_protocol')).not.toBeInTheDocument();
  });

  it('asks net_metrics for one network metric, and netprofile for a flow', () => {
    const { onChange } = setup({ refId: 'A', queryType: 'net_metrics' });
    fireEvent.click(screen.getByLabelText('Retrans ratio'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'net_metrics', metric: 'retrans_ratio' });
    expect(screen.queryByTestId('flowlens-filter-client_ip')).not.toBeInTheDocument();
    cleanup();
    const p = setup({ refId: 'A', queryType: 'netprofile' });
    for (const key of ['client_ip', 'client_port', 'server_ip', 'server_port']) {
      expect(screen.getByTestId(`flowlens-filter-${key}`)).toHaveAttribute('placeholder', 'required');
    }
    expect(screen.queryByTestId('flowlens-filter-service')).not.toBeInTheDocument();
    fireEvent.change(screen.getByTestId('flowlens-filter-client_port'), { target: { value: '51220' } });
    expect(p.onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'netprofile', client_port: '51220' });
  });

  it('asks netprofile_summary for one latency per edge, filtered by the edge or the server', () => {
    const { onChange } = setup({ refId: 'A', queryType: 'net_metrics', metric: 'rtt_avg', service: 'web' });
    fireEvent.click(screen.getByLabelText('Network profile summary'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'netprofile_summary', service: 'web' });
    cleanup();
    const p = setup({ refId: 'A', queryType: 'netprofile_summary', service: 'web' });
    fireEvent.click(screen.getByLabelText('Client wait max'));
    expect(p.onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'netprofile_summary',
      service: 'web',
      metric: 'client_wait_max',
    });
    for (const key of ['service', 'client_service']) {
      expect(screen.getByTestId(`flowlens-picker-${key}`)).toBeInTheDocument();
    }
    for (const key of ['client_ip', 'server_ip', 'server_port', 'host']) {
      expect(screen.getByTestId(`flowlens-filter-${key}`)).toHaveAttribute(
        'placeholder',
        key === 'host' ? 'observing host' : 'any'
      );
    }
    expect(screen.queryByTestId('flowlens-filter-client_port')).not.toBeInTheDocument();
    expect(screen.queryByTestId('flowlens-filter-server_process')).not.toBeInTheDocument();
  });

  it('drops a RED metric on a switch to network metrics', () => {
    const { onChange } = setup({ refId: 'A', queryType: 'red', metric: 'error_ratio', service: 'web' });
    fireEvent.click(screen.getByLabelText('Network metrics'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'net_metrics', service: 'web' });
  });

  it('asks for the trace by row id and time, trace id or X-Request-ID', () => {
    const { onChange, onRunQuery } = setup({ refId: 'A', queryType: 'trace' });
    expect(screen.queryByTestId('flowlens-filter-service')).not.toBeInTheDocument();
    fireEvent.change(screen.getByTestId('flowlens-filter-row_id'), { target: { value: '11' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'trace', row_id: '11' });
    fireEvent.change(screen.getByTestId('flowlens-filter-time'), { target: { value: '$__from' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'trace', time: '$__from' });
    fireEvent.change(screen.getByTestId('flowlens-filter-trace_id'), { target: { value: 'abc' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'trace', trace_id: 'abc' });
    fireEvent.change(screen.getByTestId('flowlens-filter-request_id'), { target: { value: 'rid-1' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'trace', request_id: 'rid-1' });
    fireEvent.blur(screen.getByTestId('flowlens-filter-request_id'));
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('a switch to the triage keeps its target (service, client, endpoint) and asks only for it', () => {
    const { onChange } = setup({
      refId: 'A',
      queryType: 'sql_log',
      service: 'gateway',
      client_service: 'web',
      status: 'timeout',
    });
    fireEvent.click(screen.getByLabelText('Triage'));
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'triage',
      service: 'gateway',
      client_service: 'web',
    });
    cleanup();
    setup({ refId: 'A', queryType: 'triage' });
    expect(screen.getByTestId('flowlens-picker-service')).toBeInTheDocument();
    expect(screen.getByTestId('flowlens-picker-client_service')).toBeInTheDocument();
    expect(screen.getByTestId('flowlens-picker-endpoint')).toBeInTheDocument();
    expect(screen.queryByTestId('flowlens-picker-l7_protocol')).not.toBeInTheDocument();
  });

  it('an emptied input unsets its option', () => {
    const { onChange } = setup({ refId: 'A', queryType: 'trace', row_id: '11', time: '1700000000' });
    fireEvent.change(screen.getByTestId('flowlens-filter-row_id'), { target: { value: '' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'trace', time: '1700000000' });
  });

  it('offers the request-log filters and format', () => {
    const q: FlowLensQuery = { refId: 'A', queryType: 'sql_log', format: 'logs' };
    const { onChange } = setup(q);
    expect(screen.getByTestId('flowlens-picker-client_service')).toBeInTheDocument();
    const inputs: Array<[string, string]> = [
      ['request_type', 'POST'],
      ['response_code', '503'],
      ['min_duration_ms', '100'],
      ['max_duration_ms', '2000'],
      ['search', 'cart'],
      ['trace_id', '4bf92f'],
      ['request_id', 'rid-1'],
      ['limit', '50'],
    ];
    for (const [key, value] of inputs) {
      fireEvent.change(screen.getByTestId(`flowlens-filter-${key}`), { target: { value } });
      expect(onChange).toHaveBeenLastCalledWith({ ...q, [key]: value });
    }
    fireEvent.click(screen.getByLabelText('server_error'));
    expect(onChange).toHaveBeenLastCalledWith({ ...q, status: 'server_error' });
    fireEvent.click(screen.getByLabelText('Table'));
    expect(onChange).toHaveBeenLastCalledWith({ ...q, format: 'table' });
  });

  it("orders a request log slowest first (a flame graph's slowest requests)", () => {
    const q: FlowLensQuery = { refId: 'A', queryType: 'sql_log', format: 'table' };
    const { onChange } = setup(q);
    fireEvent.click(screen.getByLabelText('Slowest first'));
    expect(onChange).toHaveBeenLastCalledWith({ ...q, order_by: 'duration' });
  });

  it('trace search has no max duration, text search or format', () => {
    const { onChange } = setup({ refId: 'A', queryType: 'trace_search' });
    fireEvent.change(screen.getByTestId('flowlens-filter-verdicts'), { target: { value: '10' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'trace_search', verdicts: '10' });
    expect(screen.getByTestId('flowlens-filter-min_duration_ms')).toBeInTheDocument();
    expect(screen.getByTestId('flowlens-filter-request_id')).toBeInTheDocument();
    for (const key of ['max_duration_ms', 'search', 'row_id']) {
      expect(screen.queryByTestId(`flowlens-filter-${key}`)).not.toBeInTheDocument();
    }
    expect(screen.queryByLabelText('Logs')).not.toBeInTheDocument();
  });

  it('a switch keeps the filters the new type reads and drops the others', () => {
    const q: FlowLensQuery = {
      refId: 'A',
      queryType: 'sql_log',
      format: 'logs',
      service: 'checkout',
      status: 'ok',
      row_id: '5',
    };
    const { onChange } = setup(q);
    fireEvent.click(screen.getByLabelText('RED'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'red', service: 'checkout' });
    fireEvent.click(screen.getByLabelText('Trace search'));
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'trace_search',
      service: 'checkout',
      status: 'ok',
    });
    fireEvent.click(screen.getByLabelText('Trace'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'trace', row_id: '5' });
  });

  it('a request log opened in Explore is log lines, in a dashboard a table', () => {
    const explore = setup({ refId: 'A', queryType: 'red' }, 'explore' as CoreApp);
    fireEvent.click(screen.getAllByLabelText('Request log')[0]);
    expect(explore.onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'sql_log', format: 'logs' });
    cleanup();
    const dash = setup({ refId: 'A', queryType: 'red' }, 'dashboard' as CoreApp);
    fireEvent.click(screen.getByLabelText('Request log'));
    expect(dash.onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'sql_log', format: 'table' });
  });
});

describe('FlowLensDataSource', () => {
  it('defaults to RED and interpolates variables in filters', () => {
    expect(ds.getDefaultQuery('dashboard' as never)).toEqual({ queryType: 'red' });
    expect(ds.getDefaultQuery('explore' as never)).toEqual({ queryType: 'sql_log', format: 'logs' });
    expect(ds.applyTemplateVariables({ refId: 'A', queryType: 'map', service: '$svc' }, {})).toEqual({
      refId: 'A',
      queryType: 'map',
      service: ['orders'],
    });
  });

  it('interpolates every text option and leaves out what is empty once filled in', () => {
    const q: FlowLensQuery = {
      refId: 'A',
      queryType: 'sql_log',
      format: 'logs',
      client_service: '$svc',
      request_type: '$svc',
      response_code: '$svc',
      status: '$svc',
      min_duration_ms: '$svc',
      max_duration_ms: '$svc',
      search: '$svc',
      trace_id: '$svc',
      request_id: '$svc',
      row_id: '$svc',
      time: '$svc',
      limit: '$svc',
      verdicts: '$svc',
      endpoint: '$empty',
    };
    const out = ds.applyTemplateVariables(q, {});
    for (const key of FILTER_KEYS.filter((k) => k in q && k !== 'endpoint')) {
      // list filters become arrays (variables.test.tsx: multi-value and All)
      expect(out[key]).toEqual((LIST_KEYS as readonly string[]).includes(key) ? ['orders'] : 'orders');
    }
    expect(out).not.toHaveProperty('endpoint');
    expect(out.format).toBe('logs');
  });

  it('shows the SQL the backend ran, read-only, on demand', () => {
    const data = {
      state: 'Done',
      series: [
        toDataFrame({
          refId: 'A',
          fields: [],
          meta: { executedQueryString: 'SELECT 1 FROM `flowlens`.`app_metrics`' },
        }),
        toDataFrame({ refId: 'B', fields: [], meta: { executedQueryString: 'SELECT other' } }),
      ],
      timeRange: undefined,
    } as unknown as PanelData;
    render(
      <QueryEditor
        datasource={ds}
        query={{ refId: 'A', queryType: 'red' }}
        onChange={jest.fn()}
        onRunQuery={jest.fn()}
        data={data}
      />
    );
    expect(screen.queryByTestId('flowlens-sql')).toBeNull();
    fireEvent.click(screen.getByTestId('flowlens-show-sql'));
    expect(screen.getByTestId('flowlens-sql')).toHaveTextContent('SELECT 1 FROM `flowlens`.`app_metrics`');
    expect(screen.getByTestId('flowlens-sql')).not.toHaveTextContent('SELECT other');
  });
});
