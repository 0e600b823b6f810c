import React, { type ChangeEvent } from 'react';
import type { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, RadioButtonGroup, Stack } from '@grafana/ui';
import { OBSERVATION_POINTS } from '../../shared/schema';
import type { FlowLensDataSource } from '../datasource';
import {
  type FlowLensOptions,
  type FlowLensQuery,
  type FlowLensQueryType,
  OBSERVATION_POINT_CHOICES,
  QUERY_TYPES,
  RED_METRICS,
  type RedMetric,
} from '../types';

type Props = QueryEditorProps<FlowLensDataSource, FlowLensQuery, FlowLensOptions>;
type TextFilter = 'service' | 'l7_protocol' | 'endpoint';

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

export function QueryEditor({ query, onChange, onRunQuery }: Props) {
  const queryType = query.queryType ?? 'red';

  const update = (next: FlowLensQuery) => {
    onChange(next);
    onRunQuery();
  };

  const onText = (key: TextFilter) => (e: ChangeEvent<HTMLInputElement>) =>
    onChange({ ...query, [key]: e.target.value });

  return (
    <Stack direction="column" gap={0}>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={16}>
          <RadioButtonGroup<FlowLensQueryType>
            options={typeOptions}
            value={queryType}
            onChange={(v) => update({ ...query, queryType: v })}
          />
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
      <InlineFieldRow>
        <InlineField label="Service" labelWidth={16} tooltip="client or server service name">
          <Input
            data-testid="flowlens-filter-service"
            value={query.service ?? ''}
            placeholder="any"
            onChange={onText('service')}
            onBlur={onRunQuery}
            width={24}
          />
        </InlineField>
        <InlineField label="Protocol" labelWidth={10}>
          <Input
            data-testid="flowlens-filter-l7_protocol"
            value={query.l7_protocol ?? ''}
            placeholder="HTTP, gRPC, MySQL, ..."
            onChange={onText('l7_protocol')}
            onBlur={onRunQuery}
            width={20}
          />
        </InlineField>
        <InlineField label="Endpoint" labelWidth={10}>
          <Input
            data-testid="flowlens-filter-endpoint"
            value={query.endpoint ?? ''}
            placeholder="/api/orders"
            onChange={onText('endpoint')}
            onBlur={onRunQuery}
            width={24}
          />
        </InlineField>
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField label="Observation point" labelWidth={16}>
          <RadioButtonGroup<string>
            size="sm"
            options={pointOptions}
            value={query.observation_point || 'preferred'}
            onChange={(v) => update({ ...query, observation_point: v })}
          />
        </InlineField>
      </InlineFieldRow>
    </Stack>
  );
}
