import type { DataSourceInstanceSettings } from '@grafana/data';
import { FlowLensDataSource } from './datasource';
import type { FlowLensOptions } from './types';

/** The datasource as Grafana would construct it from the provisioned settings (uid flowlens), for unit tests. */
export function testDatasource(): FlowLensDataSource {
  return new FlowLensDataSource({
    id: 1,
    uid: 'flowlens',
    type: 'flowlens-clickhouse-datasource',
    name: 'FlowLens',
    jsonData: {},
  } as unknown as DataSourceInstanceSettings<FlowLensOptions>);
}
