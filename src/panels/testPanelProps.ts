import {
  type DataFrame,
  FieldConfigSource,
  LoadingState,
  type PanelData,
  type PanelPlugin,
  type PanelProps,
  getDefaultTimeRange,
} from '@grafana/data';

/** The PanelProps Grafana gives a FlowLens panel (unit tests): `series` answered by the FlowLens datasource. */
export function panelProps<T>(
  series: DataFrame[],
  options: T,
  o: { data?: Partial<PanelData>; height?: number; width?: number; title?: string } = {}
): PanelProps<T> {
  const timeRange = getDefaultTimeRange();
  return {
    id: 1,
    data: {
      state: LoadingState.Done,
      series,
      timeRange,
      request: {
        targets: [{ refId: 'A', datasource: { uid: 'flowlens', type: 'flowlens-clickhouse-datasource' } }],
      } as PanelData['request'],
      ...o.data,
    },
    timeRange,
    timeZone: 'utc',
    options,
    fieldConfig: { defaults: {}, overrides: [] } as FieldConfigSource,
    transparent: false,
    width: o.width ?? 1100,
    height: o.height ?? 800,
    renderCounter: 0,
    title: o.title ?? 'Panel',
    eventBus: {} as PanelProps['eventBus'],
    onOptionsChange: jest.fn(),
    onFieldConfigChange: jest.fn(),
    replaceVariables: (s: string) => s,
    onChangeTimeRange: jest.fn(),
  };
}

/** The defaults a panel plugin's option builder declares, by option path (as the panel editor fills them in). */
export function optionDefaults(plugin: PanelPlugin<any>): Record<string, unknown> {
  const seen: Record<string, unknown> = {};
  const recorder: Record<string, unknown> = new Proxy(
    {},
    {
      get:
        () =>
        (item: { path?: string; defaultValue?: unknown }): unknown => {
          if (item?.path) {
            seen[item.path] = item.defaultValue;
          }
          return recorder;
        },
    }
  );
  plugin.getPanelOptionsSupplier()(recorder as never, { data: [] });
  return seen;
}
