import type { CoreApp, DataSourceInstanceSettings, MetricFindValue, ScopedVars, TimeRange } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import {
  DEFAULT_QUERY,
  FILTER_KEYS,
  type FlowLensOptions,
  type FlowLensQuery,
  type FlowLensVariableQuery,
  LIST_KEYS,
  type ListKey,
} from './types';
import { FlowLensVariableSupport, interpolateList } from './variables';

const LIST_KEY_SET: ReadonlySet<string> = new Set(LIST_KEYS);

/** Queries run in the Go backend (also for alerting); the frontend only fills in dashboard variables. */
export class FlowLensDataSource extends DataSourceWithBackend<FlowLensQuery, FlowLensOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<FlowLensOptions>) {
    super(instanceSettings);
    this.variables = new FlowLensVariableSupport(this);
  }

  getDefaultQuery(app: CoreApp): Partial<FlowLensQuery> {
    // Explore opens on the request log as log lines: the place to find a request and open its trace.
    return app === 'explore' ? { queryType: 'sql_log', format: 'logs' } : DEFAULT_QUERY;
  }

  /**
   * Every text option may hold variables. A list filter (LIST_KEYS) becomes the array of values it
   * stands for (a multi-value variable: each value) and is left out for "All"; any other option is
   * text. An option that is empty once filled in is left out (not set).
   */
  applyTemplateVariables(query: FlowLensQuery, scopedVars: ScopedVars): FlowLensQuery {
    const templateSrv = getTemplateSrv();
    const out: FlowLensQuery = { ...query };
    for (const key of FILTER_KEYS) {
      const v = query[key];
      if (v === undefined) {
        continue;
      }
      if (LIST_KEY_SET.has(key)) {
        const values = interpolateList(templateSrv, v, scopedVars);
        if (values === 'all' || values.length === 0) {
          delete out[key];
        } else {
          out[key as ListKey] = values;
        }
        continue;
      }
      const filled = templateSrv.replace(String(v), scopedVars).trim();
      if (filled === '') {
        delete out[key];
      } else {
        out[key] = filled;
      }
    }
    return out;
  }

  filterQuery(query: FlowLensQuery): boolean {
    return !query.hide;
  }

  /**
   * The values a query variable lists (the backend's `values` resource) over the range; its
   * service may hold variables, a multi-value one narrowing to each of its services.
   */
  async listValues(
    query: FlowLensVariableQuery,
    range?: TimeRange,
    scopedVars: ScopedVars = {}
  ): Promise<MetricFindValue[]> {
    const params: Record<string, string | number | string[]> = { kind: query.kind ?? 'services' };
    if (range) {
      params.from = range.from.valueOf();
      params.to = range.to.valueOf();
    }
    const services = interpolateList(getTemplateSrv(), query.service, scopedVars);
    if (services !== 'all' && services.length > 0) {
      params.service = services;
    }
    const answer = await this.getResource<{ values: string[] }>('values', params);
    return answer.values.map((v) => ({ text: v, value: v }));
  }

  /** The same for callers that still use metricFindQuery (older variable editors, ad-hoc lookups). */
  metricFindQuery(
    query: FlowLensVariableQuery,
    options?: { range?: TimeRange; scopedVars?: ScopedVars }
  ): Promise<MetricFindValue[]> {
    return this.listValues(query, options?.range, options?.scopedVars);
  }
}
