import React, { type ChangeEvent, useEffect } from 'react';
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Field, Input, SecretInput, Stack } from '@grafana/ui';
import { DEFAULT_OPTIONS, type FlowLensOptions, type FlowLensSecureOptions } from '../types';

type Props = DataSourcePluginOptionsEditorProps<FlowLensOptions, FlowLensSecureOptions>;
type TextKey = 'url' | 'database' | 'username' | 'tagsUsername';
type SecretKey = 'password' | 'tagsPassword';

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields, secureJsonData } = options;

  // A new data source starts from the local defaults, so "Save & test" works against a local ClickHouse.
  useEffect(() => {
    const missing = (Object.keys(DEFAULT_OPTIONS) as Array<keyof typeof DEFAULT_OPTIONS>).filter((k) => !jsonData[k]);
    if (missing.length > 0) {
      const filled = { ...jsonData };
      for (const k of missing) {
        filled[k] = DEFAULT_OPTIONS[k];
      }
      onOptionsChange({ ...options, jsonData: filled });
    }
    // only on first render: afterwards an emptied field is the user's choice
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const onText = (key: TextKey) => (e: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, [key]: e.target.value } });

  const onSecret = (key: SecretKey) => (e: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, [key]: e.target.value } });

  const onResetSecret = (key: SecretKey) => () =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, [key]: false },
      secureJsonData: { ...secureJsonData, [key]: '' },
    });

  return (
    <Stack direction="column" gap={1}>
      <Field label="ClickHouse HTTP URL" description="HTTP interface of ClickHouse (port 8123 by default)">
        <Input
          id="flowlens-url"
          value={jsonData.url ?? ''}
          placeholder={DEFAULT_OPTIONS.url}
          onChange={onText('url')}
          width={48}
        />
      </Field>
      <Field label="Database">
        <Input
          id="flowlens-database"
          value={jsonData.database ?? ''}
          placeholder={DEFAULT_OPTIONS.database}
          onChange={onText('database')}
          width={48}
        />
      </Field>
      <Field label="Username">
        <Input
          id="flowlens-username"
          value={jsonData.username ?? ''}
          placeholder={DEFAULT_OPTIONS.username}
          onChange={onText('username')}
          width={48}
        />
      </Field>
      <Field label="Password">
        <SecretInput
          id="flowlens-password"
          isConfigured={Boolean(secureJsonFields?.password)}
          value={secureJsonData?.password ?? ''}
          placeholder="password"
          width={48}
          onReset={onResetSecret('password')}
          onChange={onSecret('password')}
        />
      </Field>
      <Field
        label="Business tags writer"
        description="A ClickHouse user that may INSERT into business_tags (team, owner... set from the app's Tags page); leave empty to keep tags read-only. Never the reader above."
      >
        <Input
          id="flowlens-tags-username"
          value={jsonData.tagsUsername ?? ''}
          placeholder="grafana_tags"
          onChange={onText('tagsUsername')}
          width={48}
        />
      </Field>
      <Field label="Business tags writer password">
        <SecretInput
          id="flowlens-tags-password"
          isConfigured={Boolean(secureJsonFields?.tagsPassword)}
          value={secureJsonData?.tagsPassword ?? ''}
          placeholder="tags writer password"
          width={48}
          onReset={onResetSecret('tagsPassword')}
          onChange={onSecret('tagsPassword')}
        />
      </Field>
    </Stack>
  );
}
