// FlowLens DASHBOARD harness (test only): plays Grafana's part for one provisioned dashboard JSON. It sets the
// REAL @grafana/runtime's services (backend srv: this server's /api; template srv: templateSrv.js over the
// dashboard's variables and the URL's var-*; data source srv: the built datasource plugin, dist/datasource/module.js,
// instantiated as Grafana does), then for each panel, in grid order: asks the datasource plugin's own query() (so
// its applyTemplateVariables and DataSourceWithBackend's request building run as in Grafana), applies the panel's
// field config, and renders it at its grid position. FlowLens panels are loaded from dist/panels/<id>/module.js.
// Grafana-core panels (time series, table, logs, node graph, traces, flame graph, stat...) are part of Grafana, not of
// a package this harness can load: the harness checks the frames carry the shape that panel needs (CORE_CHECKS, the
// gate), then draws time series and tables with @grafana/ui's TimeSeries (uPlot) and Table, the components Grafana's
// own panels are built on (CORE_DRAW), and the others as a summary box. window.__harness.panels reports each panel:
// its queries (as sent), frames, the check's verdict or the render's, what a core panel drew, and any error.

import { optionDefaults } from './panelOptions.js';

/** Frame shapes Grafana-core panels need (what each draws from; a mismatch is reported as the panel's error). */
const CORE_CHECKS = {
  timeseries: (frames) => {
    const series = frames.filter(
      (f) => f.fields.some((x) => x.type === 'time') && f.fields.some((x) => x.type === 'number')
    );
    if (frames.length > 0 && series.length !== frames.length) {
      return { error: `${frames.length - series.length} frame(s) without a time and a number field` };
    }
    // a series with no value other than 0 or null draws a flat line at 0 (or nothing): counted apart
    const numbers = series.flatMap((f) => f.fields.filter((x) => x.type === 'number'));
    const flat = numbers.filter((x) => !Array.from(x.values).some((v) => v !== null && v !== 0)).length;
    return { summary: `${numbers.length} series${flat > 0 ? ` (${flat} all 0)` : ''}` };
  },
  table: (frames) => ({ summary: `${frames.reduce((n, f) => n + f.length, 0)} rows in ${frames.length} frame(s)` }),
  logs: (frames) => {
    const logs = frames.filter((f) => f.meta?.type === 'log-lines' || f.meta?.preferredVisualisationType === 'logs');
    if (frames.length > 0 && logs.length === 0) {
      return { error: 'no log-lines frame' };
    }
    return { summary: `${logs.reduce((n, f) => n + f.length, 0)} log lines` };
  },
  nodeGraph: (frames) => {
    const nodes = frames.find((f) => f.name === 'nodes' || f.meta?.preferredVisualisationType === 'nodeGraph');
    const edges = frames.find((f) => f.name === 'edges');
    if (!nodes || !nodes.fields.some((x) => x.name === 'id')) {
      return { error: 'no nodes frame with an id field' };
    }
    return { summary: `${nodes.length} nodes, ${edges?.length ?? 0} edges` };
  },
  traces: (frames) => {
    const t = frames.find((f) =>
      ['traceID', 'spanID', 'parentSpanID'].every((n) => f.fields.some((x) => x.name === n))
    );
    return t ? { summary: `${t.length} spans` } : { error: 'no trace frame (traceID, spanID, parentSpanID)' };
  },
  flamegraph: (frames) => {
    const f = frames.find((x) => ['level', 'value', 'label'].every((n) => x.fields.some((y) => y.name === n)));
    return f ? { summary: `${f.length} flame graph nodes` } : { error: 'no flame graph frame (level, value, label)' };
  },
  stat: (frames) =>
    frames.some((f) => f.fields.some((x) => x.type === 'number'))
      ? { summary: `${frames.length} frame(s) with numbers` }
      : { error: 'no number field' },
};
CORE_CHECKS.gauge = CORE_CHECKS.stat;
CORE_CHECKS.bargauge = CORE_CHECKS.stat;
CORE_CHECKS.barchart = CORE_CHECKS.stat;

/**
 * What Grafana's own time series and table panels register as their field config defaults and options (a dashboard's
 * own config wins): TimeSeries and Table read the series style from `custom`, and a time series colours each series
 * from the classic palette.
 */
