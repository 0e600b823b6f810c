import type { CoreApp, DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { DEFAULT_QUERY, FILTER_KEYS, type FlowLensOptions, type FlowLensQuery } from './types';

/** Queries run in the Go backend (also for alerting); the frontend only fills in dashboard variables. */
export class FlowLensDataSource extends DataSourceWithBackend<FlowLensQuery, FlowLensOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<FlowLensOptions>) {
    super(instanceSettings);
  }

  getDefaultQuery(_app: CoreApp): Partial<FlowLensQuery> {
    return DEFAULT_QUERY;
  }

  applyTemplateVariables(query: FlowLensQuery, scopedVars: ScopedVars): FlowLensQuery {
    const templateSrv = getTemplateSrv();
    const out: FlowLensQuery = { ...query };
    for (const key of FILTER_KEYS) {
      const v = query[key];
      if (v) {
        out[key] = templateSrv.replace(v, scopedVars);
      }
    }
    return out;
  }

  filterQuery(query: FlowLensQuery): boolean {
    return !query.hide;
  }
}
