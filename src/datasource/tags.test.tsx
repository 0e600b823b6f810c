import { dateTime, FieldType, toDataFrame, type AdHocVariableFilter, type ScopedVars } from '@grafana/data';
import { firstValueFrom } from 'rxjs';
import { render, screen, fireEvent } from '@testing-library/react';
import React from 'react';
import { annotationEvents } from './datasource';
import { testDatasource } from './testDatasource';
import { QueryEditor } from './components/QueryEditor';
import { VariableQueryEditor } from './components/VariableQueryEditor';
import type { FlowLensQuery } from './types';

/** Dashboard variables as Grafana's template service holds them (a format function gets the value or values). */
let variables: Array<{ name: string; current: { value: string | string[] }; options: string[] }> = [];

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({
    getVariables: () => variables,
    replace: (text: string, _scoped: ScopedVars = {}, format?: (v: unknown) => string) =>
      text.replace(/\$(\w+)|\$\{(\w+)(?::[^}]*)?\}/g, (ref, a, b) => {
        const v = variables.find((x) => x.name === (a ?? b));
        if (!v) {
          return ref;
        }
        const cur = v.current.value;
        const value = cur === '$__all' ? v.options : cur;
        return format ? format(value) : Array.isArray(value) ? `{${value.join(',')}}` : value;
      }),
  }),
}));

const ds = testDatasource();
const range = { from: dateTime(1700000000000), to: dateTime(1700003600000), raw: { from: 'now-1h', to: 'now' } };

beforeEach(() => {
  variables = [];
  jest.restoreAllMocks();
});

