import {
  type DataFrame,
  FieldConfigSource,
  LoadingState,
  type PanelData,
  type PanelProps,
  getDefaultTimeRange,
} from '@grafana/data';

/** The PanelProps Grafana gives a panel, for the panels' unit tests: the series in a Done state, these options. */
export function panelProps<T>(
  series: DataFrame[],
  options: T,
  o: { data?: Partial<PanelData>; width?: number; height?: number; title?: string } = {}
): PanelProps<T> {
  const timeRange = getDefaultTimeRange();
  return {
    id: 1,
    data: { state: LoadingState.Done, series, timeRange, ...o.data },
    timeRange,
    timeZone: 'utc',
    options,
    fieldConfig: { defaults: {}, overrides: [] } as FieldConfigSource,
    transparent: false,
    width: o.width ?? 900,
    height: o.height ?? 500,
    renderCounter: 0,
    title: o.title ?? 'Panel',
    eventBus: {} as PanelProps['eventBus'],
    onOptionsChange: jest.fn(),
    onFieldConfigChange: jest.fn(),
    replaceVariables: (s: string) => s,
    onChangeTimeRange: jest.fn(),
  };
}
