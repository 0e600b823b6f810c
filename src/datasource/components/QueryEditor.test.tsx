import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import type { DataSourceInstanceSettings } from '@grafana/data';
import { QueryEditor } from './QueryEditor';
import { FlowLensDataSource } from '../datasource';
import type { FlowLensOptions, FlowLensQuery } from '../types';

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({ replace: (s: string) => s.replace('$svc', 'orders') }),
}));

const ds = new FlowLensDataSource({
  id: 1,
  uid: 'flowlens',
  type: 'flowlens-clickhouse-datasource',
  name: 'FlowLens',
  jsonData: {},
} as unknown as DataSourceInstanceSettings<FlowLensOptions>);

function setup(query: FlowLensQuery) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  render(<QueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={onRunQuery} />);
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

  it('offers all three query types', () => {
    setup({ refId: 'A' });
    for (const label of ['RED', 'Universal Map', 'Request log']) {
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
});

describe('FlowLensDataSource', () => {
  it('defaults to RED and interpolates variables in filters', () => {
    expect(ds.getDefaultQuery('explore' as never)).toEqual({ queryType: 'red' });
    expect(ds.applyTemplateVariables({ refId: 'A', queryType: 'map', service: '$svc' }, {})).toEqual({
      refId: 'A',
      queryType: 'map',
      service: 'orders',
    });
  });
});
