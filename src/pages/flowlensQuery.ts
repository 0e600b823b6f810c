import { lastValueFrom } from 'rxjs';
import { type DataFrame, type DataFrameJSON, dataFrameFromJSON } from '@grafana/data';
import { getBackendSrv, isFetchError } from '@grafana/runtime';
import { DATASOURCE_TYPE, DATASOURCE_UID } from '../components/constants';
import { type ProfileValue, profileValueParams } from '../datasource/profileValues';
import { tagNames } from '../datasource/components/FilterPickers';
import type { FlamePicker, FlowLensQuery } from '../datasource/types';

interface QueryResult {
  frames?: DataFrameJSON[];
  error?: string;
  status?: number;
}

interface QueryResponse {
  results?: Record<string, QueryResult>;
}

/** A FlowLens query's answer: its frames, or the error the datasource (or Grafana) gave. */
export interface FlowLensAnswer {
  frames: DataFrame[];
  error?: string;
}

/**
 * Runs one query of the FlowLens datasource through Grafana's /api/ds/query (the request a panel's query runner
 * makes), from/to in epoch ms. A refused query is an answer with its error, not an exception.
 */
export async function queryFlowLens(
  // a page may ask for several values of an option the editor's model holds one of (close types)
  query: Omit<FlowLensQuery, 'close_type'> & { close_type?: string | string[] },
  fromMs: number,
  toMs: number
): Promise<FlowLensAnswer> {
  const refId = query.refId || 'A';
  const data = {
    queries: [
      {
        intervalMs: 1000,
        maxDataPoints: 1000,
        ...query,
        refId,
        datasource: { uid: DATASOURCE_UID, type: DATASOURCE_TYPE },
      },
    ],
    from: String(Math.floor(fromMs)),
    to: String(Math.ceil(toMs)),
  };
  let response: QueryResponse;
  try {
    const res = await lastValueFrom(
      getBackendSrv().fetch<QueryResponse>({ url: '/api/ds/query', method: 'POST', data, showErrorAlert: false })
    );
    response = res.data;
  } catch (e) {
    // Grafana answers a refused query with a 400 that still carries the result's error
    const body = isFetchError(e) ? (e.data as QueryResponse & { message?: string }) : undefined;
    const result = body?.results?.[refId];
    if (result?.error) {
      return { frames: [], error: result.error };
    }
    const message = body?.message ?? (isFetchError(e) ? e.statusText : e instanceof Error ? e.message : String(e));
    return { frames: [], error: message || 'the query failed' };
  }
  const result = response.results?.[refId];
  return {
    frames: (result?.frames ?? []).map((f) => dataFrameFromJSON(f)),
    error: result?.error,
  };
}

/** The values of one flame graph filter over [from, to] ms among the profile rows `filters` match (resource `profile-values`). */
export async function profileValuesOf(
  field: FlamePicker,
  filters: Pick<FlowLensQuery, FlamePicker | 'event'>,
  fromMs: number,
  toMs: number
): Promise<ProfileValue[]> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(profileValueParams(field, filters, { from: fromMs, to: toMs }))) {
    for (const x of Array.isArray(v) ? v : [v]) {
      params.append(k, x);
    }
  }
  const res = await flowlensResource<{ values?: ProfileValue[] }>(`profile-values?${params}`);
  return res.values ?? [];
}

/** GET of one of the FlowLens datasource's resources (path with its parameters), through Grafana's proxy of them. */
export async function flowlensResource<T>(path: string): Promise<T> {
  const res = await lastValueFrom(
    getBackendSrv().fetch<T>({
      url: `/api/datasources/uid/${DATASOURCE_UID}/resources/${path}`,
      method: 'GET',
      showErrorAlert: false,
    })
  );
  return res.data;
}

/** The tag names the pages' group-by pickers offer (the query editor's list: tagNames). */
export function pageTagNames() {
  return tagNames(flowlensResource);
}
