import React, { useState } from 'react';
import type { SelectableValue, TimeRange } from '@grafana/data';
import {
  Button,
  Combobox,
  type ComboboxOption,
  InlineField,
  InlineFieldRow,
  Input,
  RadioButtonGroup,
  Stack,
} from '@grafana/ui';
import type { FlowLensDataSource } from '../datasource';
import type { ProfileValue } from '../profileValues';
import type { FlamePicker, FlowLensQuery, ProfileEvent } from '../types';
import { errorText, TagGroupByPicker } from './FilterPickers';

interface Props {
  query: FlowLensQuery;
  datasource: FlowLensDataSource;
  range?: TimeRange;
  onChange: (q: FlowLensQuery) => void;
  onRunQuery: () => void;
}

const eventOptions: Array<SelectableValue<ProfileEvent>> = [
  { value: 'on_cpu', label: 'On-CPU', description: 'Where the threads computed: samples at 99 Hz' },
  { value: 'off_cpu', label: 'Off-CPU', description: 'Where the threads waited (locks, I/O, sleeps): time blocked' },
];

const PICKERS: Array<{ key: FlamePicker; label: string; tooltip: string }> = [
  { key: 'service', label: 'Service', tooltip: 'the service the agent names the process after' },
  { key: 'process', label: 'Process', tooltip: 'process name' },
  { key: 'pid', label: 'PID', tooltip: 'process id' },
  { key: 'tid', label: 'Thread', tooltip: 'thread id (a request-log row names the thread that served it)' },
  { key: 'host', label: 'Host', tooltip: 'the agent host' },
];

/** A filter's text: one value, a variable, or a list (a span link's pid: [4811]) shown comma-separated. */
function textOf(v: FlowLensQuery[FlamePicker]): string {
  return v === undefined ? '' : Array.isArray(v) ? v.join(', ') : String(v);
}

function without(query: FlowLensQuery, ...keys: Array<keyof FlowLensQuery>): FlowLensQuery {
  const next = { ...query };
  for (const k of keys) {
    delete next[k];
  }
  return next;
}

/** The backend's values as options (busiest first), those matching the typed text; ids carry their process. */
export function pickerOptions(
  field: FlamePicker,
  values: ProfileValue[],
  input: string
): Array<ComboboxOption<string>> {
  const q = input.trim().toLowerCase();
  return values
    .filter((v) => !q || v.value.toLowerCase().includes(q) || v.process.toLowerCase().includes(q))
    .map((v) => ({
      value: v.value,
      label: v.value,
      description: field === 'pid' || field === 'tid' ? v.process : undefined,
    }));
}

/**
 * A combobox of one flame graph filter's values (resource `profile-values`, busiest first; ids with their process),
 * asked each time the list opens or the text changes; a value or a variable may also be typed. The query editor's
 * pickers and the Profiling page's.
 */
export function ProfileValuePicker({
  field,
  value,
  list,
  onChange,
  onError,
  width,
  testId,
}: {
  field: FlamePicker;
  value: string;
  /** the values in the range among the rows the other filters match */
  list: () => Promise<ProfileValue[]>;
  onChange: (v: string | undefined) => void;
  /** the listing's error (undefined once it lists again) */
  onError?: (e: string | undefined) => void;
  /** in grid units; `parent`: the width of the element it is in */
  width?: number | 'parent';
  testId?: string;
}) {
  const [error, setError] = useState<string | undefined>(undefined);
  const options = async (input: string): Promise<Array<ComboboxOption<string>>> => {
    try {
      const values = await list();
      setError(undefined);
      onError?.(undefined);
      return pickerOptions(field, values, input);
    } catch (e) {
      const text = errorText(e);
      setError(text);
      onError?.(text);
      return [];
    }
  };
  return (
    <Combobox<string>
      id={`flowlens-flame-${field}`}
      data-testid={testId ?? `flowlens-flame-${field}`}
      width={width === 'parent' ? undefined : (width ?? (field === 'pid' || field === 'tid' ? 20 : 24))}
      value={value ? { value, label: value } : null}
      options={options}
      createCustomValue
      customValueDescription="a value or a variable"
      isClearable
      placeholder="any"
      noOptionsMessage={error ? 'could not list the values' : 'no profiles in the range'}
      onChange={(v) => onChange(v?.value || undefined)}
    />
  );
}

