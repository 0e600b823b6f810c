import React, { useState } from 'react';
import type { TimeRange } from '@grafana/data';
import { Combobox, type ComboboxOption, InlineField, MultiCombobox } from '@grafana/ui';
import type { FlowLensDataSource } from '../datasource';
import type { FilterKey, FlowLensQuery, FlowLensQueryType, VariableKind } from '../types';

/** The backend's `values` list each picker offers (pkg/plugin resources: values?kind=). */
export const PICKER_KINDS: Partial<Record<FilterKey, VariableKind>> = {
  service: 'services',
  client_service: 'client_services',
  l7_protocol: 'protocols',
  endpoint: 'endpoints',
};

/** RED's own dimensions (pkg/query REDDimensions), offered before the tags. */
export const RED_DIMENSIONS: Array<ComboboxOption<string>> = [
  { value: 'service', label: 'service', description: 'the server' },
  { value: 'client_service', label: 'client_service', description: 'with service: one series per edge' },
  { value: 'l7_protocol', label: 'l7_protocol' },
  { value: 'endpoint', label: 'endpoint' },
  { value: 'observation_point', label: 'observation_point' },
];

interface PickerProps {
  query: FlowLensQuery;
  datasource: FlowLensDataSource;
  range?: TimeRange;
  /** a change, already run */
  onChange: (q: FlowLensQuery) => void;
}

