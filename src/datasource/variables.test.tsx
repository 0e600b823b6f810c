import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { dateTime, type DataQueryRequest, type ScopedVars } from '@grafana/data';
import { firstValueFrom } from 'rxjs';
import { testDatasource } from './testDatasource';
import { VariableQueryEditor } from './components/VariableQueryEditor';
import type { FlowLensQuery, FlowLensVariableQuery } from './types';
import type { FlowLensVariableSupport } from './variables';

/**
 * Dashboard variables as Grafana's template service holds them, and its replace: $name, ${name},
 * ${name:format} and [[name]]; a format function gets the variable's value (an array for a
 * multi-value one; for "All", the custom all value if the variable has one, else every option).
 */
interface Var {
  name: string;
  current: { value: string | string[] };
  options: string[];
  allValue?: string;
}
let variables: Var[] = [];

function valueOf(v: Var): string | string[] {
  const cur = v.current.value;
  const all = cur === '$__all' || (Array.isArray(cur) && cur.includes('$__all'));
  return all ? (v.allValue ?? v.options) : cur;
}

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({
    getVariables: () => variables,
    replace: (text: string, scoped: ScopedVars = {}, format?: (v: unknown) => string) =>
      text.replace(/\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)\]\]/g, (ref, a, b, c) => {
        const name = a ?? b ?? c;
        const scopedValue = scoped[name]?.value;
        const v = variables.find((x) => x.name === name);
        const value = scopedValue !== undefined ? String(scopedValue) : v ? valueOf(v) : undefined;
        if (value === undefined) {
          return ref;
        }
        return format ? format(value) : Array.isArray(value) ? `{${value.join(',')}}` : value;
      }),
  }),
}));

const ds = testDatasource();

const service = (value: string | string[], allValue?: string): Var => ({
  name: 'service',
  current: { value },
  options: ['backend', 'frontend', 'postgres'],
  allValue,
});

beforeEach(() => {
  variables = [];
});

describe('applyTemplateVariables', () => {
  const q: FlowLensQuery = { refId: 'A', queryType: 'red', service: '$service', limit: '$service' };

  it('a multi-value variable gives an array of its values, never one string', () => {
    variables = [service(['backend', 'postgres'])];
    const out = ds.applyTemplateVariables({ refId: 'A', queryType: 'red', service: '$service' }, {});
    expect(out).toEqual({ refId: 'A', queryType: 'red', service: ['backend', 'postgres'] });
  });

  it('a single value is an array of one; each list filter and each syntax is filled in', () => {
    variables = [service('backend'), { name: 'proto', current: { value: ['HTTP', 'gRPC'] }, options: [] }];
    const out = ds.applyTemplateVariables(
      {
        refId: 'A',
        queryType: 'sql_log',
        service: '${service}',
        l7_protocol: '[[proto]]',
        endpoint: '/api/cart',
        status: ['server_error', 'timeout'],
        client_service: ['$service', 'loadgen'],
        search: '$service',
      },
      {}
    );
    expect(out).toEqual({
      refId: 'A',
      queryType: 'sql_log',
      service: ['backend'],
      l7_protocol: ['HTTP', 'gRPC'],
      endpoint: ['/api/cart'],
      status: ['server_error', 'timeout'],
      client_service: ['backend', 'loadgen'],
      search: 'backend',
    });
  });

  it('"All" leaves the filter out, whatever the all value: never a glob', () => {
    for (const allValue of [undefined, '*', '.*']) {
      variables = [service(['$__all'], allValue)];
      const out = ds.applyTemplateVariables(q, {});
      expect(out).not.toHaveProperty('service');
      expect(out.queryType).toBe('red');
    }
  });

  it("a panel repeated over the variable uses its own value, not the dashboard's All", () => {
    variables = [service('$__all')];
    const out = ds.applyTemplateVariables(
      { refId: 'A', service: '$service' },
      { service: { text: 'x', value: 'frontend' } }
    );
    expect(out.service).toEqual(['frontend']);
  });

  it('an empty selection leaves the filter out', () => {
    variables = [service([])];
    expect(ds.applyTemplateVariables({ refId: 'A', service: '$service' }, {})).toEqual({ refId: 'A' });
  });
});

