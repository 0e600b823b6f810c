import { PanelPlugin } from '@grafana/data';
import { FlameGraphPanel } from './FlameGraphPanel';
import { DEFAULT_OPTIONS, EVENT_LABEL, type FlameGraphPanelOptions } from './types';

export const plugin = new PanelPlugin<FlameGraphPanelOptions>(FlameGraphPanel).setPanelOptions((builder) =>
  builder
    .addRadio({
      path: 'event',
      name: 'Profile shown first',
      description:
        'When the queries return both, the profile the panel opens on (the switch above the graph changes it)',
      defaultValue: DEFAULT_OPTIONS.event,
      settings: {
        options: [
          { value: 'on_cpu', label: EVENT_LABEL.on_cpu },
          { value: 'off_cpu', label: EVENT_LABEL.off_cpu },
        ],
      },
    })
    .addBooleanSwitch({
      path: 'sideBySide',
      name: 'On-CPU and off-CPU side by side',
      description: 'When the queries return both: where the threads computed next to where they waited',
      defaultValue: DEFAULT_OPTIONS.sideBySide,
    })
    .addRadio({
      path: 'view',
      name: 'View',
      description: 'The flame graph, the top-functions table, or both',
      defaultValue: DEFAULT_OPTIONS.view,
      settings: {
        options: [
          { value: 'both', label: 'Both' },
          { value: 'graph', label: 'Flame graph' },
          { value: 'table', label: 'Top functions' },
        ],
      },
    })
);