/** A filter's values as a list: one value, a variable, or a list (a multi-value variable's). */
export function listOf(v: unknown): string[] {
  if (v === undefined || v === null || v === '') {
    return [];
  }
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** The query with key set to vals: one value stays a string (as dashboards write it), none unsets it. */
export function withList(query: FlowLensQuery, key: keyof FlowLensQuery, vals: string[]): FlowLensQuery {
  const next: FlowLensQuery = { ...query, [key]: vals.length === 1 ? vals[0] : vals };
  if (vals.length === 0) {
    delete next[key];
  }
  return next;
}

/** A failed resource call's message (the backend's error, else the fetch's). */
export function errorText(e: unknown): string {
  const err = e as { data?: { error?: string; message?: string }; message?: string };
  return err.data?.error ?? err.data?.message ?? err.message ?? String(e);
}

/** Options matching the typed text (the backend answers the whole range's list). */
function matching(values: string[], input: string): Array<ComboboxOption<string>> {
  const q = input.trim().toLowerCase();
  return values.filter((v) => !q || v.toLowerCase().includes(q)).map((v) => ({ value: v, label: v }));
}

/**
 * A multi-value filter whose options are the values seen in the range (services, client services,
 * protocols, endpoints: the endpoints of the chosen services); a typed value or a variable is kept too.
 */
export function ValuesPicker({
  field,
  label,
  tooltip,
  query,
  datasource,
  range,
  onChange,
}: PickerProps & { field: FilterKey; label: string; tooltip?: string }) {
  const [error, setError] = useState<string | undefined>(undefined);
  const kind = PICKER_KINDS[field];
  const options = async (input: string): Promise<Array<ComboboxOption<string>>> => {
    if (!kind) {
      return [];
    }
    try {
      // endpoints and protocols of the chosen servers (variables filled in)
      const service = field === 'endpoint' || field === 'l7_protocol' ? listOf(query.service) : [];
      const found = await datasource.listValues(
        { refId: 'picker', kind, service: service.length ? service : undefined },
        range
      );
      setError(undefined);
      return matching(
        found.map((f) => String(f.value ?? f.text)),
        input
      );
    } catch (e) {
      setError(errorText(e));
      return [];
    }
  };
  return (
    <InlineField label={label} labelWidth={16} tooltip={tooltip} invalid={Boolean(error)} error={error}>
      <MultiCombobox<string>
        id={`flowlens-picker-${field}`}
        data-testid={`flowlens-picker-${field}`}
        width="auto"
        minWidth={20}
        maxWidth={60}
        value={listOf(query[field])}
        options={options}
        createCustomValue
        placeholder="any"
        onChange={(opts) =>
          onChange(
            withList(
              query,
              field,
              opts.map((o) => o.value)
            )
          )
        }
      />
    </InlineField>
  );
}

/** A GET of one of the datasource's resources (the datasource's getResource, or a page's backend call). */
export type ResourceGet = <T>(path: string) => Promise<T>;

/**
 * The tag names queries accept (resource tags, and the business tags set on services), for group-by pickers: the
 * editor's and the app pages' (one list, whichever way the resource is reached).
 */
export async function tagNames(get: ResourceGet): Promise<Array<ComboboxOption<string>>> {
  const [resource, business] = await Promise.all([
    get<{ tags?: string[] }>('tag-values'),
    get<{ tags?: Array<{ key: string }> }>('tags').catch(() => ({ tags: [] })),
  ]);
  // the resource lists forms such as label.<key> and <business tag key: ...>: not names to pick
  const names = (resource.tags ?? []).filter((t) => !t.includes('<'));
  const keys = Array.from(new Set((business.tags ?? []).map((t) => t.key))).filter((k) => !names.includes(k));
  return [
    ...keys.sort().map((k) => ({ value: k, label: k, description: 'business tag' })),
    ...names.map((n) => ({ value: n, label: n, description: 'tag' })),
  ];
}

const datasourceGet =
  (datasource: FlowLensDataSource): ResourceGet =>
  <T,>(path: string) =>
    datasource.getResource<T>(path);

/** RED's group by: its dimensions and up to two tags of the server (team, namespace, workload, ...). */
export function RedGroupByPicker({ query, datasource, onChange }: PickerProps) {
  const [error, setError] = useState<string | undefined>(undefined);
  const options = async (input: string): Promise<Array<ComboboxOption<string>>> => {
    let tags: Array<ComboboxOption<string>> = [];
    try {
      tags = await tagNames(datasourceGet(datasource));
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    }
    const q = input.trim().toLowerCase();
    return [...RED_DIMENSIONS, ...tags].filter((o) => !q || (o.value ?? '').toLowerCase().includes(q));
  };
  return (
    <InlineField
      label="Group by"
      labelWidth={16}
      tooltip="one series per combination (default: service); tags are the server's, at most two"
      invalid={Boolean(error)}
      error={error}
    >
      <MultiCombobox<string>
        id="flowlens-picker-group_by"
        data-testid="flowlens-picker-group_by"
        width="auto"
        minWidth={20}
        maxWidth={60}
        value={listOf(query.group_by)}
        options={options}
        createCustomValue
        placeholder="service"
        onChange={(opts) => {
          const next: FlowLensQuery = { ...query, group_by: opts.map((o) => o.value) };
          if (opts.length === 0) {
            delete next.group_by;
          }
          onChange(next);
        }}
      />
    </InlineField>
  );
}

/** How each query type that groups by one tag of its ends (ONE_TAG_GROUP_TYPES, flamegraph) names the choice. */
const ONE_TAG_GROUPING: Partial<Record<FlowLensQueryType, { label: string; tooltip: string }>> = {
  map: { label: 'Nodes by', tooltip: 'name the nodes by a tag (an end without it keeps its service name)' },
  net_metrics: {
    label: 'Ends by',
    tooltip: 'one series per pair of tag values of the two ends (an end without the tag keeps its service name)',
  },
  netprofile_summary: {
    label: 'Ends by',
    tooltip: 'one series per pair of tag values of the two ends (an end without the tag keeps its service name)',
  },
  flow_log: {
    label: 'Group by',
    tooltip:
      'a table per pair of tag values of the two ends and observation point: flows, failed connects, bytes, retransmissions, RSTs (an end without the tag keeps its service name)',
  },
  flamegraph: {
    label: 'Roots by',
    tooltip:
      "each stack under its process's value of a tag, to compare workloads, containers, teams (without it: its service)",
  },
};

/** One tag grouping the ends of a query (the map's nodes, network series, flow groups, flame graph roots). */
export function TagGroupByPicker({ query, datasource, onChange }: PickerProps) {
  const type = query.queryType ?? 'red';
  const grouping = ONE_TAG_GROUPING[type] ?? ONE_TAG_GROUPING.map!;
  return (
    <OneTagPicker
      label={grouping.label}
      tooltip={grouping.tooltip}
      testId={`flowlens-picker-${type === 'map' ? 'map' : 'tag'}-group_by`}
      placeholder={type === 'flow_log' ? 'none: every flow' : type === 'flamegraph' ? 'none' : 'service'}
      value={listOf(query.group_by)[0]}
      tags={() => tagNames(datasourceGet(datasource))}
      onChange={(tag) => {
        const next: FlowLensQuery = { ...query, group_by: tag ? [tag] : [] };
        if (!tag) {
          delete next.group_by;
        } else if (type === 'flow_log') {
          next.format = 'table'; // the groups are a table, not log lines
        }
        onChange(next);
      }}
    />
  );
}

/**
 * A choice of one tag among the names queries accept (tags: tagNames through the caller's resource call), or none:
 * the query editor's one-tag group by, and the app pages' (flows by a tag, flame graph roots by a tag).
 */
export function OneTagPicker({
  label,
  tooltip,
  testId,
  placeholder,
  value,
  tags,
  onChange,
}: {
  label: string;
  tooltip: string;
  testId: string;
  placeholder: string;
  value: string | undefined;
  tags: () => Promise<Array<ComboboxOption<string>>>;
  onChange: (tag: string | undefined) => void;
}) {
  const [error, setError] = useState<string | undefined>(undefined);
  const options = async (input: string): Promise<Array<ComboboxOption<string>>> => {
    try {
      const found = await tags();
      setError(undefined);
      const q = input.trim().toLowerCase();
      return found.filter((o) => !q || (o.value ?? '').toLowerCase().includes(q));
    } catch (e) {
      setError(errorText(e));
      return [];
    }
  };
  return (
    <InlineField label={label} labelWidth={16} tooltip={tooltip} invalid={Boolean(error)} error={error}>
      <Combobox<string>
        id={testId}
        data-testid={testId}
        width={24}
        value={value ? { value, label: value } : null}
        options={options}
        createCustomValue
        isClearable
        placeholder={placeholder}
        onChange={(v) => onChange(v?.value || undefined)}
      />
    </InlineField>
  );
}
