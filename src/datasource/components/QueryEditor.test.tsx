import React from 'react';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import type { CoreApp } from '@grafana/data';
import { QueryEditor } from './QueryEditor';
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
    fireEvent.change(screen.getByTestId('flowlens-filter-service'), { target: { value: 'orders' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'sql_log', service: 'orders' });
    fireEvent.change(screen.getByTestId('flowlens-filter-l7_protocol'), { target: { value: 'gRPC' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'sql_log', l7_protocol: 'gRPC' });
    fireEvent.click(screen.getByLabelText('server_process'));
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'sql_log',
      observation_point: 'server_process',
    });
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
    expect(screen.getByTestId('flowlens-filter-service')).toBeInTheDocument();
    expect(screen.getByTestId('flowlens-filter-client_service')).toBeInTheDocument();
    expect(screen.getByTestId('flowlens-filter-endpoint')).toBeInTheDocument();
    expect(screen.queryByTestId('flowlens-filter-l7_protocol')).not.toBeInTheDocument();
  });

  it('an emptied input unsets its option', () => {
    const { onChange } = setup({ refId: 'A', queryType: 'trace', row_id: '11', time: '1700000000' });
    fireEvent.change(screen.getByTestId('flowlens-filter-row_id'), { target: { value: '' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'trace', time: '1700000000' });
  });

  it('offers the request-log filters and format', () => {
    const q: FlowLensQuery = { refId: 'A', queryType: 'sql_log', format: 'logs' };
    const { onChange } = setup(q);
    const inputs: Array<[string, string]> = [
      ['client_service', 'frontend'],
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
});
