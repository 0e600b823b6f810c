import { DataSourcePlugin } from '@grafana/data';
import { FlowLensDataSource } from './datasource';
import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import type { FlowLensOptions, FlowLensQuery, FlowLensSecureOptions } from './types';

export const plugin = new DataSourcePlugin<FlowLensDataSource, FlowLensQuery, FlowLensOptions, FlowLensSecureOptions>(
  FlowLensDataSource
)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
