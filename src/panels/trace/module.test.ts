import { plugin } from './module';
import { TracePanel } from './TracePanel';
import { DEFAULT_OPTIONS } from './types';

describe('flowlens-trace-panel module', () => {
  it('exports the panel with its options and their defaults', () => {
    expect(plugin.panel).toBe(TracePanel);
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
    expect(seen).toEqual(DEFAULT_OPTIONS);
  });
});
