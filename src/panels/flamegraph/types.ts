/** The two profiles of the flame graph query (pkg/query/flamegraph.go): on-CPU samples and off-CPU time blocked. */
export type ProfileEvent = 'on_cpu' | 'off_cpu';

/** What the panel shows under its toolbar. */
export type FlameView = 'both' | 'graph' | 'table';

export interface FlameGraphPanelOptions {
  /** the profile shown first when the panel's queries return both */
  event: ProfileEvent;
  /** on-CPU and off-CPU next to each other when the queries return both ("what was this thread doing") */
  sideBySide: boolean;
  view: FlameView;
}

export const DEFAULT_OPTIONS: FlameGraphPanelOptions = {
  event: 'on_cpu',
  sideBySide: false,
  view: 'both',
};

export const EVENT_LABEL: Record<ProfileEvent, string> = {
  on_cpu: 'On-CPU (samples)',
  off_cpu: 'Off-CPU (time blocked)',
};