export const CORE_DEFAULTS = {
  timeseries: {
    fieldConfig: {
      color: { mode: 'palette-classic' },
      custom: {
        drawStyle: 'line',
        lineInterpolation: 'linear',
        lineWidth: 1,
        fillOpacity: 0,
        gradientMode: 'none',
        showPoints: 'auto',
        pointSize: 5,
        spanNulls: false,
        axisPlacement: 'auto',
        barAlignment: 0,
        stacking: { mode: 'none', group: 'A' },
        scaleDistribution: { type: 'linear' },
        thresholdsStyle: { mode: 'off' },
        hideFrom: { legend: false, tooltip: false, viz: false },
      },
    },
    options: {
      legend: { showLegend: true, displayMode: 'list', placement: 'bottom', calcs: [] },
      tooltip: { mode: 'single', sort: 'none' },
    },
  },
  table: {
    fieldConfig: { custom: { align: 'auto', cellOptions: { type: 'auto' }, inspect: false } },
    options: { showHeader: true, cellHeight: 'sm', frameIndex: 0 },
  },
};

/** The panel's field config over its type's defaults (Grafana merges the plugin's defaults the same way). */
function fieldConfigOf(p) {
  const own = p.fieldConfig ?? { defaults: {}, overrides: [] };
  const base = CORE_DEFAULTS[p.type]?.fieldConfig;
  if (!base) {
    return own;
  }
  const defaults = own.defaults ?? {};
  return {
    ...own,
    defaults: { ...base, ...defaults, custom: { ...base.custom, ...defaults.custom } },
    overrides: own.overrides ?? [],
  };
}

/** Grafana's standard field config properties (its core registers them at boot, with their editors). */
const STANDARD_FIELD_CONFIG = [
  'unit',
  'decimals',
  'min',
  'max',
  'displayName',
  'noValue',
  'color',
  'thresholds',
  'mappings',
  'links',
  'filterable',
];

/**
 * The field config registry applyFieldOverrides takes defaults and overrides from (it applies only the properties a
 * registry names; Grafana's is the panel plugin's: the standard properties and the panel's custom ones): the standard
 * properties and every custom one this panel's config sets, each taken as given.
 */
function fieldConfigRegistryOf(grafanaData, fieldConfig) {
  const custom = new Set(Object.keys(fieldConfig.defaults?.custom ?? {}));
  for (const o of fieldConfig.overrides ?? []) {
    for (const prop of o.properties ?? []) {
      if (prop.id.startsWith('custom.')) {
        custom.add(prop.id.slice('custom.'.length));
      }
    }
  }
  const item = (id, path, isCustom) => ({
    id,
    path,
    name: id,
    isCustom,
    process: (value) => value,
    shouldApply: () => true,
    override: () => null,
    editor: () => null,
  });
  return new grafanaData.FieldConfigOptionsRegistry(() => [
    ...STANDARD_FIELD_CONFIG.map((id) => item(id, id, false)),
    ...[...custom].map((path) => item(`custom.${path}`, path, true)),
  ]);
}

/**
 * The frames as a panel receives them (Grafana's PanelQueryRunner): its field config (the core panel's defaults under
 * its own) applied over the query's frames, variables replaced.
 */
export function panelFrames(grafanaData, p, frames, theme, replaceVariables) {
  const fieldConfig = fieldConfigOf(p);
  return grafanaData.applyFieldOverrides({
    data: frames,
    fieldConfig,
    fieldConfigRegistry: fieldConfigRegistryOf(grafanaData, fieldConfig),
    replaceVariables,
    theme,
    timeZone: 'utc',
  });
}

/** Resolves once `find()` returns something, polled each animation frame (a React render is not synchronous). */
function until(find, what, timeoutMs = 10000) {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      const found = find();
      if (found) {
        resolve(found);
      } else if (performance.now() - t0 > timeoutMs) {
        reject(new Error(`harness: ${what} not drawn within ${timeoutMs} ms`));
      } else {
        requestAnimationFrame(poll);
      }
    };
    poll();
  });
}

