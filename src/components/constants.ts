export const PLUGIN_ID = 'flowlens-observability-app';
export const PLUGIN_BASE_URL = `/a/${PLUGIN_ID}`;
export const DATASOURCE_TYPE = 'flowlens-clickhouse-datasource';
export const DATASOURCE_UID = 'flowlens';
export const SERVICE_OVERVIEW_DASHBOARD_UID = 'flowlens-service-overview';
