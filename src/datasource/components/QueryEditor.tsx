import React, { type ChangeEvent } from 'react';
import type { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, RadioButtonGroup, Stack } from '@grafana/ui';
import { OBSERVATION_POINTS, RESPONSE_STATUSES } from '../../shared/schema';
import type { FlowLensDataSource } from '../datasource';
import { FlameGraphQueryEditor } from './FlameGraphQueryEditor';
import {
  FLAME_KEYS,
  type FilterKey,
  type FlowLensOptions,
  type FlowLensQuery,
  type FlowLensQueryType,
  type LogFormat,
  OBSERVATION_POINT_CHOICES,
  QUERY_TYPES,
  RED_METRICS,
  type RedMetric,
  REQUEST_KEYS,
  TRACE_KEYS,
} from '../types';

type Props = QueryEditorProps<FlowLensDataSource, FlowLensQuery, FlowLensOptions>;

const typeOptions: Array<SelectableValue<FlowLensQueryType>> = QUERY_TYPES.map((t) => ({
  value: t.value,
  label: t.label,
  description: t.description,
}));

const pointOptions: Array<SelectableValue<string>> = [
  ...OBSERVATION_POINT_CHOICES.map((p) => ({ value: p, label: p })),
  ...OBSERVATION_POINTS.map((p) => ({ value: p, label: p })),
];

const metricOptions: Array<SelectableValue<RedMetric>> = RED_METRICS.map((m) => ({ value: m.value, label: m.label }));

const statusOptions: Array<SelectableValue<string>> = [
  { value: '', label: 'any' },
  ...RESPONSE_STATUSES.map((s) => ({ value: s, label: s })),
];

const formatOptions: Array<SelectableValue<LogFormat>> = [
  { value: 'logs', label: 'Logs', description: 'Log lines for the Logs panel and Explore' },
  { value: 'table', label: 'Table', description: 'One column per request-log column' },
];

/** The options each query type reads; the others are dropped on a switch (RED and the map reject request filters). */
function keysOf(type: FlowLensQueryType): FilterKey[] {
  switch (type) {
    case 'trace':
      return TRACE_KEYS;
    case 'sql_log':
      return ['service', 'client_service', 'l7_protocol', 'endpoint', 'observation_point', ...REQUEST_KEYS];
    case 'trace_search':
      return ['service', 'client_service', 'l7_protocol', 'endpoint', 'observation_point', ...REQUEST_KEYS, 'verdicts'];
    case 'flamegraph':
      return ['service'];
    default:
      return ['service', 'l7_protocol', 'endpoint', 'observation_point'];
  }
}

/** A filter as its text box shows it: a list's items comma-separated. */
function shown(v: string | string[] | undefined): string {
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}

const ALL_KEYS: FilterKey[] = Array.from(new Set([...keysOf('red'), ...keysOf('trace_search'), ...TRACE_KEYS]));

