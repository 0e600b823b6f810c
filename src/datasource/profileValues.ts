import { FLAME_PICKERS, type FlamePicker, type FlowLensQuery } from './types';

/** One value of a flame graph picker (resource `profile-values`, pkg/plugin/resources.go): the busiest first. */
export interface ProfileValue {
  value: string;
  process: string;
  weight: number;
}

/**
 * The parameters of the `profile-values` resource listing `field`'s values among the profile rows the other filters
 * of `filters` match (the query editor's pickers and the Profiling page's): the picker's own field lists every value,
 * a variable not filled in (no dashboard) filters nothing; from/to in ms since the epoch.
 */
export function profileValueParams(
  field: FlamePicker,
  filters: Pick<FlowLensQuery, FlamePicker | 'event'>,
  range?: { from: number; to: number }
): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = { field, event: filters.event ?? 'on_cpu' };
  if (range) {
    params.from = String(range.from);
    params.to = String(range.to);
  }
  for (const key of FLAME_PICKERS) {
    const v = filters[key];
    if (key !== field && v !== undefined) {
      const vals = (Array.isArray(v) ? v : [v]).map(String).filter((x) => x.trim() !== '' && !x.includes('$'));
      if (vals.length > 0) {
        params[key] = vals;
      }
    }
  }
  return params;
}
