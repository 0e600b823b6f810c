import type { CoreApp, DataSourceInstanceSettings, MetricFindValue, ScopedVars, TimeRange } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import {
  DEFAULT_QUERY,
  FILTER_KEYS,
  FLAME_PICKERS,
  type FilterKey,
  type FlamePicker,
  type FlowLensOptions,
  type FlowLensQuery,
  type FlowLensVariableQuery,
  LIST_KEYS,
  type ListKey,
} from './types';
import { type ProfileValue, profileValueParams } from './profileValues';
import { FlowLensVariableSupport, interpolateList } from './variables';

const LIST_KEY_SET: ReadonlySet<string> = new Set(LIST_KEYS);

export type { ProfileValue } from './profileValues';

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
        // a variable's text: the backend checks what it stands for (order_by: time or duration)
        (out as Record<FilterKey, string>)[key] = filled;
      }
    }
    if (query.queryType === 'flamegraph') {
      // the flame graph's pickers are lists too (pid and tid as text: the backend reads numeric strings)
      const lists = out as Record<FlamePicker, unknown>;
      for (const key of FLAME_PICKERS) {
        const v = query[key];
        if (v === undefined || key === 'service') {
          continue;
        }
        const values = interpolateList(templateSrv, Array.isArray(v) ? v.map(String) : String(v), scopedVars);
        if (values === 'all' || values.length === 0) {
          delete lists[key];
        } else {
          lists[key] = values;
        }
      }
      for (const key of ['baselineFrom', 'baselineTo', 'span_start_us', 'span_duration_us'] as const) {
        const v = query[key];
        if (v !== undefined) {
          const filled = templateSrv.replace(String(v), scopedVars).trim();
          if (filled === '') {
            delete out[key];
          } else {
            out[key] = filled;
          }
        }
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

  /** The values of one flame graph filter in the range, among the profile rows the other filters match. */
  async profileValues(field: FlamePicker, query: FlowLensQuery, range: TimeRange | undefined): Promise<ProfileValue[]> {
    const filled = this.applyTemplateVariables(query, {});
    const params = profileValueParams(field, filled, range && { from: range.from.valueOf(), to: range.to.valueOf() });
    const res = await this.getResource<{ values: ProfileValue[] }>('profile-values', params);
    return res.values ?? [];
  }
}
