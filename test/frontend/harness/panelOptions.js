// A panel plugin's option defaults as Grafana's panel editor fills them (test only). Grafana's real option builder
// needs its registry of standard option editors (part of Grafana core), so a recording builder collects each option's
// path and defaultValue.

/** Option defaults as the panel editor fills them (a recording builder: Grafana's needs its option registry). */
export function optionDefaults(plugin, series) {
  const options = {};
  const recorder = new Proxy(
    {},
    {
      get(_t, key) {
        return (item) => {
          if (String(key).startsWith('add') && item && item.path) {
            options[item.path] = item.defaultValue;
          }
          return recorder;
        };
      },
    }
  );
  plugin.getPanelOptionsSupplier()(recorder, { data: series });
  return options;
}
