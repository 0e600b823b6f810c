import { ROUTES, pageUrl } from './constants';

/**
 * The range (ms since the epoch) of the profile rows that hold a span's samples. The agent labels a row with the
 * whole second its one-second drain interval started in, and intervals are not aligned to seconds: a sample taken at
 * t is in the row of second floor(t) or floor(t)-1. So the seconds from the one before the span's start to the one
 * of its end, both included (the same rule as pkg/query SpanWindow, which a request-log row's link runs).
 */
export function spanRange(startMs: number, durationMs: number): { from: number; to: number } {
  const from = (Math.floor(startMs / 1000) - 1) * 1000;
  return { from, to: Math.max(from + 1000, Math.floor((startMs + durationMs) / 1000) * 1000) };
}

/** What the Profiling page shows (src/pages/Profiling.tsx ProfilingState): the URL parameters of a link to it. */
export interface ProfilingTarget {
  service?: string;
  process?: string;
  pid?: string | number;
  tid?: string | number;
  from: number | string;
  to: number | string;
}

/**
 * "What was this thread doing": the Profiling page with the on-CPU and off-CPU flame graphs of a process (thread)
 * side by side over a range.
 */
export function profilingHref(t: ProfilingTarget): string {
  const params = new URLSearchParams();
  for (const k of ['service', 'process', 'pid', 'tid', 'from', 'to'] as const) {
    const v = t[k];
    if (v !== undefined && v !== '') {
      params.set(k, String(v));
    }
  }
  return `${pageUrl(ROUTES.profiling)}?${params}`;
}
