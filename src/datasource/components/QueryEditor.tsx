import React, { type ChangeEvent, useState } from 'react';
import type { QueryEditorProps, SelectableValue } from '@grafana/data';
import { Button, InlineField, InlineFieldRow, Input, RadioButtonGroup, Stack } from '@grafana/ui';
import { CLOSE_TYPES, OBSERVATION_POINTS, RESPONSE_STATUSES, RST_SENDERS } from '../../shared/schema';
import type { FlowLensDataSource } from '../datasource';
import { FlameGraphQueryEditor } from './FlameGraphQueryEditor';
import { PICKER_KINDS, RedGroupByPicker, TagGroupByPicker, ValuesPicker } from './FilterPickers';
import {
  ANNOTATION_KINDS,
  type AnnotationKind,
  AGENT_ANNOTATION_KINDS,
  FLAME_KEYS,
  type FilterKey,
  FLOW_LOG_KEYS,
  type FlowLensOptions,
  type FlowLensQuery,
  type FlowLensQueryType,
  type LogFormat,
  NET_METRICS,
  NET_METRICS_KEYS,
  NETPROFILE_SUMMARY_KEYS,
  PROFILE_METRICS,
  type ProfileMetric,
  type NetMetric,
  NETPROFILE_KEYS,
  OBSERVATION_POINT_CHOICES,
  ONE_TAG_GROUP_TYPES,
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

const netMetricOptions: Array<SelectableValue<NetMetric>> = NET_METRICS.map((m) => ({
  value: m.value,
  label: m.label,
}));

const profileMetricOptions: Array<SelectableValue<ProfileMetric>> = PROFILE_METRICS.map((m) => ({
  value: m.value,
  label: m.label,
}));

const annotationOptions: Array<SelectableValue<AnnotationKind>> = ANNOTATION_KINDS.map((k) => ({
  value: k.value,
  label: k.label,
  description: k.description,
}));

const closeTypeOptions: Array<SelectableValue<string>> = [
  { value: '', label: 'any' },
  ...CLOSE_TYPES.map((s) => ({ value: s, label: s })),
];

const rstSenderOptions: Array<SelectableValue<string>> = [
  { value: '', label: 'any' },
  ...RST_SENDERS.map((s) => ({ value: s, label: s })),
];

const failedOptions: Array<SelectableValue<string>> = [
  { value: '', label: 'all flows' },
  { value: 'true', label: 'failed connects only' },
];

/** The observation point a query type reads when none is chosen (the backend's default). */
function defaultPoint(type: FlowLensQueryType): string {
  return type === 'sql_log' || type === 'flow_log' || type === 'netprofile' ? 'all' : 'preferred';
}

const statusOptions: Array<SelectableValue<string>> = [
  { value: '', label: 'any' },
  ...RESPONSE_STATUSES.map((s) => ({ value: s, label: s })),
];

const orderOptions: Array<SelectableValue<string>> = [
  { value: 'time', label: 'Newest first' },
  { value: 'duration', label: 'Slowest first' },
];

const formatOptions: Array<SelectableValue<LogFormat>> = [
  { value: 'logs', label: 'Logs', description: 'Log lines for the Logs panel and Explore' },
  { value: 'table', label: 'Table', description: 'One column per log column' },
];

/** The options each query type reads; the others are dropped on a switch (RED and the map reject request filters). */
function keysOf(type: FlowLensQueryType): FilterKey[] {
  switch (type) {
    case 'trace':
      return TRACE_KEYS;
    case 'sql_log':
      return [
        'service',
        'client_service',
        'l7_protocol',
        'endpoint',
        'observation_point',
        ...REQUEST_KEYS,
        'order_by',
        'server_process',
        'server_pid',
      ];
    case 'trace_search':
      return ['service', 'client_service', 'l7_protocol', 'endpoint', 'observation_point', ...REQUEST_KEYS, 'verdicts'];
    case 'flow_log':
      return FLOW_LOG_KEYS;
    case 'net_metrics':
      return NET_METRICS_KEYS;
    case 'netprofile':
      return NETPROFILE_KEYS;
    case 'netprofile_summary':
      return NETPROFILE_SUMMARY_KEYS;
    case 'flamegraph':
      return ['service'];
    case 'triage':
      return ['service', 'client_service', 'endpoint'];
    default:
      return ['service', 'l7_protocol', 'endpoint', 'observation_point'];
  }
}

/** A filter as its text box shows it: a list's items comma-separated. */
function shown(v: string | string[] | undefined): string {
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}

const ALL_KEYS: FilterKey[] = Array.from(
  new Set([...keysOf('red'), ...keysOf('trace_search'), ...TRACE_KEYS, ...FLOW_LOG_KEYS, ...NETPROFILE_KEYS])
);

/** The SQL the backend ran for this query (frame meta executedQueryString), for power users: read-only. */
function ShownSQL({ data, refId }: { data: Props['data']; refId: string }) {
  const [open, setOpen] = useState(false);
  const sql = Array.from(
    new Set(
      (data?.series ?? [])
        .filter((f) => !f.refId || f.refId === refId)
        .map((f) => f.meta?.executedQueryString)
        .filter((q): q is string => Boolean(q))
    )
  );
  if (sql.length === 0) {
    return null;
  }
  return (
    <Stack direction="column" gap={0.5}>
      <div>
        <Button
          size="sm"
          variant="secondary"
          fill="text"
          icon={open ? 'angle-down' : 'angle-right'}
          data-testid="flowlens-show-sql"
          onClick={() => setOpen(!open)}
        >
          {open ? 'Hide SQL' : 'Show SQL'}
        </Button>
      </div>
      {open && (
        <pre data-testid="flowlens-sql" style={{ maxHeight: 320, overflow: 'auto', whiteSpace: 'pre-wrap' }}>
          {sql.join('\n\n')}
        </pre>
      )}
    </Stack>
  );
}

export function QueryEditor({ query, onChange, onRunQuery, app, datasource, range, data }: Props) {
  const queryType = query.queryType ?? 'red';
  const requests = queryType === 'sql_log' || queryType === 'trace_search';
  const summary = queryType === 'netprofile_summary';
  const network = queryType === 'flow_log' || queryType === 'net_metrics' || queryType === 'netprofile' || summary;
  const logs = queryType === 'sql_log' || queryType === 'flow_log';

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
    const logType = type === 'sql_log' || type === 'flow_log';
    if (logType && !next.format) {
      next.format = app === 'explore' ? 'logs' : 'table';
    } else if (!logType) {
      delete next.format;
    }
    if (type !== queryType) {
      delete next.metric; // RED and network metrics have different names
      delete next.group_by; // RED's dimensions are not one tag of the ends, nor a flame graph's roots
    }
    if (type !== 'flamegraph') {
      for (const key of FLAME_KEYS) {
        delete next[key];
      }
    }
    if (type === 'annotations') {
      next.annotation = next.annotation ?? 'error_spike';
    } else {
      delete next.annotation;
      delete next.threshold;
      delete next.min_requests;
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

  const radio = (key: FilterKey, label: string, options: Array<SelectableValue<string>>) => (
    <InlineField label={label} labelWidth={16}>
      <RadioButtonGroup<string>
        size="sm"
        options={options}
        value={shown(query[key])}
        onChange={(v) => {
          const next: FlowLensQuery = { ...query, [key]: v };
          if (!v) {
            delete next[key];
          }
          update(next);
        }}
      />
    </InlineField>
  );

  const text = (key: FilterKey, label: string, placeholder: string, width = 20, tooltip?: string) =>
    PICKER_KINDS[key] ? (
      <ValuesPicker
        field={key}
        label={label}
        tooltip={tooltip}
        query={query}
        datasource={datasource}
        range={range}
        onChange={update}
      />
    ) : (
      textInput(key, label, placeholder, width, tooltip)
    );

  const textInput = (key: FilterKey, label: string, placeholder: string, width = 20, tooltip?: string) => (
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
              value={(query.metric as RedMetric | undefined) ?? 'all'}
              onChange={(v) => update({ ...query, metric: v })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {(queryType === 'red' || ONE_TAG_GROUP_TYPES.includes(queryType)) && (
        <InlineFieldRow>
          {queryType === 'red' ? (
            <RedGroupByPicker query={query} datasource={datasource} range={range} onChange={update} />
          ) : (
            <TagGroupByPicker query={query} datasource={datasource} range={range} onChange={update} />
          )}
        </InlineFieldRow>
      )}
      {queryType === 'annotations' && (
        <InlineFieldRow>
          <InlineField label="Event" labelWidth={16}>
            <RadioButtonGroup<AnnotationKind>
              size="sm"
              options={annotationOptions}
              value={query.annotation ?? 'error_spike'}
              onChange={(v) => update({ ...query, annotation: v })}
            />
          </InlineField>
          {AGENT_ANNOTATION_KINDS.has(query.annotation ?? 'error_spike') && (
            <InlineField label="Host" labelWidth={10} tooltip="the agents' host (empty: every host); may be a variable">
              <Input
                data-testid="flowlens-annotation-host"
                value={query.host ?? ''}
                placeholder="every host"
                width={24}
                onChange={(e: ChangeEvent<HTMLInputElement>) => onChange({ ...query, host: e.target.value })}
                onBlur={onRunQuery}
              />
            </InlineField>
          )}
          {(query.annotation ?? 'error_spike') === 'error_spike' && (
            <>
              <InlineField label="Error ratio above" labelWidth={18} tooltip="a ratio: 0.05 is 5%">
                <Input
                  data-testid="flowlens-annotation-threshold"
                  value={query.threshold ?? ''}
                  placeholder="0.05"
                  width={10}
                  onChange={(e: ChangeEvent<HTMLInputElement>) => onChange({ ...query, threshold: e.target.value })}
                  onBlur={onRunQuery}
                />
              </InlineField>
              <InlineField label="Min requests" labelWidth={14} tooltip="requests a minute needs to be judged">
                <Input
                  data-testid="flowlens-annotation-min-requests"
                  value={query.min_requests ?? ''}
                  placeholder="10"
                  width={10}
                  onChange={(e: ChangeEvent<HTMLInputElement>) => onChange({ ...query, min_requests: e.target.value })}
                  onBlur={onRunQuery}
                />
              </InlineField>
            </>
          )}
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
      {queryType === 'net_metrics' && (
        <InlineFieldRow>
          <InlineField label="Metric" labelWidth={16}>
            <RadioButtonGroup<NetMetric>
              size="sm"
              options={netMetricOptions}
              value={(query.metric as NetMetric | undefined) ?? 'all'}
              onChange={(v) => update({ ...query, metric: v })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {summary && (
        <InlineFieldRow>
          <InlineField label="Latency" labelWidth={16}>
            <RadioButtonGroup<ProfileMetric>
              size="sm"
              options={profileMetricOptions}
              value={(query.metric as ProfileMetric | undefined) ?? 'all'}
              onChange={(v) => update({ ...query, metric: v })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {(queryType === 'flow_log' || queryType === 'net_metrics' || summary) && (
        <InlineFieldRow>
          {text('service', 'Server service', 'any', 20)}
          {text('client_service', 'Client service', 'any', 20)}
          {queryType === 'flow_log' && text('server_process', 'Server process', 'any', 16)}
          {queryType === 'flow_log' && text('client_process', 'Client process', 'any', 16)}
        </InlineFieldRow>
      )}
      {network && (
        <InlineFieldRow>
          {queryType !== 'net_metrics' &&
            text('client_ip', 'Client IP', queryType === 'netprofile' ? 'required' : 'any', 18)}
          {queryType !== 'net_metrics' &&
            !summary &&
            text('client_port', 'Client port', queryType === 'netprofile' ? 'required' : 'any', 10)}
          {queryType !== 'net_metrics' &&
            text('server_ip', 'Server IP', queryType === 'netprofile' ? 'required' : 'any', 18)}
          {text('server_port', 'Server port', queryType === 'netprofile' ? 'required' : 'any', 10)}
          {text('host', 'Host', 'observing host', 14)}
        </InlineFieldRow>
      )}
      {queryType === 'flow_log' && (
        <>
          <InlineFieldRow>{radio('close_type', 'Close type', closeTypeOptions)}</InlineFieldRow>
          <InlineFieldRow>
            {radio('rst_sender', 'RST from', rstSenderOptions)}
            {radio('conn_failed', 'Connects', failedOptions)}
          </InlineFieldRow>
          <InlineFieldRow>
            {text('min_retrans', 'Min retrans', '0', 10, 'retransmitted segments of the flow, at least')}
            {text('min_rtt_ms', 'Min RTT', 'ms', 10, 'smoothed RTT in milliseconds, at least')}
            {text('limit', 'Limit', '1000', 10)}
          </InlineFieldRow>
        </>
      )}
      {queryType === 'triage' && (
        <InlineFieldRow>
          {text('service', 'Service', 'required', 24, 'the server whose problem is triaged over the time range')}
          {text('client_service', 'Client service', 'any', 20, 'an edge: the client calling the service')}
          {text('endpoint', 'Endpoint', 'any', 24)}
        </InlineFieldRow>
      )}
      {queryType !== 'trace' && queryType !== 'flamegraph' && queryType !== 'triage' && !network && (
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
        </>
      )}
      {logs && (
        <InlineFieldRow>
          <InlineField label="Format" labelWidth={16}>
            <RadioButtonGroup<LogFormat>
              size="sm"
              options={formatOptions}
              value={query.format ?? 'table'}
              onChange={(v) => update({ ...query, format: v })}
            />
          </InlineField>
          {queryType === 'sql_log' && (
            <InlineField
              label="Order"
              tooltip="Slowest first: the slowest requests of the range (read over the whole range)"
            >
              <RadioButtonGroup<string>
                size="sm"
                options={orderOptions}
                value={query.order_by || 'time'}
                onChange={(v) => update({ ...query, order_by: v as FlowLensQuery['order_by'] })}
              />
            </InlineField>
          )}
        </InlineFieldRow>
      )}
      {queryType !== 'trace' && queryType !== 'flamegraph' && (
        <InlineFieldRow>
          <InlineField label="Observation point" labelWidth={16}>
            <RadioButtonGroup<string>
              size="sm"
              options={pointOptions}
              value={query.observation_point || defaultPoint(queryType)}
              onChange={(v) => update({ ...query, observation_point: v })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      <ShownSQL data={data} refId={query.refId} />
    </Stack>
  );
}
