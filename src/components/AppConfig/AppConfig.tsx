import React from 'react';
import type { AppPluginMeta, PluginConfigPageProps, PluginMeta } from '@grafana/data';
import { Alert, LinkButton, Stack, Text } from '@grafana/ui';
import { DATASOURCE_UID } from '../constants';

export type AppPluginSettings = Record<string, never>;

export interface AppConfigProps extends PluginConfigPageProps<AppPluginMeta<AppPluginSettings>> {}

/** The app itself has no settings: the connection lives in the FlowLens ClickHouse data source. */
function AppConfig({ plugin }: AppConfigProps) {
  const meta: PluginMeta = plugin.meta;
  return (
    <Stack direction="column" gap={2}>
      <Alert severity="info" title="Nothing to configure here">
        FlowLens reads ClickHouse through its data source. Provisioning creates it with uid{' '}
        <code>{DATASOURCE_UID}</code>.
      </Alert>
      <Text element="p">Enabled: {meta.enabled ? 'yes' : 'no'}</Text>
      <LinkButton href={`/connections/datasources/edit/${DATASOURCE_UID}`} icon="database">
        Open the FlowLens data source
      </LinkButton>
    </Stack>
  );
}

export default AppConfig;
