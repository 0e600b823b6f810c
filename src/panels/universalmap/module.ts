import { PanelPlugin } from '@grafana/data';
import { UniversalMapPanel } from './UniversalMapPanel';
import { DEFAULT_OPTIONS, type UniversalMapOptions } from './types';

export const plugin = new PanelPlugin<UniversalMapOptions>(UniversalMapPanel).setPanelOptions((builder) =>
  builder
    .addRadio({
      path: 'edgeStat',
      name: 'Edge label',
      description: 'Statistic written on each call',
      defaultValue: DEFAULT_OPTIONS.edgeStat,
      settings: {
        options: [
          { value: 'both', label: 'Rate + latency' },
          { value: 'mainstat', label: 'Rate' },
          { value: 'secondarystat', label: 'Latency' },
          { value: 'errorRate', label: 'Error rate' },
        ],
      },
    })
    .addNumberInput({
      path: 'errorThreshold',
      name: 'Error-rate threshold (%)',
      description: 'Calls at or above this error rate are drawn red; calls with some errors below it, amber',
      defaultValue: DEFAULT_OPTIONS.errorThreshold,
      settings: { min: 0, max: 100, step: 0.5 },
    })
);
