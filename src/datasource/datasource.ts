import type { CoreApp, DataSourceInstanceSettings, ScopedVars, TimeRange } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import {
  DEFAULT_QUERY,
  FILTER_KEYS,
  FLAME_PICKERS,
  type FlamePicker,
  type FlowLensOptions,
  type FlowLensQuery,
} from './types';

/** One value of a flame graph picker (resource `profile-values`): the busiest first. */
export interface ProfileValue {
  value: string;
  process: string;
  weight: number;
}

/** Separates the values of a multi-value variable while they are filled in (no value holds it). */
const SEP = '\u0000';

export class FlowLensDataSource extends DataSourceWithBackend<FlowLensQuery, FlowLensOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<FlowLensOptions>) {
    super(instanceSettings);
  }

  getDefaultQuery(app: CoreApp): Partial<FlowLensQuery> {
    // Explore opens on the request log as log lines: the place to find a request and open its trace.
    return app === 'explore' ? { queryType: 'sql_log', format: 'logs' } : DEFAULT_QUERY;
  }

  /**
   * Every text option may hold variables; an option that is empty once filled in is left out (not set). The flame
   * graph's pickers become lists (a multi-value variable gives one entry per value), as the backend reads them.
   */
  applyTemplateVariables(query: FlowLensQuery, scopedVars: ScopedVars): FlowLensQuery {
    const templateSrv = getTemplateSrv();
    const out: FlowLensQuery = { ...query };
    const flame = query.queryType === 'flamegraph';
    for (const key of FILTER_KEYS) {
      const v = query[key];
      if (v === undefined || (flame && key === 'service')) {
        continue;
      }
      const filled = templateSrv.replace(String(v), scopedVars).trim();
      if (filled === '') {
        delete out[key];
      } else {
        out[key] = filled;
      }
    }
    if (flame) {
      const list = (v: unknown): string[] =>
        (Array.isArray(v) ? v : [v]).flatMap((x) =>
          templateSrv
            .replace(String(x), scopedVars, (value: string | string[]) =>
              Array.isArray(value) ? value.join(SEP) : value
            )
            .split(SEP)
            .map((s) => s.trim())
            .filter((s) => s !== '')
        );
      const lists = out as Record<FlamePicker, unknown>;
      for (const key of FLAME_PICKERS) {
        const v = query[key];
        if (v === undefined) {
          continue;
        }
        const filled = list(v);
        if (filled.length === 0) {
          delete lists[key];
        } else {
          lists[key] = filled;
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

  /** The values of one flame graph filter in the range, among the profile rows the other filters match. */
  async profileValues(field: FlamePicker, query: FlowLensQuery, range: TimeRange | undefined): Promise<ProfileValue[]> {
    const filled = this.applyTemplateVariables(query, {});
    const params: Record<string, string | string[]> = { field, event: filled.event ?? 'on_cpu' };
    if (range) {
      params.from = String(range.from.valueOf());
      params.to = String(range.to.valueOf());
    }
    for (const key of FLAME_PICKERS) {
      const v = filled[key];
      // the picker's own field lists every value; a variable not filled in (no dashboard here) filters nothing
      if (key !== field && v !== undefined) {
        const vals = (Array.isArray(v) ? v : [v]).map(String).filter((s) => !s.includes('$'));
        if (vals.length > 0) {
          params[key] = vals;
        }
      }
    }
    const res = await this.getResource<{ values: ProfileValue[] }>('profile-values', params);
    return res.values ?? [];
  }
}
