import React from 'react';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { type DataSourceInstanceSettings, dateTime } from '@grafana/data';
import { QueryEditor } from './QueryEditor';
import { pickerOptions } from './FlameGraphQueryEditor';
import { FlowLensDataSource } from '../datasource';
import type { FlowLensOptions, FlowLensQuery } from '../types';

// a dashboard with $proc = [nginx, shape] (multi-value), $tid = 4811 and $none = '' (nothing chosen)
const vars: Record<string, string | string[]> = { $proc: ['nginx', 'shape'], $tid: '4811', $none: '' };
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({
    getVariables: () => [],
    replace: (s: string, _scoped: unknown, format?: (v: string | string[]) => string) =>
      s.replace(/\$\w+/g, (name) => {
        const v = vars[name] ?? name;
        return format ? format(v) : Array.isArray(v) ? `{${v.join(',')}}` : v;
      }),
  }),
}));

const ds = new FlowLensDataSource({
  id: 1,
  uid: 'flowlens',
  type: 'flowlens-clickhouse-datasource',
  name: 'FlowLens',
  jsonData: {},
} as unknown as DataSourceInstanceSettings<FlowLensOptions>);

const range = {
  from: dateTime(1_796_219_200_000),
  to: dateTime(1_796_219_500_000),
  raw: { from: 'now-5m', to: 'now' },
};

function setup(query: FlowLensQuery) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  render(<QueryEditor datasource={ds} query={query} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
  return { onChange, onRunQuery };
}

describe('the flame graph query', () => {
  afterEach(() => jest.restoreAllMocks());

  it('is a query type of its own; switching to it keeps the service and drops what it does not read', () => {
    const { onChange } = setup({
      refId: 'A',
      queryType: 'sql_log',
      service: 'orders',
      l7_protocol: 'HTTP',
      limit: '5',
    });
    fireEvent.click(screen.getByLabelText('Flame graph'));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'flamegraph', service: 'orders' });
  });

  it('switching away drops its options', () => {
    const { onChange } = setup({
      refId: 'A',
      queryType: 'flamegraph',
      pid: [4811],
      tid: [4811],
      event: 'off_cpu',
      baselineFrom: '1',
      baselineTo: '2',
    });
    fireEvent.click(screen.getByLabelText('Request log'));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: 'sql_log', format: 'table' });
  });

  it("lists a picker's values from the backend (the range and the other filters), busiest first, and runs the query", async () => {
    const getResource = jest.spyOn(ds, 'getResource').mockResolvedValue({
      values: [
        { value: '4811', process: 'node', weight: 151 },
        { value: '4814', process: 'node', weight: 1 },
      ],
    });
    const { onChange, onRunQuery } = setup({
      refId: 'A',
      queryType: 'flamegraph',
      process: '$proc',
      pid: [4811],
      event: 'on_cpu',
    });
    // the span link's list is shown as text
    expect(screen.getByTestId('flowlens-flame-pid')).toHaveValue('4811');
    await userEvent.click(screen.getByTestId('flowlens-flame-tid'));
    await waitFor(() => expect(getResource).toHaveBeenCalledTimes(1));
    expect(getResource).toHaveBeenCalledWith('profile-values', {
      field: 'tid',
      event: 'on_cpu',
      from: '1796219200000',
      to: '1796219500000',
      process: ['nginx', 'shape'],
      pid: ['4811'],
    });
    // typed text narrows the options (asked again); Enter takes the first left (jsdom lays nothing out, so the
    // virtualised menu draws no option to click)
    await userEvent.type(screen.getByTestId('flowlens-flame-tid'), '4814');
    await waitFor(() => expect(getResource).toHaveBeenCalledTimes(2));
    await userEvent.keyboard('{Enter}');
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'flamegraph',
      process: '$proc',
      pid: [4811],
      event: 'on_cpu',
      tid: '4814',
    });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it("puts each stack under its process's value of one tag (roots by workload), the filters kept", async () => {
    const getResource = jest
      .spyOn(ds, 'getResource')
      .mockImplementation(async (path: string) =>
        path === 'tag-values' ? { tags: ['container', 'workload'] } : { tags: [] }
      );
    const { onChange, onRunQuery } = setup({ refId: 'A', queryType: 'flamegraph', service: 'orders' });
    expect(screen.getByText('Roots by')).toBeInTheDocument();
    await userEvent.click(screen.getByTestId('flowlens-picker-tag-group_by'));
    await waitFor(() => expect(getResource).toHaveBeenCalledWith('tag-values'));
    const opened = getResource.mock.calls.length;
    fireEvent.change(screen.getByTestId('flowlens-picker-tag-group_by'), { target: { value: 'workload' } });
    await waitFor(() => expect(getResource.mock.calls.length).toBeGreaterThanOrEqual(opened + 2));
    await act(async () => {});
    await userEvent.keyboard('{Enter}');
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'flamegraph',
      service: 'orders',
      group_by: ['workload'],
    });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it("a picker's options: the busiest first, matching the typed text, ids with their process", () => {
    const values = [
      { value: '4811', process: 'node', weight: 151 },
      { value: '4814', process: 'node', weight: 1 },
      { value: '977', process: 'clickhouse-serv', weight: 1 },
    ];
    expect(pickerOptions('tid', values, '')).toEqual([
      { value: '4811', label: '4811', description: 'node' },
      { value: '4814', label: '4814', description: 'node' },
      { value: '977', label: '977', description: 'clickhouse-serv' },
    ]);
    expect(pickerOptions('tid', values, 'click').map((o) => o.value)).toEqual(['977']);
    expect(pickerOptions('process', [{ value: 'shape', process: 'shape', weight: 3 }], 'SH')).toEqual([
      { value: 'shape', label: 'shape', description: undefined },
    ]);
  });

  it('asks for the off-CPU profile and a diff against the range just before', () => {
    const { onChange } = setup({ refId: 'A', queryType: 'flamegraph', process: 'shape' });
    fireEvent.click(screen.getByLabelText('Off-CPU'));
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'flamegraph',
      process: 'shape',
      event: 'off_cpu',
    });
    fireEvent.click(screen.getByTestId('flowlens-flame-previous'));
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'flamegraph',
      process: 'shape',
      baselineFrom: '1796218900000',
      baselineTo: '1796219200000',
    });
  });

  it("fills in variables: a multi-value variable is a list, an empty one is no filter, a link's ids stay", () => {
    const filled = ds.applyTemplateVariables(
      {
        refId: 'A',
        queryType: 'flamegraph',
        service: '$none',
        process: '$proc',
        pid: [4811],
        tid: '$tid',
        host: ' ',
        baselineFrom: '$none',
        baselineTo: '1796219200000',
        event: 'off_cpu',
      },
      {}
    );
    expect(filled).toEqual({
      refId: 'A',
      queryType: 'flamegraph',
      process: ['nginx', 'shape'],
      pid: ['4811'],
      tid: ['4811'],
      baselineTo: '1796219200000',
      event: 'off_cpu',
    });
  });
});