function Picker({
  field,
  label,
  tooltip,
  query,
  datasource,
  range,
  onChange,
}: Props & { field: FlamePicker; label: string; tooltip: string }) {
  const [error, setError] = useState<string | undefined>(undefined);
  return (
    <InlineField label={label} labelWidth={10} tooltip={tooltip} invalid={Boolean(error)} error={error}>
      <ProfileValuePicker
        field={field}
        value={textOf(query[field])}
        list={() => datasource.profileValues(field, query, range)}
        onError={setError}
        onChange={(v) => {
          const next: FlowLensQuery = { ...query, [field]: v };
          if (!v) {
            delete next[field];
          }
          onChange(next);
        }}
      />
    </InlineField>
  );
}

/** The flame graph query: what to profile (pickers with the backend's values), which profile, an optional baseline. */
export function FlameGraphQueryEditor(props: Props) {
  const { query, onChange, onRunQuery, range } = props;
  const update = (next: FlowLensQuery) => {
    onChange(next);
    onRunQuery();
  };
  const setText = (key: 'baselineFrom' | 'baselineTo', v: string) => {
    const next: FlowLensQuery = { ...query, [key]: v };
    if (v === '') {
      delete next[key];
    }
    onChange(next);
  };
  return (
    <Stack direction="column" gap={0}>
      <InlineFieldRow>
        {PICKERS.map((p) => (
          <Picker
            key={p.key}
            {...props}
            field={p.key}
            label={p.label}
            tooltip={p.tooltip}
            onChange={(q) => update(q)}
          />
        ))}
      </InlineFieldRow>
      <InlineFieldRow>
        <TagGroupByPicker query={query} datasource={props.datasource} range={range} onChange={update} />
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField label="Profile" labelWidth={10}>
          <RadioButtonGroup<ProfileEvent>
            size="sm"
            options={eventOptions}
            value={query.event ?? 'on_cpu'}
            onChange={(v) => update({ ...query, event: v })}
          />
        </InlineField>
        {(['baselineFrom', 'baselineTo'] as const).map((key, i) => (
          <InlineField
            key={key}
            label={i === 0 ? 'Baseline' : undefined}
            labelWidth={i === 0 ? 10 : undefined}
            tooltip={
              i === 0
                ? "A diff: this range on the left, the panel's range on the right (ms since the epoch, RFC 3339 or variables)"
                : undefined
            }
          >
            <Input
              data-testid={`flowlens-flame-${key}`}
              value={query[key] ?? ''}
              placeholder={i === 0 ? 'from' : 'to'}
              width={22}
              onChange={(e) => setText(key, e.currentTarget.value)}
              onBlur={onRunQuery}
            />
          </InlineField>
        ))}
        {range && (
          <Button
            size="sm"
            variant="secondary"
            data-testid="flowlens-flame-previous"
            tooltip="Compare with the range of the same length just before the panel's"
            onClick={() => {
              const from = range.from.valueOf();
              const to = range.to.valueOf();
              update({ ...query, baselineFrom: String(from - (to - from)), baselineTo: String(from) });
            }}
          >
            Previous range
          </Button>
        )}
        {(query.baselineFrom !== undefined || query.baselineTo !== undefined) && (
          <Button
            size="sm"
            variant="secondary"
            icon="times"
            onClick={() => update(without(query, 'baselineFrom', 'baselineTo'))}
          >
            No diff
          </Button>
        )}
      </InlineFieldRow>
      {query.span_start_us !== undefined && (
        <InlineFieldRow>
          <InlineField
            label="Request"
            labelWidth={10}
            tooltip="From a request-log row: the graph covers that request's seconds, not the panel's range"
          >
            <Button
              size="sm"
              variant="secondary"
              icon="times"
              onClick={() => update(without(query, 'span_start_us', 'span_duration_us'))}
            >
              {`the request's seconds (start ${query.span_start_us} µs, ${query.span_duration_us ?? 0} µs): use the panel's range`}
            </Button>
          </InlineField>
        </InlineFieldRow>
      )}
    </Stack>
  );
}