describe('tag filters', () => {
  it("a team variable fills the query's tag filter as a list; All drops the tag", () => {
    variables = [{ name: 'team', current: { value: ['shop', 'web'] }, options: ['data', 'shop', 'web'] }];
    const q: FlowLensQuery = { refId: 'A', queryType: 'red', tags: { team: '$team', namespace: 'prod' } };
    expect(ds.applyTemplateVariables(q, {})).toEqual({
      refId: 'A',
      queryType: 'red',
      tags: { team: ['shop', 'web'], namespace: ['prod'] },
    });
    variables = [{ name: 'team', current: { value: '$__all' }, options: ['data', 'shop', 'web'] }];
    expect(ds.applyTemplateVariables({ ...q, tags: { team: '$team' } }, {})).toEqual({ refId: 'A', queryType: 'red' });
  });

  it('ad-hoc filters become typed tag filters (= one value, =| several), never a glob or a regex', () => {
    const filters: AdHocVariableFilter[] = [
      { key: 'namespace', operator: '=', value: 'shop' },
      { key: 'team', operator: '=|', value: 'web', values: ['web', 'data'] },
    ];
    expect(ds.applyTemplateVariables({ refId: 'A', queryType: 'map' }, {}, filters)).toEqual({
      refId: 'A',
      queryType: 'map',
      tags: { namespace: ['shop'], team: ['web', 'data'] },
    });
    // a query's own filter and an ad-hoc filter on the same tag: the values both allow
    expect(
      ds.applyTemplateVariables({ refId: 'A', queryType: 'red', tags: { team: ['shop', 'web'] } }, {}, filters).tags
    ).toEqual({ namespace: ['shop'], team: ['web'] });
    // a query type without tags (one trace) is left alone
    expect(ds.applyTemplateVariables({ refId: 'A', queryType: 'trace', trace_id: 'abc' }, {}, filters).tags).toBe(
      undefined
    );
  });

  it('an operator the backend cannot honour is refused, not ignored; so is a filter excluding every value', () => {
    expect(() =>
      ds.applyTemplateVariables({ refId: 'A', queryType: 'red' }, {}, [{ key: 'team', operator: '!=', value: 'shop' }])
    ).toThrow('only = and =| (one of) apply to tags');
    expect(() =>
      ds.applyTemplateVariables({ refId: 'A', queryType: 'red', tags: { team: 'shop' } }, {}, [
        { key: 'team', operator: '=', value: 'web' },
      ])
    ).toThrow('excludes every team of the query (shop)');
  });

  it('ad-hoc keys and values come from the tag-values resource over the range', async () => {
    const spy = jest
      .spyOn(ds, 'getResource')
      .mockResolvedValueOnce({ keys: ['namespace', 'team', 'workload'] } as never)
      .mockResolvedValueOnce({ values: ['data', 'shop'] } as never);
    await expect(ds.getTagKeys({ timeRange: range, filters: [] })).resolves.toEqual([
      { text: 'namespace', value: 'namespace' },
      { text: 'team', value: 'team' },
      { text: 'workload', value: 'workload' },
    ]);
    expect(spy).toHaveBeenLastCalledWith('tag-values', { keys: '1', from: 1700000000000, to: 1700003600000 });
    await expect(ds.getTagValues({ key: 'team', timeRange: range, filters: [] })).resolves.toEqual([
      { text: 'data', value: 'data' },
      { text: 'shop', value: 'shop' },
    ]);
    expect(spy).toHaveBeenLastCalledWith('tag-values', { tag: 'team', from: 1700000000000, to: 1700003600000 });
  });

  it('a tag values variable lists the teams (team by default); tag keys list the keys', async () => {
    const spy = jest.spyOn(ds, 'getResource').mockResolvedValue({ values: ['shop'], keys: ['team'] } as never);
    await expect(ds.listValues({ refId: 'v', kind: 'tag_values' }, range)).resolves.toEqual([
      { text: 'shop', value: 'shop' },
    ]);
    expect(spy).toHaveBeenLastCalledWith('tag-values', { tag: 'team', from: 1700000000000, to: 1700003600000 });
    await ds.listValues({ refId: 'v', kind: 'tag_values', tag: 'namespace' }, range);
    expect(spy).toHaveBeenLastCalledWith('tag-values', { tag: 'namespace', from: 1700000000000, to: 1700003600000 });
    await expect(ds.listValues({ refId: 'v', kind: 'tag_keys' }, range)).resolves.toEqual([
      { text: 'team', value: 'team' },
    ]);
  });

  it("a host variable narrowed by the team variable: the chosen teams' hosts as a typed filter; All: every host", async () => {
    const spy = jest.spyOn(ds, 'getResource').mockResolvedValue({ values: ['host-a'] } as never);
    const hosts = { refId: 'v', kind: 'tag_values', tag: 'host', tags: { team: '$team' } } as const;
    variables = [{ name: 'team', current: { value: ['shop', 'web'] }, options: ['data', 'shop', 'web'] }];
    await expect(ds.listValues(hosts, range)).resolves.toEqual([{ text: 'host-a', value: 'host-a' }]);
    expect(spy).toHaveBeenLastCalledWith('tag-values', {
      tag: 'host',
      from: 1700000000000,
      to: 1700003600000,
      tags: '{"team":["shop","web"]}',
    });
    variables = [{ name: 'team', current: { value: '$__all' }, options: ['data', 'shop', 'web'] }];
    await ds.listValues(hosts, range);
    expect(spy).toHaveBeenLastCalledWith('tag-values', { tag: 'host', from: 1700000000000, to: 1700003600000 });
  });

  it('a host variable fills every tagged query, agent restarts included, as a list; All drops it', () => {
    variables = [{ name: 'host', current: { value: ['host-a'] }, options: ['host-a', 'host-b'] }];
    const restarts: FlowLensQuery = {
      refId: 'Anno',
      queryType: 'annotations',
      annotation: 'agent_restart',
      tags: { host: '$host' },
    };
    expect(ds.applyTemplateVariables(restarts, {}).tags).toEqual({ host: ['host-a'] });
    expect(
      ds.applyTemplateVariables({ refId: 'A', queryType: 'flamegraph', tags: { host: '$host' } }, {}).tags
    ).toEqual({ host: ['host-a'] });
    variables = [{ name: 'host', current: { value: '$__all' }, options: ['host-a', 'host-b'] }];
    expect(ds.applyTemplateVariables(restarts, {}).tags).toBe(undefined);
  });

  it('the variable editor asks which tag for tag values', () => {
    const onChange = jest.fn();
    render(
      <VariableQueryEditor
        datasource={ds}
        query={{ refId: 'v', kind: 'tag_values' } as FlowLensQuery}
        onChange={onChange}
        onRunQuery={jest.fn()}
      />
    );
    fireEvent.change(screen.getByTestId('flowlens-variable-tag'), { target: { value: 'namespace' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', kind: 'tag_values', tag: 'namespace' });
    fireEvent.click(screen.getByLabelText('Services'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', kind: 'services' });
  });
});

describe('annotations', () => {
  // the backend's frame (pkg/plugin/annotations.go): time, timeEnd, text, tags (comma-separated)
  const frame = toDataFrame({
    name: 'annotations',
    fields: [
      { name: 'time', type: FieldType.time, values: [1700000060000, 1700000600000] },
      { name: 'timeEnd', type: FieldType.time, values: [1700000180000, 1700000600000] },
      {
        name: 'text',
        type: FieldType.string,
        values: [
          'backend: error ratio up to 8.1% (486 of 6000 requests failed over 2m0s; threshold 5.0%)',
          'checkout: new service, first seen (not in the 7 days before)',
        ],
      },
      {
        name: 'tags',
        type: FieldType.string,
        values: ['flowlens,error_spike,service=backend', 'flowlens,new_service,service=checkout'],
      },
    ],
  });

  it("an annotation query defaults to error spikes and its frame's rows are events (a spike a region)", async () => {
    expect(ds.annotations.getDefaultQuery()).toEqual({ queryType: 'annotations', annotation: 'error_spike' });
    const events = await firstValueFrom(ds.annotations.processEvents({}, [frame]));
    expect(events).toEqual([
      {
        time: 1700000060000,
        timeEnd: 1700000180000,
        isRegion: true,
        text: 'backend: error ratio up to 8.1% (486 of 6000 requests failed over 2m0s; threshold 5.0%)',
        tags: ['flowlens', 'error_spike', 'service=backend'],
      },
      {
        time: 1700000600000,
        timeEnd: 1700000600000,
        isRegion: false,
        text: 'checkout: new service, first seen (not in the 7 days before)',
        tags: ['flowlens', 'new_service', 'service=checkout'],
      },
    ]);
    expect(annotationEvents([toDataFrame({ fields: [] })])).toEqual([]);
  });

  it('the editor picks the event and the spike threshold; a switch away drops them', () => {
    const onChange = jest.fn();
    const props = {
      datasource: ds,
      onChange,
      onRunQuery: jest.fn(),
      range,
    };
    const { rerender } = render(<QueryEditor {...props} query={{ refId: 'A', queryType: 'annotations' }} />);
    fireEvent.click(screen.getByLabelText('New service'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'annotations', annotation: 'new_service' });
    rerender(<QueryEditor {...props} query={{ refId: 'A', queryType: 'annotations', annotation: 'error_spike' }} />);
    fireEvent.change(screen.getByTestId('flowlens-annotation-threshold'), { target: { value: '0.1' } });
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'annotations',
      annotation: 'error_spike',
      threshold: '0.1',
    });
    rerender(
      <QueryEditor
        {...props}
        query={{ refId: 'A', queryType: 'annotations', annotation: 'error_spike', threshold: '0.1' }}
      />
    );
    fireEvent.click(screen.getByLabelText('RED'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'red' });
  });

  it('the editor offers agent restarts and stops, with a host instead of the spike threshold', () => {
    const onChange = jest.fn();
    const props = { datasource: ds, onChange, onRunQuery: jest.fn(), range };
    const { rerender } = render(<QueryEditor {...props} query={{ refId: 'A', queryType: 'annotations' }} />);
    expect(screen.queryByTestId('flowlens-annotation-host')).toBeNull();
    fireEvent.click(screen.getByLabelText('Agent restart'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'annotations', annotation: 'agent_restart' });
    rerender(<QueryEditor {...props} query={{ refId: 'A', queryType: 'annotations', annotation: 'agent_restart' }} />);
    expect(screen.queryByTestId('flowlens-annotation-threshold')).toBeNull();
    fireEvent.change(screen.getByTestId('flowlens-annotation-host'), { target: { value: 'node-a' } });
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'A',
      queryType: 'annotations',
      annotation: 'agent_restart',
      host: 'node-a',
    });
    rerender(<QueryEditor {...props} query={{ refId: 'A', queryType: 'annotations', annotation: 'agent_stop' }} />);
    expect(screen.getByTestId('flowlens-annotation-host')).toBeInTheDocument();
  });
});
