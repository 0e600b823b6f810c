// FlowLens APP harness (test only): plays Grafana's part for the app's root page. The built dist/module.js (and
// the chunks it loads from its own URL) gets @grafana/runtime as the few services an app page uses:
// PluginPage (the page frame: its children here), getBackendSrv().fetch (POST /api/ds/query to this server,
// a non-2xx answer an error with the body as `data`, as Grafana's FetchError), isFetchError, and
// locationService over an in-memory location (the app's path and search, starting at `?path=`), exposed as
// window.__harness.location for the test.
import * as grafanaData from '@grafana/data';
import * as grafanaUI from '@grafana/ui';
import { BehaviorSubject, Observable } from 'rxjs';
import { CORE_DEFAULTS, CORE_DRAW, panelFrames } from './dashboard.js';

const { urlUtil } = grafanaData;

function parse(path) {
  const u = new URL(path, 'http://harness');
  return { pathname: u.pathname, search: u.search, hash: u.hash, state: undefined, key: String(Math.random()) };
}

const lastValue = (obs) =>
  new Promise((resolve, reject) => {
    let v;
    obs.subscribe({ next: (x) => (v = x), error: reject, complete: () => resolve(v?.data) });
  });

// as Grafana's backendSrv puts options.params on the URL: an array value as the key repeated (service=a&service=b)
const withParams = (url, params) => (params ? `${url}?${urlUtil.serializeParams(params)}` : url);

export function appRuntime(React, initialPath) {
  const location = new BehaviorSubject(parse(initialPath));
  const entries = [initialPath];
  const go = (to) => {
    const cur = location.getValue();
    const path = typeof to === 'string' ? to : `${to.pathname ?? cur.pathname}${to.search ?? ''}`;
    entries.push(path);
    location.next(parse(path));
  };
  const locationService = {
    getLocation: () => location.getValue(),
    getLocationObservable: () => location.asObservable(),
    getSearch: () => new URLSearchParams(location.getValue().search),
    getSearchObject: () => Object.fromEntries(new URLSearchParams(location.getValue().search)),
    // the history Grafana's router navigates with (react-router's navigator)
    getHistory: () => ({
      location: location.getValue(),
      push: go,
      replace: go,
      go: () => {},
      createHref: (to) => (typeof to === 'string' ? to : `${to.pathname ?? ''}${to.search ?? ''}${to.hash ?? ''}`),
    }),
    push: go,
    replace: go,
    reload: () => location.next({ ...location.getValue() }),
    partial: (query) => {
      const cur = location.getValue();
      const search = new URLSearchParams(cur.search);
      for (const [k, v] of Object.entries(query)) {
        if (v === null || v === undefined) {
          search.delete(k);
        } else {
          search.set(k, String(v));
        }
      }
      const s = search.toString();
      go(`${cur.pathname}${s ? `?${s}` : ''}`);
    },
  };
  const requests = [];
  const fetchJSON = (o) =>
    new Observable((sub) => {
      requests.push(o);
      fetch(withParams(o.url, o.params), {
        method: o.method ?? 'GET',
        headers: { 'Content-Type': 'application/json', ...(o.headers ?? {}) },
        body: o.data === undefined ? undefined : JSON.stringify(o.data),
      })
        .then(async (res) => {
          const data = await res.json().catch(() => undefined);
          if (!res.ok) {
            sub.error({ status: res.status, statusText: res.statusText, data, config: o });
            return;
          }
          sub.next({
            data,
            status: res.status,
            statusText: res.statusText,
            ok: true,
            headers: res.headers,
            url: o.url,
            config: o,
          });
          sub.complete();
        })
        .catch((e) => sub.error(e));
    });
  // PanelRenderer as Grafana core sets it: a core panel drawn from PanelData, after the field overrides, with the
  // @grafana/ui component the panel is built on (CORE_DRAW, as the dashboard harness draws it); what it drew goes to
  // window.__harness.panelRenders for the test
  const panelRenders = [];
  const PanelRenderer = ({ pluginId, title, data, options, fieldConfig, width, height }) => {
    const draw = CORE_DRAW[pluginId];
    if (!draw) {
      throw new Error(`harness: PanelRenderer cannot draw ${pluginId}`);
    }
    const theme = grafanaUI.useTheme2();
    const drawing = React.useMemo(() => {
      // the panel plugin's defaults under the caller's, as Grafana's PanelRenderer loads them
      const series = panelFrames(grafanaData, { type: pluginId, fieldConfig }, data?.series ?? [], theme, (v) => v);
      const d = draw({
        ui: grafanaUI,
        h: React.createElement,
        grafanaData,
        series,
        width,
        height,
        range: data?.timeRange,
        options: { ...CORE_DEFAULTS[pluginId]?.options, ...options },
      });
      d.drawn.then(
        (drawn) => panelRenders.push({ pluginId, title, width, height, ...drawn }),
        (e) => panelRenders.push({ pluginId, title, error: String(e) })
      );
      return d;
    }, [pluginId, title, data, options, fieldConfig, width, height, theme, draw]);
    // a box of the size asked, as Grafana's panel container (uPlot and the legend are laid out inside it)
    return React.createElement(
      'div',
      {
        'data-testid': 'harness-panel-renderer',
        'data-plugin-id': pluginId,
        style: { position: 'relative', width, height, overflow: 'hidden' },
      },
      drawing.element
    );
  };
  const runtime = {
    __esModule: true,
    PanelRenderer,
    PluginPage: ({ children }) => React.createElement('div', { 'data-testid': 'plugin-page' }, children),
    getBackendSrv: () => ({ fetch: fetchJSON }),
    isFetchError: (e) => typeof e === 'object' && e !== null && 'status' in e && 'data' in e,
    locationService,
  };
  // anything else an app page asks for fails loudly at use, naming it
  const stub = new Proxy(runtime, {
    get(t, key) {
      if (key in t) {
        return t[key];
      }
      throw new Error(`harness: @grafana/runtime.${String(key)} is not provided to the app`);
    },
  });
  // Grafana's backend srv as the real @grafana/runtime's setBackendSrv takes it (the dashboard harness)
  const backendSrv = {
    fetch: fetchJSON,
    get: (url, params) => lastValue(fetchJSON({ url: withParams(url, params) })),
    post: (url, data) => lastValue(fetchJSON({ url, method: 'POST', data })),
    datasourceRequest: (o) => lastValue(fetchJSON(o)),
  };
  return {
    runtime: stub,
    location: () => ({ ...location.getValue(), entries: [...entries] }),
    backendSrv,
    locationService,
    // the requests made since the last call (what a panel's query sent)
    takeRequests: () => requests.splice(0),
    panelRenders,
  };
}