export function QueryEditor({ query, onChange, onRunQuery, app, datasource, range }: Props) {
  const queryType = query.queryType ?? 'red';
  const requests = queryType === 'sql_log' || queryType === 'trace_search';

  const update = (next: FlowLensQuery) => {
    onChange(next);
    onRunQuery();
  };

  const switchType = (type: FlowLensQueryType) => {
    const keep = new Set(keysOf(type));
    const next: FlowLensQuery = { ...query, queryType: type };
    for (const key of ALL_KEYS) {
      if (!keep.has(key)) {
        delete next[key];
      }
    }
    if (type === 'sql_log' && !next.format) {
      next.format = app === 'explore' ? 'logs' : 'table';
    } else if (type !== 'sql_log') {
      delete next.format;
    }
    if (type !== 'red') {
      delete next.metric;
    }
    if (type !== 'flamegraph') {
      for (const key of FLAME_KEYS) {
        delete next[key];
      }
    }
    update(next);
  };

  const onText = (key: FilterKey) => (e: ChangeEvent<HTMLInputElement>) => {
    // a list given as an array (a dashboard's JSON) stays one: its items are edited comma-separated
    const value = Array.isArray(query[key])
      ? e.target.value
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x !== '')
      : e.target.value;
    const next: FlowLensQuery = { ...query, [key]: value };
    if (e.target.value === '') {
      delete next[key];
    }
    onChange(next);
  };

  const text = (key: FilterKey, label: string, placeholder: string, width = 20, tooltip?: string) => (
    <InlineField label={label} labelWidth={16} tooltip={tooltip}>
      <Input
        data-testid={`flowlens-filter-${key}`}
        value={shown(query[key])}
        placeholder={placeholder}
        onChange={onText(key)}
        onBlur={onRunQuery}
        width={width}
      />
    </InlineField>
  );

  return (
    <Stack direction="column" gap={0}>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={16}>
          <RadioButtonGroup<FlowLensQueryType> options={typeOptions} value={queryType} onChange={switchType} />
        </InlineField>
      </InlineFieldRow>
      {queryType === 'red' && (
        <InlineFieldRow>
          <InlineField label="Metric" labelWidth={16}>
            <RadioButtonGroup<RedMetric>
              size="sm"
              options={metricOptions}
              value={query.metric ?? 'all'}
              onChange={(v) => update({ ...query, metric: v })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {queryType === 'flamegraph' && (
        <FlameGraphQueryEditor
          query={query}
          datasource={datasource}
          range={range}
          onChange={onChange}
          onRunQuery={onRunQuery}
        />
      )}
      {queryType === 'trace' && (
        <InlineFieldRow>
          {text('row_id', 'Row id', 'request log _id', 24, 'the _id of a request log row; give its time too')}
          {text(
            'time',
            'Time',
            'unix s, ms or µs',
            20,
            "the row's time (start_time_us); without it the panel's range is searched"
          )}
          {text('trace_id', 'Trace id', 'trace_id', 24, 'matches trace_id or x_request_id in the time range')}
          {text('request_id', 'X-Request-ID', 'x_request_id', 24, 'an X-Request-ID, in the time range')}
        </InlineFieldRow>
      )}
      {queryType !== 'trace' && queryType !== 'flamegraph' && (
        <InlineFieldRow>
          {text('service', 'Service', 'any', 24, requests ? 'server service' : 'client or server service name')}
          {requests && text('client_service', 'Client service', 'any', 20)}
          {text('l7_protocol', 'Protocol', 'HTTP, gRPC, MySQL, ...', 20)}
          {text('endpoint', 'Endpoint', '/api/orders', 24)}
        </InlineFieldRow>
      )}
      {requests && (
        <>
          <InlineFieldRow>
            {text('request_type', 'Request type', 'GET, SELECT, ...', 16)}
            {text('response_code', 'Response code', '500', 12)}
            {text('min_duration_ms', 'Min duration', 'ms', 12, 'milliseconds')}
            {queryType === 'sql_log' && text('max_duration_ms', 'Max duration', 'ms', 12, 'milliseconds')}
          </InlineFieldRow>
          <InlineFieldRow>
            <InlineField label="Status" labelWidth={16}>
              <RadioButtonGroup<string>
                size="sm"
                options={statusOptions}
                value={shown(query.status)}
                onChange={(v) => {
                  const next: FlowLensQuery = { ...query, status: v };
                  if (!v) {
                    delete next.status;
                  }
                  update(next);
                }}
              />
            </InlineField>
          </InlineFieldRow>
          <InlineFieldRow>
            {queryType === 'sql_log' &&
              text('search', 'Resource text', 'contains', 24, 'a substring of request_resource, any case')}
            {text('trace_id', 'Trace id', 'trace_id or X-Request-ID', 24, 'matches trace_id or x_request_id')}
            {text('request_id', 'X-Request-ID', 'x_request_id', 24)}
            {text('limit', 'Limit', queryType === 'sql_log' ? '1000' : '100', 10)}
            {queryType === 'trace_search' &&
              text(
                'verdicts',
                'Verdicts',
                '0',
                10,
                'assemble the first N traces (at most 20) for their culprit: a few queries each'
              )}
          </InlineFieldRow>
          {queryType === 'sql_log' && (
            <InlineFieldRow>
              <InlineField label="Format" labelWidth={16}>
                <RadioButtonGroup<LogFormat>
                  size="sm"
                  options={formatOptions}
                  value={query.format ?? 'table'}
                  onChange={(v) => update({ ...query, format: v })}
                />
              </InlineField>
            </InlineFieldRow>
          )}
        </>
      )}
      {queryType !== 'trace' && queryType !== 'flamegraph' && (
        <InlineFieldRow>
          <InlineField label="Observation point" labelWidth={16}>
            <RadioButtonGroup<string>
              size="sm"
              options={pointOptions}
              value={query.observation_point || (queryType === 'sql_log' ? 'all' : 'preferred')}
              onChange={(v) => update({ ...query, observation_point: v })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
    </Stack>
  );
}
