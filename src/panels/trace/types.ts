/** How the waterfall orders its rows. */
export type TraceLayout = 'tree' | 'hops';

export interface TracePanelOptions {
  /** `tree`: each span under its parent; `hops`: spans grouped by the hop they belong to */
  layout: TraceLayout;
  /** show the critical-path strip (each hop's share of the end-to-end time) under the verdict */
  showHopStrip: boolean;
}

export const DEFAULT_OPTIONS: TracePanelOptions = {
  layout: 'tree',
  showHopStrip: true,
};
