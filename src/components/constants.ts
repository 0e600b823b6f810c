export const PLUGIN_ID = 'flowlens-observability-app';
export const PLUGIN_BASE_URL = `/a/${PLUGIN_ID}`;
export const DATASOURCE_TYPE = 'flowlens-clickhouse-datasource';
export const DATASOURCE_UID = 'flowlens';
export const SERVICE_OVERVIEW_DASHBOARD_UID = 'flowlens-service-overview';

/** The app's pages (the `page` entries of plugin.json), relative to the app's root route /a/<plugin id>/. */
export const ROUTES = {
  overview: 'overview',
  traces: 'traces',
  profiling: 'profiling',
  tags: 'tags',
  network: 'network',
  triage: 'triage',
};

/** The URL of an app page (for links and locationService). */
export const pageUrl = (route: string) => `${PLUGIN_BASE_URL}/${route}`;
