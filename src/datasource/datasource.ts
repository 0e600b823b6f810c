import type {
  AdHocVariableFilter,
  AnnotationEvent,
  CoreApp,
  DataFrame,
  DataSourceGetTagKeysOptions,
  DataSourceGetTagValuesOptions,
  DataSourceInstanceSettings,
  MetricFindValue,
  ScopedVars,
  TimeRange,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { of } from 'rxjs';
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
  TAGGED_QUERY_TYPES,
  type TagFilters,
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

  /**
   * Annotations from FlowLens events (queryType annotations): the backend's frame of time, timeEnd, text and
   * tags (comma-separated) becomes one event each, a region when it has an end.
   */
  annotations = {
    getDefaultQuery: (): Partial<FlowLensQuery> => ({ queryType: 'annotations', annotation: 'error_spike' }),
    processEvents: (_anno: unknown, frames: DataFrame[]) => of(annotationEvents(frames)),
  };

  getDefaultQuery(app: CoreApp): Partial<FlowLensQuery> {
    // Explore opens on the request log as log lines: the place to find a request and open its trace.
    return app === 'explore' ? { queryType: 'sql_log', format: 'logs' } : DEFAULT_QUERY;
  }

  /**
   * Every text option may hold variables. A list filter (LIST_KEYS) becomes the array of values it
   * stands for (a multi-value variable: each value) and is left out for "All"; any other option is
   * text. An option that is empty once filled in is left out (not set).
   */
  applyTemplateVariables(query: FlowLensQuery, scopedVars: ScopedVars, filters?: AdHocVariableFilter[]): FlowLensQuery {
    const templateSrv = getTemplateSrv();
    const out: FlowLensQuery = { ...query };
    if (query.group_by !== undefined) {
      // a variable may choose the grouping (the map's group-by picker); "service" is the map's own naming
      const groups = interpolateList(templateSrv, query.group_by, scopedVars);
      const kept = groups === 'all' ? [] : groups.filter((g) => !(query.queryType === 'map' && g === 'service'));
      if (kept.length > 0) {
        out.group_by = kept;
      } else {
        delete out.group_by;
      }
    }
    const tags = this.tagFilters(query, scopedVars, filters);
    if (tags) {
      out.tags = tags;
    } else {
      delete out.tags;
    }
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

  /**
   * The query's tag filters with variables filled in (each value a list, a tag whose variable is All left out),
   * and the dashboard's ad-hoc filters added as typed filters: `=` one value, `=|` several. The backend matches
   * values exactly (no regular expressions, no negation), so another operator is refused rather than ignored.
   */
  private tagFilters(
    query: FlowLensQuery,
    scopedVars: ScopedVars,
    filters: AdHocVariableFilter[] | undefined
  ): TagFilters | undefined {
    const out: Record<string, string[]> = {};
    for (const [tag, value] of Object.entries(query.tags ?? {})) {
      const values = interpolateList(getTemplateSrv(), value, scopedVars);
      if (values !== 'all' && values.length > 0) {
        out[tag] = values;
      }
    }
    if (filters?.length && TAGGED_QUERY_TYPES.has(query.queryType ?? 'red')) {
      for (const f of filters) {
        let values: string[];
        if (f.operator === '=') {
          values = [f.value];
        } else if (f.operator === '=|') {
          values = f.values ?? [f.value];
        } else {
          throw new Error(
            `FlowLens: ad-hoc filter ${f.key} ${f.operator} ${f.value}: only = and =| (one of) apply to tags`
          );
        }
        // a tag filtered by the query and by an ad-hoc filter: both must hold, so the values both allow
        const both = out[f.key] ? out[f.key].filter((v) => values.includes(v)) : values;
        if (both.length === 0) {
          throw new Error(
            `FlowLens: the ad-hoc filter ${f.key} ${f.operator} ${values.join(', ')} excludes every ${f.key} of the query (${out[f.key].join(', ')})`
          );
        }
        out[f.key] = both;
      }
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }

  /** Ad-hoc filter keys: the tags queries accept (process, pod, ..., pod labels and business tags seen). */
  async getTagKeys(options?: DataSourceGetTagKeysOptions<FlowLensQuery>): Promise<MetricFindValue[]> {
    const res = await this.getResource<{ keys: string[] }>('tag-values', {
      keys: '1',
      ...rangeParams(options?.timeRange),
    });
    return (res.keys ?? []).map((k) => ({ text: k, value: k }));
  }

  /** Ad-hoc filter values: the values the tag took over the range. */
  async getTagValues(options: DataSourceGetTagValuesOptions<FlowLensQuery>): Promise<MetricFindValue[]> {
    const res = await this.getResource<{ values: string[] }>('tag-values', {
      tag: options.key,
      ...rangeParams(options.timeRange),
    });
    return (res.values ?? []).map((v) => ({ text: v, value: v }));
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
    if (query.kind === 'tag_keys') {
      return this.getTagKeys({ timeRange: range, filters: [] });
    }
    // the same typed tag filters as a query's (a team variable set to All: no filter)
    const tags = this.tagFilters({ refId: query.refId, tags: query.tags }, scopedVars, undefined);
    if (query.kind === 'tag_values') {
      if (!tags) {
        return this.getTagValues({ key: query.tag || 'team', timeRange: range, filters: [] });
      }
      // the values of the processes (or services) with those tags: a team's hosts
      const res = await this.getResource<{ values: string[] }>('tag-values', {
        tag: query.tag || 'team',
        ...rangeParams(range),
        tags: JSON.stringify(tags),
      });
      return (res.values ?? []).map((v) => ({ text: v, value: v }));
    }
    const params: Record<string, string | number | string[]> = {
      kind: query.kind ?? 'services',
      ...rangeParams(range),
    };
    const services = interpolateList(getTemplateSrv(), query.service, scopedVars);
    if (services !== 'all' && services.length > 0) {
      params.service = services;
    }
    if (tags) {
      params.tags = JSON.stringify(tags);
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

function rangeParams(range: TimeRange | undefined): Record<string, number> {
  return range ? { from: range.from.valueOf(), to: range.to.valueOf() } : {};
}

/** The annotations frame's rows as Grafana's events (epoch ms; tags split at commas). */
export function annotationEvents(frames: DataFrame[]): AnnotationEvent[] {
  const out: AnnotationEvent[] = [];
  for (const frame of frames) {
    const field = (name: string) => frame.fields.find((f) => f.name === name);
    const time = field('time');
    if (!time) {
      continue;
    }
    const [end, text, tags] = [field('timeEnd'), field('text'), field('tags')];
    for (let i = 0; i < frame.length; i++) {
      const start = Number(time.values[i]);
      const stop = end ? Number(end.values[i]) : start;
      out.push({
        time: start,
        timeEnd: stop,
        isRegion: stop > start,
        text: String(text?.values[i] ?? ''),
        tags: String(tags?.values[i] ?? '')
          .split(',')
          .filter((t) => t !== ''),
      });
    }
  }
  return out;
}