/** `#rrggbb` or `rgb[a](r, g, b...)` as [r, g, b], else undefined (a gradient or a function). */
function rgbOf(color) {
  if (typeof color !== 'string') {
    return undefined;
  }
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(color);
  if (hex) {
    return hex.slice(1, 4).map((x) => parseInt(x, 16));
  }
  const rgb = /^rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(color);
  return rgb ? rgb.slice(1, 4).map(Number) : undefined;
}

/**
 * Pixels of the plot area uPlot painted in a series' line colour, at least a quarter opaque (an antialiased line at a
 * half pixel is two rows at half; the 10% fill under a line does not count), near it (a line over another blends):
 * the lines a user sees, 0 when none.
 */
function linePixels(u) {
  const colors = u.series
    .slice(1)
    .map((s) => rgbOf(s._stroke))
    .filter(Boolean);
  // the plot area and the width of a line around it (a series all 0 runs along its bottom edge)
  const left = Math.max(0, u.bbox.left - 2);
  const top = Math.max(0, u.bbox.top - 2);
  const width = Math.min(u.ctx.canvas.width - left, u.bbox.width + 4);
  const height = Math.min(u.ctx.canvas.height - top, u.bbox.height + 4);
  if (colors.length === 0 || width < 1 || height < 1) {
    return 0;
  }
  const px = u.ctx.getImageData(left, top, width, height).data;
  let n = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (
      px[i + 3] >= 64 &&
      colors.some((c) => Math.abs(c[0] - px[i]) + Math.abs(c[1] - px[i + 1]) + Math.abs(c[2] - px[i + 2]) < 80)
    ) {
      n++;
    }
  }
  return n;
}

/**
 * Grafana-core panels drawn with the @grafana/ui component Grafana's panel is built on, from the same frames (after
 * their shape check). Each returns the element and a promise of what it drew: for a time series, uPlot's own series
 * (label, values in the range) once it has drawn; for a table, the columns and first row the frame gives it (the
 * test compares them with the cells drawn).
 */
