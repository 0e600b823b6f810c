import { CustomVariableSupport, type DataQueryRequest, type DataQueryResponse, type ScopedVars } from '@grafana/data';
import type { TemplateSrv } from '@grafana/runtime';
import { from, map, type Observable } from 'rxjs';
import type { FlowLensDataSource } from './datasource';
import { VariableQueryEditor } from './components/VariableQueryEditor';
import type { FlowLensVariableQuery } from './types';

/** Grafana's value of a variable set to "All". */
const ALL_VALUE = '$__all';

/** A variable reference: $name, ${name}, ${name:format}, [[name]]. */
const VARIABLE_REF = /\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]/g;

function isAll(value: unknown): boolean {
  return value === ALL_VALUE || (Array.isArray(value) && value.includes(ALL_VALUE));
}

/**
 * A multi-value filter with its variables filled in, as the list of values it stands for: a
 * multi-value variable gives each of its values, never one glob or joined string. `'all'` when
 * the text names a variable set to "All" (outside the panel's scoped variables): the filter is
 * then left out, so every value matches, also ones that appear after the variable was refreshed
 * and whatever custom "all value" the variable has. Text beside the variables is one literal value.
 */
export function interpolateList(
  templateSrv: TemplateSrv,
  value: string | string[] | undefined,
  scopedVars: ScopedVars
): string[] | 'all' {
  const texts = value === undefined ? [] : Array.isArray(value) ? value : [value];
  const allNames = new Set(
    templateSrv
      .getVariables()
      .filter((v) => 'current' in v && isAll(v.current?.value))
      .map((v) => v.name)
  );
  const out: string[] = [];
  for (const text of texts) {
    for (const m of String(text).matchAll(VARIABLE_REF)) {
      const name = m[1] ?? m[2] ?? m[3];
      if (allNames.has(name) && !(name in scopedVars)) {
        return 'all';
      }
    }
    const collected: string[] = [];
    const rest = templateSrv.replace(String(text), scopedVars, (v: unknown) => {
      collected.push(...(Array.isArray(v) ? v : [v]).map((x) => String(x)));
      return '';
    });
    out.push(...collected, rest.trim());
  }
  return Array.from(new Set(out.filter((s) => s.trim() !== '')));
}

/** Query variables of FlowLens: services, client services, endpoints, protocols in the dashboard's range. */
export class FlowLensVariableSupport extends CustomVariableSupport<FlowLensDataSource, FlowLensVariableQuery> {
  editor = VariableQueryEditor;

  constructor(private readonly datasource: FlowLensDataSource) {
    super();
  }

  query(request: DataQueryRequest<FlowLensVariableQuery>): Observable<DataQueryResponse> {
    const q = request.targets[0] ?? { refId: 'variable' };
    return from(this.datasource.listValues(q, request.range, request.scopedVars)).pipe(
      map((values): DataQueryResponse => ({ data: values }))
    );
  }
}
