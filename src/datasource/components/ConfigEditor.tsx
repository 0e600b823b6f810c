import React, { type ChangeEvent, useEffect } from 'react';
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Field, Input, SecretInput, Stack } from '@grafana/ui';
import { DEFAULT_OPTIONS, type FlowLensOptions, type FlowLensSecureOptions } from '../types';

type Props = DataSourcePluginOptionsEditorProps<FlowLensOptions, FlowLensSecureOptions>;
type TextKey = 'url' | 'database' | 'username';

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields, secureJsonData } = options;

  // A new data source starts from the local defaults, so "Save & test" works against a local ClickHouse.
  useEffect(() => {
    const missing = (Object.keys(DEFAULT_OPTIONS) as TextKey[]).filter((k) => !jsonData[k]);
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

  const onPassword = (e: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, password: e.target.value } });

  const onResetPassword = () =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, password: false },
      secureJsonData: { ...secureJsonData, password: '' },
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
          onReset={onResetPassword}
          onChange={onPassword}
        />
      </Field>
    </Stack>
  );
}
