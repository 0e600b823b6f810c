// FlowLens panel HARNESS (test only). Grafana is not available here, so this page plays its part for one
// panel: it provides Grafana's shared modules (the webpack externals of a plugin bundle) through an AMD
// `define` shim, loads the BUILT dist/panels/universalmap/module.js exactly as Grafana's loader would,
// fetches frames from POST /api/ds/query (Grafana's request/response JSON) and renders the panel.
import * as React from 'react';
import * as ReactDOM from 'react-dom';
import * as ReactDOMClient from 'react-dom/client';
import * as jsxRuntime from 'react/jsx-runtime';
import * as grafanaData from '@grafana/data';
import * as grafanaUI from '@grafana/ui';
import * as emotionCss from '@emotion/css';
import * as rxjs from 'rxjs';

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

async function queryDatasource(query, from, to) {
  const body = {
    queries: [
      {
        refId: 'A',
        datasource: { uid: 'flowlens', type: 'flowlens-clickhouse-datasource' },
        intervalMs: 1000,
        maxDataPoints: 1000,
        ...query,
      },
    ],
    from: String(from),
    to: String(to),
  };
  const res = await fetch('/api/ds/query', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) {
    throw new Error(`POST /api/ds/query: ${res.status} ${JSON.stringify(json)}`);
  }
  return json;
}

async function run() {
  const params = new URLSearchParams(location.search);
  const width = Number(params.get('width') ?? 1100);
  const height = Number(params.get('height') ?? 560);
  const to = Date.now();
  const from = to - Number(params.get('rangeMs') ?? 3600_000);
  const theme = grafanaData.createTheme({ colors: { mode: params.get('theme') === 'light' ? 'light' : 'dark' } });
  document.body.style.background = theme.colors.background.canvas;
  document.body.style.color = theme.colors.text.primary;
  document.body.style.fontFamily = theme.typography.fontFamily;

  const mod = await loadAmdModule(new URL('/dist/panels/universalmap/module.js', location.href).href);
  const Panel = mod.plugin.panel;
  const response = await queryDatasource({ queryType: 'map' }, from, to);
  const result = response.results?.A;
  if (result?.error) {
    throw new Error(`datasource error: ${result.error}`);
  }
  const frames = (result?.frames ?? []).map((f) => grafanaData.dataFrameFromJSON(f));
  // What Grafana does before handing frames to a panel: field config defaults + display processors.
  const series = grafanaData.applyFieldOverrides({
    data: frames,
    fieldConfig: { defaults: {}, overrides: [] },
    replaceVariables: (s) => s,
    theme,
    timeZone: 'utc',
  });
  const timeRange = {
    from: grafanaData.dateTime(from),
    to: grafanaData.dateTime(to),
    raw: { from: 'now-1h', to: 'now' },
  };
  const options = {};
  // Option defaults as the panel editor would fill them. Grafana's real builder needs its registry of
  // standard option editors (part of Grafana core), so a recording builder collects path + defaultValue.
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
  mod.plugin.getPanelOptionsSupplier()(recorder, { data: series });
  for (const [k, v] of new URLSearchParams(location.search)) {
    if (k.startsWith('opt.')) {
      options[k.slice(4)] = isNaN(Number(v)) ? v : Number(v);
    }
  }
  const props = {
    id: 1,
    data: { state: grafanaData.LoadingState.Done, series, timeRange },
    timeRange,
    timeZone: 'utc',
    options,
    fieldConfig: { defaults: {}, overrides: [] },
    transparent: false,
    width,
    height,
    renderCounter: 0,
    title: 'Universal Map',
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
  ReactDOMClient.createRoot(host).render(
    React.createElement(grafanaData.ThemeContext.Provider, { value: theme }, React.createElement(Panel, props))
  );
  window.__harness = { status: 'done', response, options };
}

window.__harness = { status: 'running' };
run().catch((e) => {
  console.error(e);
  window.__harness = { status: 'error', error: String(e && e.stack ? e.stack : e) };
});
