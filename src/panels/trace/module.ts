import { PanelPlugin } from '@grafana/data';
import { TracePanel } from './TracePanel';
import { DEFAULT_OPTIONS, type TracePanelOptions } from './types';

export const plugin = new PanelPlugin<TracePanelOptions>(TracePanel).setPanelOptions((builder) =>
  builder
    .addRadio({
      path: 'layout',
      name: 'Rows',
      description: 'Each span under its parent, or the spans grouped by the hop they belong to',
      defaultValue: DEFAULT_OPTIONS.layout,
      settings: {
        options: [
          { value: 'tree', label: 'Call tree' },
          { value: 'hops', label: 'By hop' },
        ],
      },
    })
    .addBooleanSwitch({
      path: 'showHopStrip',
      name: 'Critical-path strip',
      description: "Each hop's share of the end-to-end time, under the verdict",
      defaultValue: DEFAULT_OPTIONS.showHopStrip,
    })
);
