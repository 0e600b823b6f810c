import type { CoreApp, DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { DEFAULT_QUERY, FILTER_KEYS, type FlowLensOptions, type FlowLensQuery } from './types';

/** Queries run in the Go backend (also for alerting); the frontend only fills in dashboard variables. */
export class FlowLensDataSource extends DataSourceWithBackend<FlowLensQuery, FlowLensOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<FlowLensOptions>) {
    super(instanceSettings);
  }

  getDefaultQuery(app: CoreApp): Partial<FlowLensQuery> {
    // Explore opens on the request log as log lines: the place to find a request and open its trace.
    return app === 'explore' ? { queryType: 'sql_log', format: 'logs' } : DEFAULT_QUERY;
  }

  /** Every text option may hold variables; an option that is empty once filled in is left out (not set). */
  applyTemplateVariables(query: FlowLensQuery, scopedVars: ScopedVars): FlowLensQuery {
    const templateSrv = getTemplateSrv();
    const out: FlowLensQuery = { ...query };
    for (const key of FILTER_KEYS) {
      const v = query[key];
      if (v === undefined) {
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
}
