#!/usr/bin/env node
// End-to-end test of the BUILT universal map panel (dist/) in headless Chromium, without a Grafana server.
//
// The page is a harness (test/frontend/harness/): it plays Grafana's part for one panel (shared modules via an
// AMD define shim, POST /api/ds/query, PanelProps) and renders dist/panels/universalmap/module.js.
// Where the /api/ds/query answer comes from, first match wins:
//   FLOWLENS_DS_URL=http://host:port   proxy to a running Grafana-compatible endpoint (e.g. test/grafana-shim)
//   FLOWLENS_SHIM=1                    build test/grafana-shim, start it with the backend binary, load the page from it
//   otherwise                          answer from FLOWLENS_DS_FIXTURE (default test/frontend/fixtures/ds-query-map.json)
// Usage: npm run build && node test/frontend/run.js
'use strict';

const assert = require('assert');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { spawn, execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist');
const SITE = path.join(ROOT, 'build', 'frontend-harness');
const SHOTS = path.join(ROOT, 'build', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const FIXTURE = process.env.FLOWLENS_DS_FIXTURE || path.join(__dirname, 'fixtures', 'ds-query-map.json');
const SETTINGS = process.env.FLOWLENS_DS_SETTINGS || path.join(__dirname, 'fixtures', 'ds-settings.json');
const BACKEND = path.join(DIST, 'datasource', 'gpx_flowlens-clickhouse-datasource_linux_amd64');

// Fixed expectations of the fixture; in proxy/shim mode expectations come from the response itself.
const FIXTURE_SERVICES = ['frontend', 'api-gateway', 'orders', 'users', 'mysql', 'redis', 'postgres'];
const FIXTURE_EDGES = 6;

function log(...a) {
  console.log('[frontend-e2e]', ...a);
}

/**
 * CommonJS packages @grafana/ui's ESM build default-imports whose exports are an `__esModule` object (Babel/TypeScript
 * output). esbuild gives an .mjs importer Node's answer (the default import is the whole `module.exports`: React error
 * #130 in @grafana/ui's Table, whose scrollbars are react-custom-scrollbars-2); Grafana's webpack gives `exports.default`.
 */
const CJS_DEFAULT_EXPORTS = /^(react-custom-scrollbars-2|calculate-size)$/;

/** esbuild plugin: those packages, imported from an .mjs file, through a module giving their `default` as webpack does. */
const cjsDefaultInterop = {
  name: 'cjs-default-interop',
  setup(build) {
    build.onResolve({ filter: CJS_DEFAULT_EXPORTS }, (args) =>
      args.importer.endsWith('.mjs')
        ? { path: args.path, namespace: 'cjs-default', pluginData: args.resolveDir }
        : undefined
    );
    build.onLoad({ filter: /.*/, namespace: 'cjs-default' }, (args) => ({
      contents: `const m = require(${JSON.stringify(args.path)}); export default m && m.__esModule ? m.default : m;`,
      resolveDir: args.pluginData,
      loader: 'js',
    }));
  },
};

async function buildSite() {
  const panel = path.join(DIST, 'panels', 'universalmap', 'module.js');
  if (!fs.existsSync(panel)) {
    throw new Error(`${panel} is missing: run "npm run build" first`);
  }
  fs.rmSync(SITE, { recursive: true, force: true });
  fs.mkdirSync(SITE, { recursive: true });
  fs.copyFileSync(path.join(__dirname, 'harness', 'index.html'), path.join(SITE, 'index.html'));
  // Copy (not symlink) so any static server, including the Go shim's, serves the exact built files.
  fs.cpSync(DIST, path.join(SITE, 'dist'), {
    recursive: true,
    filter: (src) => !/gpx_.*_(amd64|arm64|arm)(\.exe)?$/.test(src),
  });
  // the provisioned dashboards, for the dashboard harness (Grafana reads them from provisioning/dashboards)
  fs.cpSync(path.join(ROOT, 'provisioning'), path.join(SITE, 'provisioning'), { recursive: true });
  // Grafana serves @grafana/ui's icons from public/build/img/icons (Icon fetches them by name)
  fs.cpSync(
    path.join(ROOT, 'node_modules', '@grafana', 'ui', 'dist', 'public', 'img', 'icons'),
    path.join(SITE, 'public', 'build', 'img', 'icons'),
    {
      recursive: true,
    }
  );
  // Grafana's stylesheet carries uPlot's own (the plot's layers positioned over each other)
  fs.copyFileSync(
    path.join(ROOT, 'node_modules', 'uplot', 'dist', 'uPlot.min.css'),
    path.join(SITE, 'public', 'build', 'uPlot.min.css')
  );
  const esbuild = require('esbuild');
  await esbuild.build({
    entryPoints: [path.join(__dirname, 'harness', 'entry.js')],
    outfile: path.join(SITE, 'harness.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
    plugins: [cjsDefaultInterop],
    loader: {
      '.svg': 'text',
      '.png': 'dataurl',
      '.woff': 'empty',
      '.woff2': 'empty',
      '.ttf': 'empty',
      '.css': 'empty',
    },
  });
}

const MIME = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.css': 'text/css',
  '.map': 'application/json',
};

/** The map fixture's answer (the universal map test's only query). */
function mapFixture(q) {
  assert.strictEqual(q.queries?.[0]?.queryType, 'map', 'harness must ask for queryType map');
  assert.strictEqual(q.queries?.[0]?.datasource?.uid, 'flowlens');
  return { status: 200, body: fs.readFileSync(FIXTURE) };
}

/**
 * Static files from SITE plus POST /api/ds/query: `answer(request)` gives {status, body} (or undefined to pass
 * the request upstream); without an answer, proxied upstream, else the map fixture.
 */
/**
 * The harness's web server: the site (buildSite), and Grafana's /api/ds/query answered by `answer(body)` (sync or
 * async; a fixture by default), else proxied to `upstream`. `api({ method, path, body })`, when given, answers every
 * /api/ request first (the dashboard harness: queries and datasource resources, recorded or replayed).
 */
function startHarnessServer(upstream, answer = upstream ? undefined : mapFixture, api = undefined) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (api && url.pathname.startsWith('/api/')) {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', async () => {
        try {
          const r = await api({
            method: req.method,
            path: `${url.pathname}${url.search}`,
            body: Buffer.concat(chunks).toString('utf8'),
          });
          res.writeHead(r.status, { 'Content-Type': 'application/json' });
          res.end(r.body);
        } catch (e) {
          res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ message: String(e) }));
        }
      });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/ds/query') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks);
        try {
          const own = answer && (await answer(JSON.parse(body.toString('utf8'))));
          if (own) {
            res.writeHead(own.status, { 'Content-Type': 'application/json' });
            res.end(own.body);
          } else if (upstream) {
            const r = await fetch(`${upstream.replace(/\/$/, '')}/api/ds/query`, {
              method: 'POST',
              headers: { 'Content-Type': 'application/json' },
              body,
            });
            res.writeHead(r.status, { 'Content-Type': 'application/json' });
            res.end(Buffer.from(await r.arrayBuffer()));
          } else {
            throw new Error('harness server: no answer for this query');
          }
        } catch (e) {
          res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ message: String(e) }));
        }
      });
      return;
    }
    const rel = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname);
    const file = path.join(SITE, path.normalize(rel));
    if (!file.startsWith(SITE) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Builds and starts test/grafana-shim (the backend engineer's Go stand-in for Grafana's HTTP API). */
function startShim(settings = SETTINGS) {
  const bin = path.join(ROOT, 'build', 'grafana-shim');
  execFileSync('go', ['build', '-o', bin, './test/grafana-shim'], { cwd: ROOT, stdio: 'inherit' });
  if (!fs.existsSync(BACKEND)) {
    throw new Error(`${BACKEND} is missing: build the Go backend first`);
  }
  const child = spawn(bin, ['-plugin', BACKEND, '-listen', '127.0.0.1:0', '-static', SITE, '-settings', settings], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`grafana-shim did not print "listening http://..." in 30s: ${out}`)),
      30000
    );
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.on('exit', (code) => reject(new Error(`grafana-shim exited with ${code}: ${out}`)));
  });
}

