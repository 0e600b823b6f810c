// FlowLens panel HARNESS (test only). Grafana is not available here, so this page plays its part for one
// panel: it provides Grafana's shared modules (the webpack externals of a plugin bundle) through an AMD
// `define` shim, loads the BUILT dist/panels/<panel>/module.js exactly as Grafana's loader would,
// fetches frames from POST /api/ds/query (Grafana's request/response JSON) and renders the panel.
// URL parameters: panel (universalmap, default, trace or flamegraph), query (the query JSON, or a list of queries
// with refIds A, B, ...; default {"queryType":"map"}),
// width, height, from/to (ms) or rangeMs, theme, opt.<option>=value, ready (a selector: the render counts as done once it
// matches; its time is reported as renderMs).
import * as React from 'react';
import * as ReactDOM from 'react-dom';
import * as ReactDOMClient from 'react-dom/client';
import * as jsxRuntime from 'react/jsx-runtime';
import * as grafanaData from '@grafana/data';
import * as grafanaUI from '@grafana/ui';
import * as emotionCss from '@emotion/css';
import * as rxjs from 'rxjs';
import * as reactRouter from 'react-router';
import { grafanaAppRoute } from './grafanaRouter.js';
import * as grafanaRuntime from '@grafana/runtime';
import { grafanaPageStyles, runDashboard } from './dashboard.js';
import { optionDefaults } from './panelOptions.js';
import { appRuntime } from './app.js';

// Panels must not need @grafana/runtime; a stub makes an accidental import fail loudly at use, not at load.
const runtimeStub = new Proxy(
  {},
  {
    get(_t, key) {
      if (key === '__esModule') {
        return true;
      }
      throw new Error(`harness: @grafana/runtime.${String(key)} is not provided to panels`);
    },
  }
);

const shared = {
  react: React,
  'react-dom': ReactDOM,
  'react-dom/client': ReactDOMClient,
  'react/jsx-runtime': jsxRuntime,
  '@grafana/data': grafanaData,
  '@grafana/ui': grafanaUI,
  '@grafana/runtime': runtimeStub,
  '@emotion/css': emotionCss,
  rxjs,
  'react-router': reactRouter,
};

/** Loads an AMD plugin bundle: resolves its dependency names from `shared`, `module` gives its URL (public path). */
function loadAmdModule(url) {
  return new Promise((resolve, reject) => {
    window.define = (deps, factory) => {
      try {
        const args = deps.map((d) => {
          if (d === 'module') {
            return { id: url, uri: url };
          }
          if (!(d in shared)) {
            throw new Error(`harness: plugin asked for unknown shared module "${d}"`);
          }
          return shared[d];
        });
        resolve(factory(...args));
      } catch (e) {
        reject(e);
      }
    };
    window.define.amd = {};
    const script = document.createElement('script');
    script.src = url;
    script.onerror = () => reject(new Error(`harness: cannot load ${url}`));
    document.head.appendChild(script);
  });
}

/** `query` is one query (refId A) or a list of them (refIds A, B, ... unless given), as a panel's queries. */
async function queryDatasource(query, from, to) {
  const body = {
    queries: (Array.isArray(query) ? query : [query]).map((q, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: { uid: 'flowlens', type: 'flowlens-clickhouse-datasource' },
      intervalMs: 1000,
      maxDataPoints: 1000,
      ...q,
    })),
    from: String(from),
    to: String(to),
  };
  const res = await fetch('/api/ds/query', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  // a query the datasource refused comes back as a 400 with the error in its result, as from Grafana
  if (!res.ok && !json.results) {
    throw new Error(`POST /api/ds/query: ${res.status} ${JSON.stringify(json)}`);
  }
  return { request: body, response: json };
}

/** Resolves once `selector` matches, polled each animation frame: the panel's first painted content. */
function painted(selector, timeoutMs = 20000) {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (document.querySelector(selector)) {
        resolve();
      } else if (performance.now() - t0 > timeoutMs) {
        reject(new Error(`harness: nothing matched ${selector} within ${timeoutMs} ms`));
      } else {
        requestAnimationFrame(poll);
      }
    };
    poll();
  });
}