export const CORE_DRAW = {
  timeseries: ({ ui, h, grafanaData, series, width, height, range, options }) => {
    let resolveDrawn;
    const drawn = new Promise((resolve, reject) => {
      resolveDrawn = resolve;
      setTimeout(() => reject(new Error('harness: the time series not drawn within 10000 ms')), 10000);
    });
    const hooked = new WeakSet();
    // GraphNG hands its uPlot config builder and the frames joined on time (uPlot's columns) to `children` before the
    // plot is made: a draw hook reports uPlot's series, each named by its column's field as the legend names it
    const children = (builder, aligned) => {
      if (!hooked.has(builder)) {
        hooked.add(builder);
        builder.addHook('draw', (u) =>
          resolveDrawn({
            linePixels: linePixels(u),
            series: u.series.slice(1).map((s, i) => ({
              label: aligned.fields[i + 1]
                ? grafanaData.getFieldDisplayName(aligned.fields[i + 1], aligned, series)
                : undefined,
              shown: s.show !== false,
              points: Array.from(u.data[i + 1] ?? []).filter((v) => v !== null && v !== undefined).length,
            })),
          })
        );
      }
      return null;
    };
    const numbers = series.flatMap((f) =>
      f.fields.filter((x) => x.type === 'number').map((x) => grafanaData.getFieldDisplayName(x, f, series))
    );
    if (numbers.length === 0) {
      return { element: h('div', { style: { padding: 8 } }, 'No data'), drawn: Promise.resolve({ series: [] }) };
    }
    const element = h(ui.TimeSeries, {
      frames: series,
      width,
      height,
      timeRange: range,
      timeZone: 'utc',
      legend: options.legend,
      options,
      children,
    });
    return { element, drawn: drawn.then((d) => ({ ...d, fields: numbers })) };
  },
  table: ({ ui, h, grafanaData, series, width, height, range, options, body }) => {
    const frame = series[options.frameIndex ?? 0];
    if (!frame) {
      return { element: h('div', { style: { padding: 8 } }, 'No data'), drawn: Promise.resolve({ columns: [] }) };
    }
    const shown = frame.fields.filter((f) => !f.config.custom?.hidden);
    const element = h(ui.Table, {
      data: frame,
      width,
      height,
      timeRange: range,
      cellHeight: options.cellHeight,
      noHeader: options.showHeader === false,
    });
    const drawn = until(() => body.querySelector('[role="columnheader"]'), 'a table header').then(() => ({
      columns: shown.map((f) => grafanaData.getFieldDisplayName(f, frame, series)),
      firstRow:
        frame.length > 0 ? shown.map((f) => grafanaData.formattedValueToString(f.display(f.values[0]))) : undefined,
      rows: frame.length,
      // each number column's first values by field name: the order the rows came in (e.g. slowest first)
      numbers: Object.fromEntries(
        frame.fields.filter((f) => f.type === 'number').map((f) => [f.name, Array.from(f.values).slice(0, 50)])
      ),
    }));
    return { element, drawn };
  },
  // Grafana's Logs panel is part of Grafana core (no log-rows component in @grafana/ui): a stand-in, named as such,
  // lists the log-lines frames' rows as the panel's rows read (time, level, body), newest first as sent, so a
  // screenshot shows the lines and the test reads them back against the frame
  logs: ({ h, grafanaData, series }) => {
    const frames = series.filter((f) => f.meta?.type === 'log-lines' || f.meta?.preferredVisualisationType === 'logs');
    const rows = [];
    for (const f of frames) {
      const field = (name) => f.fields.find((x) => x.name === name);
      const [time, body, level] = [
        field('timestamp') ?? f.fields.find((x) => x.type === 'time'),
        field('body'),
        field('severity'),
      ];
      for (let i = 0; i < f.length; i++) {
        rows.push({
          time: time
            ? grafanaData.dateTimeFormat(time.values[i], { timeZone: 'utc', format: 'YYYY-MM-DD HH:mm:ss.SSS' })
            : '',
          level: level ? String(level.values[i]) : '',
          body: body ? String(body.values[i]) : '',
        });
      }
    }
    const element = h(
      'div',
      {
        'data-testid': 'harness-log-lines',
        style: { height: '100%', overflow: 'auto', padding: '4px 8px', fontSize: 12 },
      },
      h('div', { style: { opacity: 0.6, marginBottom: 4 } }, "harness stand-in for Grafana's Logs panel (core)"),
      ...rows.map((r, i) =>
        h(
          'div',
          { key: i, 'data-testid': 'harness-log-line', style: { fontFamily: 'monospace', whiteSpace: 'nowrap' } },
          `${r.time} ${r.level} ${r.body}`
        )
      )
    );
    return {
      element,
      drawn: Promise.resolve({
        lines: rows.length,
        firstLine: rows[0] ? `${rows[0].time} ${rows[0].level} ${rows[0].body}` : undefined,
      }),
    };
  },
};

const GRID_ROW_PX = 30;

/** Panels in grid order, rows' children flattened (a collapsed row keeps its panels in `panels`). */
function panelsOf(dashboard) {
  const out = [];
  for (const p of dashboard.panels ?? []) {
    if (p.type === 'row') {
      out.push(...(p.panels ?? []));
    } else {
      out.push(p);
    }
  }
  return out.sort((a, b) => a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x);
}

/** Grafana's stylesheet's uPlot rules (its build bundles uPlot.min.css): without them a plot is laid out as text. */
export function uPlotStyles() {
  return new Promise((resolve, reject) => {
    const link = Object.assign(document.createElement('link'), {
      rel: 'stylesheet',
      href: '/public/build/uPlot.min.css',
    });
    link.onload = resolve;
    link.onerror = () => reject(new Error('harness: cannot load uPlot.min.css'));
    document.head.appendChild(link);
  });
}

/**
 * What Grafana's page has around every panel: its global styles (@grafana/ui's GlobalStyles, rendered at its app root)
 * and its stylesheet's uPlot rules.
 */
export async function grafanaPageStyles({ React, ReactDOMClient, grafanaData, grafanaUI, theme }) {
  await uPlotStyles();
  const globalStyles = document.createElement('div');
  document.body.appendChild(globalStyles);
  ReactDOMClient.createRoot(globalStyles).render(
    React.createElement(
      grafanaData.ThemeContext.Provider,
      { value: theme },
      React.createElement(grafanaUI.GlobalStyles)
    )
  );
}

