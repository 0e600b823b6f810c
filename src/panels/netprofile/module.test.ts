import { optionDefaults } from '../testPanelProps';
import { plugin } from './module';
import { NetProfilePanel } from './NetProfilePanel';
import { DEFAULT_OPTIONS } from './types';

describe('flowlens-netprofile-panel module', () => {
  it('exports the panel with its options and their defaults', () => {
    expect(plugin.panel).toBe(NetProfilePanel);
    expect(optionDefaults(plugin)).toEqual(DEFAULT_OPTIONS);
  });
});