/** ?app=<path>: the built app (dist/module.js) renders its root page at that path (the Traces page: /a/<id>/traces?...). */
async function runApp(params, theme) {
  const { runtime, location: appLocation, panelRenders } = appRuntime(React, params.get('app'));
  shared['@grafana/runtime'] = runtime;
  document.querySelector('h1').textContent = 'FlowLens app harness (not Grafana) rendering dist/module.js';
  // around an app page as around a panel: Grafana's global styles and its stylesheet's uPlot rules (PanelRenderer)
  await grafanaPageStyles({ React, ReactDOMClient, grafanaData, grafanaUI, theme });
  const mod = await loadAmdModule(new URL('/dist/module.js', location.href).href);
  const Root = mod.plugin.root;
  const host = document.getElementById('panel');
  host.style.width = `${Number(params.get('width') ?? 1280)}px`;
  host.style.background = theme.colors.background.primary;
  const props = {
    meta: { id: 'flowlens-observability-app', jsonData: {} },
    basename: '/a/flowlens-observability-app',
    path: appLocation().pathname,
    query: {},
    onNavChanged: () => {},
  };
  const r0 = performance.now();
  const root = grafanaAppRoute({
    React,
    ReactRouter: reactRouter,
    locationService: runtime.locationService,
    pluginId: 'flowlens-observability-app',
    element: React.createElement(Root, props),
  });
  ReactDOMClient.createRoot(host).render(
    React.createElement(grafanaData.ThemeContext.Provider, { value: theme }, root)
  );
  await painted(params.get('ready') ?? '#panel > *');
  window.__harness = { status: 'done', renderMs: performance.now() - r0, location: appLocation, panelRenders };
}

/**
 * Grafana's template service, for data links only (a harness stand-in: Grafana's lives in its core): the macros
 * an internal link's query uses, ${__value.raw} (the clicked value) and ${__data.fields.<name>} (another field of
 * the same row), read from the data context Grafana's link code puts in the scoped vars.
 */
function replaceLinkVariables(text, scopedVars) {
  const ctx = scopedVars?.__dataContext?.value;
  if (typeof text !== 'string' || !ctx || ctx.rowIndex === undefined) {
    return text;
  }
  const at = (field) => (field ? String(field.values[ctx.rowIndex]) : '');
  return text
    .replace(/\$\{__value\.raw\}/g, () => at(ctx.field))
    .replace(/\$\{__data\.fields\.([A-Za-z0-9_]+)\}/g, (_m, name) => at(ctx.frame.fields.find((f) => f.name === name)));
}

/**
 * ?panel=core-table: a stand-in for Grafana's Table panel (part of Grafana core) for a frame's data links: a plain
 * table of the frame after Grafana's field overrides, each linked cell an anchor whose href is what @grafana/data's
 * link supplier builds for that row: the links as Grafana builds them, every row in the DOM (the dashboard harness
 * draws @grafana/ui's Table, which puts a cell's links in a menu and virtualizes its rows).
 */
async function runCoreTable(params, theme, from, to) {
  document.querySelector('h1').textContent = 'FlowLens harness (not Grafana): a table of the frame with its data links';
  const { response } = await queryDatasource(JSON.parse(params.get('query')), from, to);
  const result = response.results?.A;
  if (result?.error) {
    throw new Error(`harness: the query failed: ${result.error}`);
  }
  const [frame] = grafanaData.applyFieldOverrides({
    data: (result?.frames ?? []).map((f) => grafanaData.dataFrameFromJSON(f)),
    fieldConfig: { defaults: {}, overrides: [] },
    replaceVariables: replaceLinkVariables,
    theme,
    timeZone: 'utc',
  });
  // linked fields first (the screenshot shows them; the frame's other fields follow in its order)
  const hasLinks = (f) => (f.config.links?.length ? 0 : 1);
  const shown = frame.fields.filter((f) => !f.config.custom?.hidden).sort((a, b) => hasLinks(a) - hasLinks(b));
  const linksOf = (f, i) => (f.getLinks && f.config.links?.length ? f.getLinks({ valueRowIndex: i }) : []);
  const h = React.createElement;
  const cell = { padding: '2px 8px', borderBottom: `1px solid ${theme.colors.border.weak}`, whiteSpace: 'nowrap' };
  const host = document.getElementById('panel');
  host.style.width = `${Number(params.get('width') ?? 1100)}px`;
  host.style.overflow = 'auto';
  host.style.background = theme.colors.background.primary;
  host.style.fontSize = '12px';
  const r0 = performance.now();
  ReactDOMClient.createRoot(host).render(
    h(
      'table',
      { role: 'grid', style: { borderCollapse: 'collapse' } },
      h('thead', null, h('tr', null, ...shown.map((f) => h('th', { key: f.name, style: cell }, f.name)))),
      h(
        'tbody',
        null,
        ...Array.from({ length: frame.length }, (_x, i) =>
          h(
            'tr',
            { key: i, role: 'row' },
            ...shown.map((f) => {
              const text = grafanaData.formattedValueToString(f.display(f.values[i]));
              const [link] = linksOf(f, i);
              return h(
                'td',
                { key: f.name, style: cell, 'data-field': f.name },
                link
                  ? h('a', { href: link.href, title: link.title, style: { color: theme.colors.text.link } }, text)
                  : text
              );
            })
          )
        )
      )
    )
  );
  await painted(params.get('ready') ?? '#panel > *');
  // every field's links for each row, as a click on the cell would offer them
  const links = frame.fields
    .filter((f) => f.getLinks && f.config.links?.length)
    .map((f) => ({
      field: f.name,
      rows: f.values.map((_v, i) => linksOf(f, i).map((l) => ({ title: l.title, href: l.href }))),
    }));
  window.__harness = { status: 'done', renderMs: performance.now() - r0, links, rows: frame.length };
}