describe('query variables', () => {
  const range = { from: dateTime(1700000000000), to: dateTime(1700003600000), raw: { from: 'now-1h', to: 'now' } };

  function spyResource(values: string[]) {
    return jest.spyOn(ds, 'getResource').mockResolvedValue({ values } as never);
  }

  it('lists a kind over the range through the backend', async () => {
    const spy = spyResource(['backend', 'frontend']);
    await expect(ds.listValues({ refId: 'v', kind: 'services' }, range)).resolves.toEqual([
      { text: 'backend', value: 'backend' },
      { text: 'frontend', value: 'frontend' },
    ]);
    expect(spy).toHaveBeenLastCalledWith('values', { kind: 'services', from: 1700000000000, to: 1700003600000 });
  });

  it('endpoints of a multi-value service variable ask for each service; All asks for every one', async () => {
    const spy = spyResource(['/products']);
    variables = [service(['backend', 'frontend'])];
    await ds.metricFindQuery({ refId: 'v', kind: 'endpoints', service: '$service' }, { range });
    expect(spy).toHaveBeenLastCalledWith('values', {
      kind: 'endpoints',
      from: 1700000000000,
      to: 1700003600000,
      service: ['backend', 'frontend'],
    });
    variables = [service('$__all', '*')];
    await ds.metricFindQuery({ refId: 'v', kind: 'protocols', service: '$service' }, { range });
    expect(spy).toHaveBeenLastCalledWith('values', { kind: 'protocols', from: 1700000000000, to: 1700003600000 });
  });

  it("a team variable narrows the services to the team's (a typed tag filter); All lists every service", async () => {
    const spy = spyResource(['backend']);
    variables = [{ name: 'team', current: { value: ['shop'] }, options: ['data', 'shop', 'web'] }];
    await ds.listValues({ refId: 'v', kind: 'services', tags: { team: '$team' } }, range);
    expect(spy).toHaveBeenLastCalledWith('values', {
      kind: 'services',
      from: 1700000000000,
      to: 1700003600000,
      tags: '{"team":["shop"]}',
    });
    variables = [{ name: 'team', current: { value: ['shop', 'web'] }, options: ['data', 'shop', 'web'] }];
    await ds.listValues({ refId: 'v', kind: 'endpoints', tags: { team: '$team' } }, range);
    expect(spy).toHaveBeenLastCalledWith('values', {
      kind: 'endpoints',
      from: 1700000000000,
      to: 1700003600000,
      tags: '{"team":["shop","web"]}',
    });
    variables = [{ name: 'team', current: { value: '$__all' }, options: ['data', 'shop', 'web'] }];
    await ds.listValues({ refId: 'v', kind: 'services', tags: { team: '$team' } }, range);
    expect(spy).toHaveBeenLastCalledWith('values', { kind: 'services', from: 1700000000000, to: 1700003600000 });
  });

  it("the variable support answers Grafana's variable query with the values", async () => {
    spyResource(['HTTP', 'PostgreSQL']);
    const support = ds.variables as FlowLensVariableSupport;
    expect(support.getType()).toBe('custom');
    const request = {
      targets: [{ refId: 'v', kind: 'protocols' }],
      range,
      scopedVars: {},
    } as unknown as DataQueryRequest<FlowLensVariableQuery>;
    await expect(firstValueFrom(support.query(request))).resolves.toEqual({
      data: [
        { text: 'HTTP', value: 'HTTP' },
        { text: 'PostgreSQL', value: 'PostgreSQL' },
      ],
    });
  });
});

describe('VariableQueryEditor', () => {
  function setup(query: FlowLensVariableQuery) {
    const onChange = jest.fn();
    render(
      <VariableQueryEditor datasource={ds} query={query as FlowLensQuery} onChange={onChange} onRunQuery={jest.fn()} />
    );
    return onChange;
  }

  it('offers services, client services, endpoints and protocols', () => {
    const onChange = setup({ refId: 'v' });
    for (const label of ['Services', 'Client services', 'Endpoints', 'Protocols']) {
      expect(screen.getByLabelText(label)).toBeInTheDocument();
    }
    expect(screen.queryByTestId('flowlens-variable-service')).not.toBeInTheDocument();
    fireEvent.click(screen.getByLabelText('Endpoints'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', kind: 'endpoints' });
  });

  it('narrows endpoints to services, which may be a variable; another kind drops them', () => {
    const onChange = setup({ refId: 'v', kind: 'endpoints', service: ['backend', 'frontend'] });
    const input = screen.getByTestId('flowlens-variable-service');
    expect(input).toHaveValue('backend, frontend');
    fireEvent.change(input, { target: { value: '$service' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', kind: 'endpoints', service: '$service' });
    fireEvent.change(input, { target: { value: ' ' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', kind: 'endpoints' });
    fireEvent.click(screen.getByLabelText('Services'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', kind: 'services' });
  });

  it('narrows services to a team, which may be a variable; tag values drop it', () => {
    const onChange = setup({ refId: 'v', kind: 'services' });
    fireEvent.change(screen.getByTestId('flowlens-variable-team'), { target: { value: '$team' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', kind: 'services', tags: { team: '$team' } });
  });

  it('a team cleared or a switch to tag values drops the team', () => {
    const onChange = setup({ refId: 'v', kind: 'services', tags: { team: '$team' } });
    const input = screen.getByTestId('flowlens-variable-team');
    expect(input).toHaveValue('$team');
    fireEvent.change(input, { target: { value: ' ' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', kind: 'services' });
    fireEvent.click(screen.getByLabelText('Tag values'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'v', kind: 'tag_values' });
  });
});
