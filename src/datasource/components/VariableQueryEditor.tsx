import React, { type ChangeEvent } from 'react';
import type { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, RadioButtonGroup, Stack } from '@grafana/ui';
import type { FlowLensDataSource } from '../datasource';
import {
  type FlowLensOptions,
  type FlowLensQuery,
  type FlowLensVariableQuery,
  VARIABLE_KINDS,
  type VariableKind,
} from '../types';

type Props = QueryEditorProps<FlowLensDataSource, FlowLensQuery, FlowLensOptions, FlowLensVariableQuery>;

const kindOptions: Array<SelectableValue<VariableKind>> = VARIABLE_KINDS.map((k) => ({
  value: k.value,
  label: k.label,
  description: k.description,
}));

/** The editor of a FlowLens query variable: what to list and, for endpoints and protocols, of which services. */
export function VariableQueryEditor({ query, onChange }: Props) {
  const kind = query.kind ?? 'services';
  const service = Array.isArray(query.service) ? query.service.join(', ') : (query.service ?? '');
  const narrowed = kind === 'endpoints' || kind === 'protocols';

  const setKind = (next: VariableKind) => {
    const q: FlowLensVariableQuery = { ...query, kind: next };
    if (next !== 'endpoints' && next !== 'protocols') {
      delete q.service;
    }
    if (next !== 'tag_values') {
      delete q.tag;
    }
    if (next === 'tag_values' || next === 'tag_keys') {
      delete q.tags;
    }
    onChange(q);
  };

  const setTag = (e: ChangeEvent<HTMLInputElement>) => {
    const q: FlowLensVariableQuery = { ...query, kind, tag: e.target.value.trim() };
    if (q.tag === '') {
      delete q.tag;
    }
    onChange(q);
  };

  const team = query.tags?.team;
  const teamText = Array.isArray(team) ? team.join(', ') : (team ?? '');
  const setTeam = (e: ChangeEvent<HTMLInputElement>) => {
    const tags = { ...query.tags };
    if (e.target.value.trim() === '') {
      delete tags.team;
    } else {
      tags.team = e.target.value.trim();
    }
    const q: FlowLensVariableQuery = { ...query, kind, tags };
    if (Object.keys(tags).length === 0) {
      delete q.tags;
    }
    onChange(q);
  };

  const setService = (e: ChangeEvent<HTMLInputElement>) => {
    const q: FlowLensVariableQuery = { ...query, kind, service: e.target.value };
    if (e.target.value.trim() === '') {
      delete q.service;
    }
    onChange(q);
  };

  return (
    <Stack direction="column" gap={0}>
      <InlineFieldRow>
        <InlineField label="List" labelWidth={16}>
          <RadioButtonGroup<VariableKind> options={kindOptions} value={kind} onChange={setKind} />
        </InlineField>
      </InlineFieldRow>
      {kind === 'tag_values' && (
        <InlineFieldRow>
          <InlineField label="Tag" labelWidth={16} tooltip="team, owner, namespace, workload, label.app, ...">
            <Input
              data-testid="flowlens-variable-tag"
              value={query.tag ?? ''}
              placeholder="team"
              onChange={setTag}
              width={30}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {kind !== 'tag_values' && kind !== 'tag_keys' && (
        <InlineFieldRow>
          <InlineField
            label="Of team"
            labelWidth={16}
            tooltip="only the services of this team (business tag team); endpoints and protocols of its servers; a variable such as $team"
          >
            <Input
              data-testid="flowlens-variable-team"
              value={teamText}
              placeholder="any, or $team"
              onChange={setTeam}
              width={30}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {narrowed && (
        <InlineFieldRow>
          <InlineField
            label="Of services"
            labelWidth={16}
            tooltip="server services whose values to list; a variable such as $service (multi-value: each of its values)"
          >
            <Input
              data-testid="flowlens-variable-service"
              value={service}
              placeholder="any, or $service"
              onChange={setService}
              width={30}
            />
          </InlineField>
        </InlineFieldRow>
      )}
    </Stack>
  );
}