async function run() {
  const params = new URLSearchParams(location.search);
  const width = Number(params.get('width') ?? 1100);
  const height = Number(params.get('height') ?? 560);
  const to = Number(params.get('to') ?? Date.now());
  const from = Number(params.get('from') ?? to - Number(params.get('rangeMs') ?? 3600_000));
  const theme = grafanaData.createTheme({ colors: { mode: params.get('theme') === 'light' ? 'light' : 'dark' } });
  document.body.style.background = theme.colors.background.canvas;
  document.body.style.color = theme.colors.text.primary;
  document.body.style.fontFamily = theme.typography.fontFamily;
  if (params.has('app')) {
    return runApp(params, theme);
  }
  if (params.has('dashboard')) {
    const rt = appRuntime(React, '/d/harness');
    return runDashboard({
      params,
      theme,
      shared,
      loadAmdModule,
      React,
      ReactDOMClient,
      grafanaData,
      grafanaUI,
      runtime: grafanaRuntime,
      appRuntime: rt,
    });
  }

  const panelId = params.get('panel') ?? 'universalmap';
  if (panelId === 'core-table') {
    return runCoreTable(params, theme, from, to);
  }
  if (!/^[a-z]+$/.test(panelId)) {
    throw new Error(`harness: bad panel ${panelId}`);
  }
  document.querySelector('h1').textContent =
    `FlowLens panel harness (not Grafana) rendering dist/panels/${panelId}/module.js`;
  const mod = await loadAmdModule(new URL(`/dist/panels/${panelId}/module.js`, location.href).href);
  const Panel = mod.plugin.panel;
  const { request, response } = await queryDatasource(
    JSON.parse(params.get('query') ?? '{"queryType":"map"}'),
    from,
    to
  );
  const results = request.queries.map((q) => response.results?.[q.refId]).filter(Boolean);
  const result = results.find((r) => r.error) ?? results[0];
  const t0 = performance.now();
  // each frame carries its query's refId, as Grafana's query runner sets it
  const frames = request.queries.flatMap((q) =>
    (response.results?.[q.refId]?.frames ?? []).map((f) => ({ ...grafanaData.dataFrameFromJSON(f), refId: q.refId }))
  );
  // What Grafana does before handing frames to a panel: field config defaults, display processors and the
  // fields' link suppliers (their ${__value.raw} / ${__data.fields.*} filled from the row).
  const series = grafanaData.applyFieldOverrides({
    data: frames,
    fieldConfig: { defaults: {}, overrides: [] },
    replaceVariables: replaceLinkVariables,
    theme,
    timeZone: 'utc',
  });
  const timeRange = {
    from: grafanaData.dateTime(from),
    to: grafanaData.dateTime(to),
    raw: { from: 'now-1h', to: 'now' },
  };
  const options = optionDefaults(mod.plugin, series);
  for (const [k, v] of new URLSearchParams(location.search)) {
    if (k.startsWith('opt.')) {
      options[k.slice(4)] = isNaN(Number(v)) ? v : Number(v);
    }
  }
  const convertMs = performance.now() - t0;
  // Grafana's query runner: a failed query is an Error state with the result's error, and the request's targets
  const error = result?.error
    ? { message: result.error, refId: request.queries[results.indexOf(result)]?.refId, status: result.status }
    : undefined;
  const data = {
    state: error ? grafanaData.LoadingState.Error : grafanaData.LoadingState.Done,
    series,
    timeRange,
    request: { targets: request.queries, range: timeRange },
    ...(error ? { error, errors: [error] } : {}),
  };
  const props = {
    id: 1,
    data,
    timeRange,
    timeZone: 'utc',
    options,
    fieldConfig: { defaults: {}, overrides: [] },
    transparent: false,
    width,
    height,
    renderCounter: 0,
    title: panelId,
    eventBus: new grafanaData.EventBusSrv(),
    onOptionsChange: () => {},
    onFieldConfigChange: () => {},
    replaceVariables: (s) => s,
    onChangeTimeRange: () => {},
  };
  const host = document.getElementById('panel');
  host.style.width = `${width}px`;
  host.style.height = `${height}px`;
  host.style.background = theme.colors.background.primary;
  host.style.border = `1px solid ${theme.colors.border.weak}`;
  const r0 = performance.now();
  ReactDOMClient.createRoot(host).render(
    React.createElement(grafanaData.ThemeContext.Provider, { value: theme }, React.createElement(Panel, props))
  );
  await painted(params.get('ready') ?? '#panel > *');
  const renderMs = performance.now() - r0;
  window.__harness = { status: 'done', response, options, queryError: error?.message, convertMs, renderMs };
}

window.__harness = { status: 'running' };
run().catch((e) => {
  console.error(e);
  window.__harness = { status: 'error', error: String(e && e.stack ? e.stack : e) };
});
