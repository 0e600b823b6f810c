import { optionDefaults } from '../testPanelProps';
import { plugin } from './module';
import { TracePanel } from './TracePanel';
import { DEFAULT_OPTIONS } from './types';

describe('flowlens-trace-panel module', () => {
  it('exports the panel with its options and their defaults', () => {
    expect(plugin.panel).toBe(TracePanel);
    expect(optionDefaults(plugin)).toEqual(DEFAULT_OPTIONS);
  });
});