async function main() {
  await buildSite();
  let server;
  let shim;
  let base;
  let mode;
  if (process.env.FLOWLENS_DS_URL) {
    mode = `proxy to ${process.env.FLOWLENS_DS_URL}`;
    server = await startHarnessServer(process.env.FLOWLENS_DS_URL);
    base = `http://127.0.0.1:${server.address().port}`;
  } else if (process.env.FLOWLENS_SHIM === '1') {
    shim = await startShim();
    mode = `grafana-shim at ${shim.url}`;
    base = shim.url.replace(/\/$/, '');
  } else {
    mode = `fixture ${path.relative(ROOT, FIXTURE)}`;
    server = await startHarnessServer(undefined);
    base = `http://127.0.0.1:${server.address().port}`;
  }
  log(`mode: ${mode}`);
  const tag = process.env.FLOWLENS_DS_URL ? 'proxy' : shim ? 'shim' : 'fixture';

  const browser = await launchChromium();
  const failures = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1160, height: 660 } });
    page.on('console', (m) => m.type() === 'error' && failures.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => failures.push(`pageerror: ${e.message}`));
    await page.goto(`${base}/index.html?width=1100&height=560`);
    await page.waitForFunction(() => window.__harness && window.__harness.status !== 'running', null, {
      timeout: 30000,
    });
    const h = await page.evaluate(() => window.__harness);
    assert.strictEqual(h.status, 'done', `harness failed: ${h.error}`);
    assert.ok(!h.queryError, `the map query failed: ${h.queryError}`);

    const frames = h.response.results.A.frames;
    const byName = (n) => frames.find((f) => f.schema.name === n);
    const col = (frame, name) => {
      const i = frame.schema.fields.findIndex((f) => f.name === name);
      return i < 0 ? [] : frame.data.values[i];
    };
    const nodesFrame = byName('nodes');
    const edgesFrame = byName('edges');
    assert.ok(edgesFrame, 'response has an "edges" frame');
    const expectedEdges = col(edgesFrame, 'id').length;
    const expectedNames = nodesFrame
      ? col(nodesFrame, 'title').map(String)
      : [...new Set([...col(edgesFrame, 'source'), ...col(edgesFrame, 'target')])].map(String);
    if (!process.env.FLOWLENS_DS_URL && process.env.FLOWLENS_SHIM !== '1') {
      assert.deepStrictEqual([...expectedNames].sort(), [...FIXTURE_SERVICES].sort());
      assert.strictEqual(expectedEdges, FIXTURE_EDGES);
    }

    await page.waitForSelector('svg[data-testid="universal-map"]', { timeout: 10000 });
    const seen = await page.evaluate(() => {
      const svg = document.querySelector('svg[data-testid="universal-map"]');
      return {
        nodes: svg.querySelectorAll('[data-testid="map-node"]').length,
        edges: [...svg.querySelectorAll('[data-testid="map-edge"]')].map((e) => ({
          source: e.getAttribute('data-source'),
          target: e.getAttribute('data-target'),
          severity: e.getAttribute('data-severity'),
          label: e.querySelector('[data-testid="map-edge-label"]')?.textContent ?? '',
        })),
        text: [...svg.querySelectorAll('text')].map((t) => t.textContent),
      };
    });
    log(`svg: ${seen.nodes} nodes, ${seen.edges.length} edges`);
    assert.strictEqual(seen.edges.length, expectedEdges, 'edge count in the SVG = rows of the edges frame');
    for (const name of expectedNames) {
      assert.ok(seen.text.includes(name), `service "${name}" is named in the SVG`);
    }
    for (const e of seen.edges) {
      assert.ok(
        /req\/s/.test(e.label) && /ms|µs|s$/.test(e.label),
        `edge ${e.source}->${e.target} label "${e.label}" shows rate and latency`
      );
    }
    // FLOWLENS_EXPECT_EDGES=a->b,c->d: calls that must be drawn (e.g. the demo system's, end to end)
    for (const want of (process.env.FLOWLENS_EXPECT_EDGES || '').split(',').filter(Boolean)) {
      const [source, target] = want.split('->');
      assert.ok(
        seen.edges.some((e) => e.source === source && e.target === target),
        `call ${want} is drawn (drawn: ${seen.edges.map((e) => `${e.source}->${e.target}`).join(', ')})`
      );
    }
    if (!process.env.FLOWLENS_DS_URL && process.env.FLOWLENS_SHIM !== '1') {
      const sev = Object.fromEntries(seen.edges.map((e) => [`${e.source}->${e.target}`, e.severity]));
      assert.strictEqual(sev['api-gateway->orders'], 'error', '8.1% errors >= 5% threshold is red');
      assert.strictEqual(sev['orders->mysql'], 'ok');
      assert.strictEqual(sev['users->postgres'], 'warn');
    }

    fs.mkdirSync(SHOTS, { recursive: true });
    const shot = path.join(SHOTS, `universalmap-${tag}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    log(`screenshot: ${path.relative(ROOT, shot)}`);

    // Hover a call: the tooltip names both ends.
    // (a self-loop's label can sit near other text; hover a call between two services)
    const idx = Math.max(
      0,
      seen.edges.findIndex((e) => e.source !== e.target)
    );
    const firstEdge = page.locator('[data-testid="map-edge"]').nth(idx);
    const src = await firstEdge.getAttribute('data-source');
    await firstEdge.locator('[data-testid="map-edge-label"]').hover({ force: true });
    const tip = page.locator('[data-testid="universal-map-tooltip"]');
    await tip.waitFor({ timeout: 5000 });
    const tipText = await tip.textContent();
    assert.ok(tipText.includes(src), `tooltip "${tipText}" names the caller ${src}`);
    const tipShot = path.join(SHOTS, `universalmap-${tag}-tooltip.png`);
    await page.screenshot({ path: tipShot, fullPage: true });
    log(`screenshot: ${path.relative(ROOT, tipShot)}`);

    // Click the call's ends: the node's links (its RED, requests, traces, flows) as the backend sent them, each
    // an Explore URL holding its typed query with the node filled in.
    const frameLinks = (nodesFrame?.schema.fields.find((f) => f.name === 'id')?.config?.links ?? []).map(
      (l) => l.title
    );
    if (frameLinks.length > 0) {
      await page.mouse.move(0, 0);
      await page.locator(`[data-testid="map-node"][data-id="${src}"]`).click();
      const items = page.locator('[data-testid="map-link"]');
      await items.first().waitFor({ timeout: 5000 });
      const shown = await items.evaluateAll((els) =>
        els.map((e) => ({ title: e.textContent.trim(), href: e.closest('a')?.getAttribute('href') ?? '' }))
      );
      assert.deepStrictEqual(
        shown.map((l) => l.title),
        frameLinks,
        'a click on a node lists its links'
      );
      const red = decodeURIComponent(shown[0].href);
      assert.ok(
        red.includes('"queryType":"red"') && red.includes(`"service":"${src}"`),
        `RED link ${red} names ${src}`
      );
      const menuShot = path.join(SHOTS, `universalmap-${tag}-links.png`);
      await page.screenshot({ path: menuShot, fullPage: true });
      log(`screenshot: ${path.relative(ROOT, menuShot)}`);
    }

    assert.deepStrictEqual(failures, [], 'no browser errors');
    log('PASS');
  } finally {
    await browser.close();
    server?.close();
    shim?.child.kill('SIGTERM');
  }
}

/**
 * Where a recorded panel test's /api/ds/query answers come from: `answer(request)` (the recorded answers), or
 * with `live` the real plugin binary behind test/grafana-shim over the recording's database. Returns the harness
 * server's base URL, a line saying which, and stop().
 */
async function startAnswers(recordingFile, recording, answer, live) {
  let shim;
  let dir;
  if (live) {
    const ds = JSON.parse(fs.readFileSync(SETTINGS, 'utf8'));
    ds.jsonData = { ...ds.jsonData, database: recording.database };
    dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'flowlens-panel-e2e-'));
    fs.writeFileSync(path.join(dir, 'ds-settings.json'), JSON.stringify(ds));
    shim = await startShim(path.join(dir, 'ds-settings.json'));
  }
  const server = await startHarnessServer(shim?.url, answer);
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    mode: live
      ? `real plugin binary behind grafana-shim at ${shim.url}, database ${recording.database}`
      : `recorded answers (${path.relative(ROOT, recordingFile)})`,
    stop: () => {
      server.close();
      shim?.child.kill('SIGTERM');
      if (dir) {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A column of a frame in Grafana's wire format (schema.fields + data.values), by field name ([] if absent). */
function col(frame, name) {
  const i = frame.schema.fields.findIndex((f) => f.name === name);
  return i < 0 ? [] : frame.data.values[i];
}

/**
 * Renders the built dist/panels/<panel>/module.js in the harness at `base` for o.query (width, height, from/to,
 * opts: more URL parameters) and waits until o.ready matches; returns window.__harness (the answer, timings).
 */
async function openPanel(page, base, panel, o) {
  const width = o.width ?? 1280;
  const params = new URLSearchParams({
    panel,
    query: JSON.stringify(o.query),
    width: String(width),
    height: String(o.height),
    ready: o.ready,
    ...(o.from ? { from: String(o.from), to: String(o.to) } : {}),
    ...(o.opts ?? {}),
  });
  return openHarness(page, base, params, { width: width + 60, height: o.height + 90 });
}

/** Saves a full-page screenshot as build/screenshots/<name>.png and says where. */
async function screenshot(page, name, log) {
  log(`screenshot: ${await saveScreenshot(page, name)}`);
}

/** The system's headless Chromium, quiet (no network of its own); every browser test launches it so. */
async function launchChromium() {
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    // playwright-core gives every launch a fresh temporary profile (it rejects --user-data-dir in args)
  });
}

/** Loads the harness page with these URL parameters in a viewport of that size; resolves with its __harness once done. */
async function openHarness(page, base, params, viewport) {
  await page.setViewportSize(viewport);
  await page.goto(`${base}/index.html?${new URLSearchParams(params)}`);
  await page.waitForFunction(() => window.__harness && window.__harness.status !== 'running', null, { timeout: 30000 });
  const h = await page.evaluate(() => window.__harness);
  assert.strictEqual(h.status, 'done', `harness failed: ${h.error}`);
  return h;
}

/** Saves a full-page screenshot as build/screenshots/<name>.png; returns its path from the repository root. */
async function saveScreenshot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return path.relative(ROOT, file);
}

/**
 * Files Grafana serves from its own build that the harness does not have: @grafana/ui's spinner icon and the fonts its
 * global styles name (Inter, Roboto Mono). A 404 on one of these is not the plugin's.
 */
const HARNESS_LACKS = /\/public\/(build\/img\/icons\/unicons\/spinner\.svg|fonts\/.+\.woff2)$/;

module.exports = {
  HARNESS_LACKS,
  ROOT,
  DIST,
  SITE,
  SHOTS,
  CHROMIUM,
  SETTINGS,
  buildSite,
  startHarnessServer,
  startShim,
  launchChromium,
  startAnswers,
  col,
  openPanel,
  screenshot,
  openHarness,
  saveScreenshot,
};

if (require.main === module) {
  main().catch((e) => {
    console.error('[frontend-e2e] FAIL', e);
    process.exit(1);
  });
}