export async function runDashboard({
  params,
  theme,
  shared,
  loadAmdModule,
  React,
  ReactDOMClient,
  grafanaData,
  grafanaUI,
  runtime,
  appRuntime,
}) {
  const t0 = performance.now();
  const dashboardUrl = params.get('dashboard');
  const dashboard = await (await fetch(dashboardUrl)).json();
  const { createTemplateSrv } = await import('./templateSrv.js');
  const templateSrv = createTemplateSrv(dashboard, params);
  const to = Number(params.get('to') ?? Date.now());
  const from = Number(params.get('from') ?? to - 3600_000);
  const range = {
    from: grafanaData.dateTime(from),
    to: grafanaData.dateTime(to),
    raw: { from: grafanaData.dateTime(from), to: grafanaData.dateTime(to) },
  };
  templateSrv.updateTimeRange(range);

  // plugins get the real runtime (its services set below, before any query)
  shared['@grafana/runtime'] = runtime;
  // the data source Grafana would instantiate for uid "flowlens" (provisioning/datasources/flowlens.yaml)
  const dsModule = await loadAmdModule(new URL('/dist/datasource/module.js', location.href).href);
  const dsMeta = await (await fetch('/dist/datasource/plugin.json')).json();
  const instanceSettings = {
    id: 1,
    uid: 'flowlens',
    type: dsMeta.id,
    name: 'FlowLens',
    meta: { ...dsMeta, module: 'public/plugins/flowlens-clickhouse-datasource/module.js', baseUrl: '' },
    jsonData: {},
    access: 'proxy',
    readOnly: true,
  };
  const ds = new dsModule.plugin.DataSourceClass(instanceSettings);
  const refOf = (ref) => (typeof ref === 'string' ? ref : ref?.uid);
  const resolve = (ref) => {
    const uid = templateSrv.replace(refOf(ref) ?? 'flowlens');
    return uid === 'flowlens' || uid === dsMeta.id || uid === 'FlowLens' ? instanceSettings : undefined;
  };
  runtime.setBackendSrv(appRuntime.backendSrv);
  runtime.setTemplateSrv(templateSrv);
  runtime.setDataSourceSrv({
    get: async (ref) => {
      if (!resolve(ref)) {
        throw new Error(`harness: unknown data source ${JSON.stringify(ref)}`);
      }
      return ds;
    },
    getInstanceSettings: (ref) => resolve(ref),
    getList: () => [instanceSettings],
    reload: async () => {},
    registerRuntimeDataSource: () => {},
  });

  // Grafana refreshes query variables on load (refresh 1 or 2): each through its data source's variable support,
  // in the dashboard's order (a later one may use an earlier one's value)
  const variableReports = [];
  for (const v of templateSrv.getVariables()) {
    if (v.type !== 'query') {
      continue;
    }
    if (!resolve(v.datasource) || !ds.variables?.query) {
      throw new Error(`harness: query variable ${v.name} of a data source the harness does not have`);
    }
    const response = await new Promise((res, rej) => {
      let last;
      ds.variables
        .query({ targets: [v.query], range, scopedVars: {}, app: 'dashboard', requestId: `var-${v.name}` })
        .subscribe({ next: (r) => (last = r), error: rej, complete: () => res(last) });
    });
    const frame = response?.data?.[0];
    const field =
      frame?.fields?.find((f) => f.name === 'value') ??
      frame?.fields?.find((f) => f.name === 'text') ??
      frame?.fields?.[0];
    const values = field
      ? Array.from(field.values, String)
      : (response?.data ?? []).map((x) => String(x.value ?? x.text));
    templateSrv.setOptions(v.name, values);
    appRuntime.takeRequests();
    variableReports.push({ name: v.name, options: values });
  }

  await grafanaPageStyles({ React, ReactDOMClient, grafanaData, grafanaUI, theme });
  document.querySelector('h1').textContent = `FlowLens dashboard harness (not Grafana): ${dashboard.title}`;
  const width = Number(params.get('width') ?? 1600);
  const host = document.getElementById('panel');
  host.style.position = 'relative';
  host.style.width = `${width}px`;
  const colPx = width / 24;
  const panels = panelsOf(dashboard);
  host.style.height = `${Math.max(...panels.map((p) => (p.gridPos.y + p.gridPos.h) * GRID_ROW_PX), 0)}px`;
  const reports = [];
  const h = React.createElement;
  const modules = new Map();
  const draws = [];

  for (const p of panels) {
    const report = { id: p.id, title: p.title, type: p.type, queries: [], frames: [], status: 'running' };
    reports.push(report);
    const box = document.createElement('div');
    box.dataset.panelId = String(p.id);
    box.dataset.panelType = p.type;
    Object.assign(box.style, {
      position: 'absolute',
      left: `${p.gridPos.x * colPx}px`,
      top: `${p.gridPos.y * GRID_ROW_PX}px`,
      width: `${p.gridPos.w * colPx - 8}px`,
      height: `${p.gridPos.h * GRID_ROW_PX - 8}px`,
      background: theme.colors.background.primary,
      border: `1px solid ${theme.colors.border.weak}`,
      overflow: 'hidden',
      boxSizing: 'border-box',
    });
    host.appendChild(box);
    const title = document.createElement('div');
    title.textContent = templateSrv.replace(p.title ?? '');
    Object.assign(title.style, {
      padding: '4px 8px',
      fontSize: '13px',
      fontWeight: 500,
      height: '24px',
      boxSizing: 'border-box',
    });
    box.appendChild(title);
    const body = document.createElement('div');
    body.dataset.testid = 'panel-body';
    Object.assign(body.style, { position: 'absolute', top: '24px', left: 0, right: 0, bottom: 0 });
    box.appendChild(body);
    const bodyW = p.gridPos.w * colPx - 10;
    const bodyH = p.gridPos.h * GRID_ROW_PX - 34;
    try {
      // the query runner's request, as a dashboard panel's (targets with the panel's data source)
      const targets = (p.targets ?? []).map((t) => ({ ...t, datasource: t.datasource ?? p.datasource }));
      const request = {
        app: 'dashboard',
        requestId: `harness-${p.id}`,
        dashboardUID: dashboard.uid,
        panelId: p.id,
        panelPluginId: p.type,
        range,
        rangeRaw: range.raw,
        interval: '1s',
        intervalMs: Math.max(1000, Math.floor((to - from) / 1000)),
        maxDataPoints: Math.floor(bodyW),
        targets,
        scopedVars: {},
        filters: templateSrv.getAdhocFilters('flowlens'),
        timezone: 'utc',
        startTime: Date.now(),
      };
      const response = await new Promise((res, rej) => {
        let last;
        ds.query(request).subscribe({ next: (r) => (last = r), error: rej, complete: () => res(last) });
      });
      report.queries = appRuntime
        .takeRequests()
        .map((r) => r.data?.queries ?? [])
        .flat();
      const errors = response?.errors ?? (response?.error ? [response.error] : []);
      const series = panelFrames(grafanaData, p, response?.data ?? [], theme, (s) => templateSrv.replace(s));
      report.frames = series.map((f) => ({
        name: f.name,
        refId: f.refId,
        rows: f.length,
        fields: f.fields.map((x) => x.name),
        meta: f.meta,
      }));
      if (errors.length > 0) {
        throw new Error(errors.map((e) => e.message ?? String(e)).join('; '));
      }
      if (p.type.startsWith('flowlens-')) {
        const id = p.type.replace(/^flowlens-/, '').replace(/-panel$/, '');
        if (!modules.has(id)) {
          modules.set(id, await loadAmdModule(new URL(`/dist/panels/${id}/module.js`, location.href).href));
        }
        const plugin = modules.get(id).plugin;
        const data = { state: grafanaData.LoadingState.Done, series, timeRange: range, request };
        const props = {
          id: p.id,
          data,
          timeRange: range,
          timeZone: 'utc',
          options: { ...optionDefaults(plugin, series), ...(p.options ?? {}) },
          fieldConfig: p.fieldConfig ?? { defaults: {}, overrides: [] },
          transparent: false,
          width: bodyW,
          height: bodyH,
          renderCounter: 0,
          title: p.title,
          eventBus: new grafanaData.EventBusSrv(),
          onOptionsChange: () => {},
          onFieldConfigChange: () => {},
          replaceVariables: (s) => templateSrv.replace(s),
          onChangeTimeRange: () => {},
        };
        ReactDOMClient.createRoot(body).render(
          h(grafanaData.ThemeContext.Provider, { value: theme }, h(plugin.panel, props))
        );
        report.rendered = 'FlowLens panel';
      } else {
        const check = CORE_CHECKS[p.type];
        if (!check) {
          throw new Error(`harness: no frame check for Grafana-core panel type ${p.type}`);
        }
        const verdict = check(series);
        if (verdict.error) {
          throw new Error(`${p.type}: ${verdict.error}`);
        }
        report.rendered = `Grafana-core ${p.type}: ${verdict.summary}`;
        const draw = CORE_DRAW[p.type];
        if (draw) {
          const options = { ...CORE_DEFAULTS[p.type]?.options, ...(p.options ?? {}) };
          const { element, drawn } = draw({
            ui: grafanaUI,
            h,
            grafanaData,
            series,
            width: bodyW,
            height: bodyH,
            range,
            options,
            body,
          });
          ReactDOMClient.createRoot(body).render(h(grafanaData.ThemeContext.Provider, { value: theme }, element));
          draws.push(
            drawn.then(
              (d) => (report.drawn = d),
              (e) => {
                report.status = 'error';
                report.error = String(e?.message ?? e);
              }
            )
          );
          report.status = 'done';
          continue;
        }
        body.textContent = `Grafana core panel "${p.type}" (shape checked; the harness draws time series, tables and logs): ${verdict.summary}; frames ${series
          .map((f) => `${f.name ?? f.refId}(${f.length})`)
          .join(', ')}`;
        Object.assign(body.style, { padding: '8px', fontSize: '12px', color: theme.colors.text.secondary });
      }
      report.status = 'done';
    } catch (e) {
      report.status = 'error';
      report.error = String(e?.message ?? e);
      body.textContent = `Error: ${report.error}`;
      Object.assign(body.style, { padding: '8px', color: theme.colors.error.text, fontSize: '12px' });
    }
  }
  // every core panel drawn: the dashboard's first paint (its queries answered, in grid order, as the harness asks them)
  await Promise.all(draws);
  const paintMs = performance.now() - t0;
  // the dashboard's annotations from FlowLens (Grafana runs each enabled one over the range: the datasource's
  // annotation support turns its query's frames into events)
  const annotations = [];
  for (const anno of dashboard.annotations?.list ?? []) {
    if (anno.builtIn || !anno.enable || !resolve(anno.datasource)) {
      continue;
    }
    const report = { name: anno.name, status: 'running', events: [] };
    annotations.push(report);
    try {
      const target = { ...(ds.annotations.getDefaultQuery?.() ?? {}), ...anno.target, refId: 'Anno' };
      const response = await new Promise((res, rej) => {
        let last;
        ds.query({
          app: 'dashboard',
          requestId: `anno-${anno.name}`,
          range,
          rangeRaw: range.raw,
          interval: '1m',
          intervalMs: 60000,
          targets: [target],
          scopedVars: {},
          filters: templateSrv.getAdhocFilters('flowlens'),
          timezone: 'utc',
          startTime: Date.now(),
        }).subscribe({ next: (r) => (last = r), error: rej, complete: () => res(last) });
      });
      report.queries = appRuntime
        .takeRequests()
        .map((r) => r.data?.queries ?? [])
        .flat();
      if (response?.errors?.length) {
        throw new Error(response.errors.map((e) => e.message).join('; '));
      }
      const events = await new Promise((res, rej) =>
        ds.annotations.processEvents(anno, response?.data ?? []).subscribe({ next: res, error: rej })
      );
      report.events = events.map((e) => ({ time: e.time, timeEnd: e.timeEnd, text: e.text, tags: e.tags }));
      report.status = 'done';
    } catch (e) {
      report.status = 'error';
      report.error = String(e?.message ?? e);
    }
  }
  window.__harness = {
    status: 'done',
    paintMs,
    panels: reports,
    annotations,
    variables: templateSrv.getVariables().map((v) => ({
      name: v.name,
      value: v.type === 'adhoc' ? v.filters : v.current.value,
      options: variableReports.find((r) => r.name === v.name)?.options,
    })),
  };
}
