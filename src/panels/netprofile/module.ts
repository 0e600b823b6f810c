import { PanelPlugin } from '@grafana/data';
import { NetProfilePanel } from './NetProfilePanel';
import { DEFAULT_OPTIONS, type NetProfileOptions } from './types';

export const plugin = new PanelPlugin<NetProfileOptions>(NetProfilePanel).setPanelOptions((builder) =>
  builder
    .addBooleanSwitch({
      path: 'showAckLatency',
      name: 'ACK latency',
      description: "Each observation point's largest system (ACK) latency: a data segment to the ACK covering it",
      defaultValue: DEFAULT_OPTIONS.showAckLatency,
    })
    .addBooleanSwitch({
      path: 'highlightLargest',
      name: 'Highlight the largest interval',
      description: 'Shade the longest latency of the flow: where its time went',
      defaultValue: DEFAULT_OPTIONS.highlightLargest,
    })
);
