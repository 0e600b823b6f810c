#!/usr/bin/env node
// End-to-end test of the BUILT flame graph panel (dist/panels/flamegraph/module.js) in headless Chromium, in the
// same harness as the other panels (Grafana's shared modules through an AMD define shim, Grafana's /api/ds/query
// request and response JSON, PanelProps).
// Answers: the real plugin binary's answers recorded by record-flamegraph.js over profiles the real agent captured
// (fixtures/ds-query-flamegraph.recording.json says when and how): the known-shape C program (main -> work_a 7
// units, work_b 3), the same program with work_b grown to 9 units (the diff), and the thread that served a slow
// GET /burn over that request (asked through the request-log row's own link). A synthetic 16,384-node graph
// (fixtures/synthetic-flame.js, the real frame's fields) measures the render time.
// Asserted: search finds work_a (every work_a frame highlighted, the others dimmed, its share of the total);
// a click focuses work_a (only its path and subtree drawn, at full width); the off-CPU switch with time units and
// kernel frames told apart; the diff colours work_b (grown) red and work_a green by exactly their change of share;
// the slow request's hottest frame is burnCpu; 16,384 nodes drawn within the budget, timings printed.
// Screenshots: build/screenshots/flamegraph-*.png. Usage: npm run build && node test/frontend/flamegraph-run.js
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const {
  HARNESS_LACKS,
  ROOT,
  DIST,
  buildSite,
  startHarnessServer,
  launchChromium,
  openHarness,
  saveScreenshot,
} = require('./run.js');
const { syntheticFlame } = require('./fixtures/synthetic-flame.js');

const FIXTURES = path.join(__dirname, 'fixtures');
const RECORDING = path.join(FIXTURES, 'ds-query-flamegraph.recording.json');
const LARGE = 16384;
/** First paint of the 16,384-node graph, in ms, on this 2-core machine shared with other jobs. */
const RENDER_BUDGET_MS = Number(process.env.FLOWLENS_FLAME_RENDER_BUDGET_MS || 3000);
const WIDTH = 1200;
/** The panel's graph is the panel's width less its padding (FlameGraphPanel: width - 16). */
const GRAPH_WIDTH = WIDTH - 16;
/** The Profiling page's on-CPU and off-CPU columns. */
const ON_CPU = '[data-testid="flame-profile"][data-event="on_cpu"]';
const OFF_CPU = '[data-testid="flame-profile"][data-event="off_cpu"]';

function log(...a) {
  console.log('[flamegraph-e2e]', ...a);
}

/** A query as the recording compares it: without what the harness adds. */
function normalized(q) {
  const { refId, datasource, intervalMs, maxDataPoints, ...rest } = q;
  return JSON.stringify(
    Object.keys(rest)
      .sort()
      .map((k) => [k, rest[k]])
  );
}

/** Recorded answers per query (each request's queries answered one by one, under their own refIds). */
function answerer(recording) {
  return (req) => {
    const results = {};
    let status = 200;
    for (const q of req.queries) {
      assert.strictEqual(q.datasource?.uid, 'flowlens');
      assert.ok(
        q.queryType === 'flamegraph' || q.queryType === 'sql_log',
        'the flame graph panel and the Profiling page ask for flame graphs and their slowest requests'
      );
      let answer;
      if (JSON.stringify(q.process) === JSON.stringify([`synthetic-${LARGE}`])) {
        answer = syntheticFlame(LARGE).results.A;
      } else {
        // the same query over the same range (the Profiling page asks for the same process's requests over two
        // ranges), else the same query (the panel's tests open their own ranges)
        const same = Object.entries(recording.files).filter(
          ([, rec]) => normalized(rec.request.queries[0]) === normalized(q)
        );
        const hit = same.find(([, rec]) => rec.request.from === req.from && rec.request.to === req.to) ?? same[0];
        if (!hit) {
          throw new Error(`no recorded answer for ${JSON.stringify(q)}`);
        }
        status = Math.max(status, hit[1].http_status);
        answer = Object.values(JSON.parse(fs.readFileSync(path.join(FIXTURES, hit[0]), 'utf8')).results)[0];
      }
      results[q.refId] = {
        ...answer,
        frames: (answer.frames ?? []).map((f) => ({ ...f, schema: { ...f.schema, refId: q.refId } })),
      };
    }
    return { status, body: JSON.stringify({ results }) };
  };
}

/** A resource path with its parameters sorted (the page and the recorder may order them differently). */
function sortedPath(p) {
  const u = new URL(p, 'http://x');
  return `${u.pathname}?${[...u.searchParams.entries()].sort().map(([k, v]) => `${k}=${v}`)}`;
}

/** Grafana's API as the plugin binary answered it: /api/ds/query (answerer) and the recorded resource calls. */
function recordedApi(recording) {
  const answer = answerer(recording);
  return async ({ method, path: p, body }) => {
    if (method === 'POST' && p === '/api/ds/query') {
      return answer(JSON.parse(body));
    }
    const hit = Object.entries(recording.resources ?? {}).find(([r]) => sortedPath(r) === sortedPath(p));
    if (!hit) {
      throw new Error(`no recorded answer for ${method} ${p}`);
    }
    return { status: hit[1].http_status, body: JSON.stringify(hit[1].body) };
  };
}

/** The recorded frame of a file as nodes: label, level, value, self (+ valueRight), path. */
function nodesOf(file) {
  const f = Object.values(JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')).results)[0].frames[0];
  const col = (name) => f.data.values[f.schema.fields.findIndex((x) => x.name === name)];
  const [level, value, self, label, valueRight] = ['level', 'value', 'self', 'label', 'valueRight'].map(col);
  const out = [];
  const pathNow = [];
  for (let i = 0; i < level.length; i++) {
    pathNow.length = level[i];
    pathNow.push(label[i]);
    out.push({
      label: label[i],
      level: level[i],
      value: value[i],
      self: self[i],
      valueRight: valueRight?.[i],
      path: [...pathNow],
    });
  }
  return out;
}

function open(page, base, o) {
  const height = o.height ?? 760;
  const params = {
    panel: 'flamegraph',
    query: JSON.stringify(o.query),
    width: String(WIDTH),
    height: String(height),
    ready: o.ready ?? '[data-testid="flame-rect"]',
    from: String(o.from),
    to: String(o.to),
  };
  return openHarness(page, base, params, { width: WIDTH + 60, height: height + 90 });
}

async function shot(page, name) {
  log(`screenshot: ${await saveScreenshot(page, `flamegraph-${name}`)}`);
}

/** The boxes drawn in one graph (by test id): label, kind, match, change, x and width in px, colour. */
function drawn(page, testId = 'flame-graph') {
  return page.evaluate(
    (id) =>
      [...document.querySelectorAll(`[data-testid="${id}"] [data-testid="flame-rect"]`)].map((r) => ({
        label: r.dataset.label,
        kind: r.dataset.kind,
        match: r.dataset.match === '1',
        change: r.dataset.change,
        level: Math.round(parseFloat(r.style.top) / 18),
        x: parseFloat(r.style.left),
        width: parseFloat(r.style.width),
        background: getComputedStyle(r).backgroundColor,
        opacity: getComputedStyle(r).opacity,
      })),
    testId
  );
}

const rgb = (s) => s.match(/\d+/g).map(Number);

/** The user-space frames of shape.c's stacks (its functions, the libc functions it calls); a `module+0x…` frame has no symbol; the rest
 * (syscall and interrupt entries and what runs under them) is the kernel. */
const SHAPE_USER = new Set([
  'total',
  '_start',
  '__libc_start_main@@GLIBC_2.34',
  '__libc_start_call_main',
  'main',
  'work_a',
  'work_b',
  'clone3',
  'start_thread',
  'reader_thread',
  'block_on_pipe',
  'read',
  'write',
  'clock_gettime@@GLIBC_2.17',
  'puts',
]);
function shapeKind(label) {
  return SHAPE_USER.has(label) ? 'user' : /\+0x[0-9a-f]+$/.test(label) ? 'unsymbolized' : 'kernel';
}

async function main() {
  if (!fs.existsSync(path.join(DIST, 'panels', 'flamegraph', 'module.js'))) {
    throw new Error('dist/panels/flamegraph/module.js is missing: run "npm run build" first');
  }
  const recording = JSON.parse(fs.readFileSync(RECORDING, 'utf8'));
  await buildSite();
  const server = await startHarnessServer(undefined, undefined, recordedApi(recording));
  const base = `http://127.0.0.1:${server.address().port}`;
  log(`recorded answers of the real plugin binary (${path.relative(ROOT, RECORDING)}, ${recording.recorded_at})`);
  const browser = await launchChromium();
  const failures = [];
  const measured = [];
  try {
    const page = await browser.newPage();
    // @grafana/ui's spinner icon is served by Grafana from its own build, not from the package the harness copies;
    // every other 404 fails (the response hook), so Chromium's console line for a 404 is not counted twice
    page.on(
      'console',
      (m) => m.type() === 'error' && !/status of 404/.test(m.text()) && failures.push(`console: ${m.text()}`)
    );
    page.on('pageerror', (e) => failures.push(`pageerror: ${e.message}`));
    page.on('response', (r) => r.status() === 404 && !HARNESS_LACKS.test(r.url()) && failures.push(`404: ${r.url()}`));
    const files = recording.files;
    const req = (file) => files[file].request;
    const ask = (file, extra = {}) => ({
      query: req(file).queries.map(({ datasource, refId, ...q }) => ({ ...q, ...extra })),
      from: Number(req(file).from),
      to: Number(req(file).to),
    });

    // 1. the known-shape program's on-CPU graph: every frame wider than a pixel, as wide as its value
    const shape = nodesOf('ds-query-flamegraph.json');
    const root = shape[0].value;
    const h1 = await open(page, base, ask('ds-query-flamegraph.json'));
    let boxes = await drawn(page);
    const wide = shape.filter((n) => (n.value / root) * GRAPH_WIDTH >= 1);
    assert.strictEqual(boxes.length, wide.length, `${wide.length} frames of at least 1 px, ${boxes.length} drawn`);
    assert.match(
      await page.locator('[data-testid="flame-summary"]').textContent(),
      new RegExp(`On-CPU \\(samples\\) · ${root} samples · ${shape.length} nodes`)
    );
    for (const n of wide) {
      const b = boxes.find(
        (x) =>
          x.label === n.label && x.level === n.level && Math.abs(x.width + 1 - (n.value / root) * GRAPH_WIDTH) < 0.01
      );
      assert.ok(
        b,
        `${n.path.join(';')} (${n.value} samples) drawn ${((n.value / root) * GRAPH_WIDTH).toFixed(1)} px wide`
      );
      assert.strictEqual(b.kind, shapeKind(n.label), `${n.label}'s kind`);
    }
    log(`shape on-CPU: ${shape.length} nodes, ${boxes.length} drawn in ${h1.renderMs.toFixed(0)} ms`);
    // the panel's link to the slowest requests of its process in its range (the Profiling page)
    const slowest = new URL(await page.locator('[data-testid="flame-slowest"]').getAttribute('href'), 'http://grafana');
    assert.deepStrictEqual(
      [slowest.pathname, slowest.searchParams.get('process'), slowest.searchParams.get('from')],
      ['/a/flowlens-observability-app/profiling', 'shape', String(ask('ds-query-flamegraph.json').from)]
    );
    await shot(page, 'shape');

    // search finds work_a: every work_a frame highlighted, the rest dimmed, its share of the total
    await page.locator('[data-testid="flame-search"]').fill('work_a');
    await page.waitForSelector('[data-testid="flame-matches"]');
    boxes = await drawn(page);
    const workA = shape.filter((n) => n.label === 'work_a');
    assert.ok(workA.length > 0, 'the recording holds work_a');
    assert.deepStrictEqual(
      boxes.filter((b) => b.match).map((b) => b.label),
      workA.map(() => 'work_a'),
      'exactly the work_a frames are highlighted'
    );
    assert.ok(
      boxes.filter((b) => !b.match).every((b) => b.opacity === '0.25'),
      'the other frames are dimmed'
    );
    const shareA = workA.reduce((s, n) => s + n.value, 0) / root;
    const matches = await page.locator('[data-testid="flame-matches"]').textContent();
    assert.ok(
      matches.includes(
        `${workA.length} frame${workA.length === 1 ? ' matches' : 's match'} "work_a" (${(shareA * 100).toFixed(1)}% of the total)`
      ),
      matches
    );
    const topRows = await page
      .locator('[data-testid="flame-top-row"]')
      .evaluateAll((rs) => rs.map((r) => r.dataset.label));
    assert.deepStrictEqual(topRows, ['work_a'], 'the table shows the matches only');
    log(`search "work_a": ${workA.length} frames, ${(shareA * 100).toFixed(1)}% of ${root} samples`);
    await shot(page, 'search-work_a');

    // a click on the widest work_a focuses it: only its callers' path and its subtree, at full width
    await page.locator('[data-testid="flame-search"]').fill('');
    const widest = workA.reduce((a, b) => (b.value > a.value ? b : a));
    const target = (await drawn(page)).findIndex(
      (b) =>
        b.label === 'work_a' &&
        b.level === widest.level &&
        Math.abs(b.width + 1 - (widest.value / root) * GRAPH_WIDTH) < 0.01
    );
    await page.locator('[data-testid="flame-graph"] [data-testid="flame-rect"]').nth(target).click();
    await page.waitForSelector('[data-testid="flame-unfocus"]');
    boxes = await drawn(page);
    const under = shape.filter(
      (n) =>
        n.path.length > widest.path.length && n.path.slice(0, widest.path.length).join(';') === widest.path.join(';')
    );
    assert.deepStrictEqual(
      boxes.map((b) => b.label),
      [...widest.path, ...under.filter((n) => (n.value / widest.value) * GRAPH_WIDTH >= 1).map((n) => n.label)],
      'the focus draws work_a, its callers above it and its callees'
    );
    assert.ok(!boxes.some((b) => b.label === 'work_b'), 'work_b is not drawn once work_a is focused');
    const focused = boxes.find((b) => b.label === 'work_a');
    assert.strictEqual(focused.x, 0);
    assert.strictEqual(focused.width, GRAPH_WIDTH - 1, 'the focused frame fills the width');
    assert.match(await page.locator('[data-testid="flame-unfocus"]').textContent(), /Focus: work_a/);
    log(`focus on ${widest.path.join(';')}: ${boxes.length} frames drawn, work_a ${focused.width} px`);
    await shot(page, 'focus-work_a');

    // 2. on-CPU and off-CPU side by side in one panel: the switch, with time units and kernel frames told apart
    const off = nodesOf('ds-query-flamegraph-offcpu.json');
    await open(page, base, {
      ...ask('ds-query-flamegraph.json'),
      query: [...ask('ds-query-flamegraph.json').query, ...ask('ds-query-flamegraph-offcpu.json').query],
    });
    await page.getByLabel('Off-CPU (time blocked)').click();
    await page.waitForSelector('[data-testid="flame-rect"][data-label="block_on_pipe"]');
    const offSummary = await page.locator('[data-testid="flame-summary"]').textContent();
    const offSeconds = (off[0].value / 1e9).toFixed(2);
    assert.ok(offSummary.startsWith(`Off-CPU (time blocked) · ${offSeconds} s · ${off.length} nodes`), offSummary);
    boxes = await drawn(page);
    const kernelPath = off.find((n) => n.label === 'block_on_pipe').path;
    for (const b of boxes) {
      const n = off.find((x) => x.label === b.label && x.level === b.level);
      const belowRead = n && n.path.includes('read') && n.path.indexOf(n.label) > n.path.indexOf('read');
      assert.strictEqual(
        b.kind,
        belowRead ? 'kernel' : 'user',
        `${b.label} at level ${b.level} (${kernelPath.join(';')})`
      );
    }
    const kernelLabels = [...new Set(boxes.filter((b) => b.kind === 'kernel').map((b) => b.label))];
    assert.ok(
      kernelLabels.includes('do_syscall_64') && kernelLabels.some((l) => /pipe_read/.test(l)),
      kernelLabels.join(', ')
    );
    log(`off-CPU: ${offSeconds} s blocked, kernel frames ${kernelLabels.join(', ')}`);
    await shot(page, 'offcpu');

    // 3. the diff of the range after the workload change (work_b 3 -> 9 units) against the range before
    const diff = nodesOf('ds-query-flamegraph-diff.json');
    await open(page, base, ask('ds-query-flamegraph-diff.json'));
    boxes = await drawn(page);
    for (const b of boxes) {
      assert.strictEqual(b.kind, shapeKind(b.label), `${b.label}'s kind`);
    }
    const [left, right] = [diff[0].value, diff[0].valueRight];
    // every frame of a function reads the function's change (its share over all its stack variants: real profiles
    // hold work_a under `_start`-rooted and `__libc_start_call_main`-rooted stacks, whose own changes differ)
    for (const fn of ['work_a', 'work_b']) {
      const nodes = diff.filter((x) => x.label === fn);
      const sum = (key) => nodes.reduce((t, n) => t + n[key], 0);
      const change = ((sum('valueRight') / right - sum('value') / left) / (sum('value') / left)) * 100;
      const fnBoxes = boxes.filter((x) => x.label === fn);
      assert.ok(fnBoxes.length >= 1, `${fn} drawn`);
      for (const b of fnBoxes) {
        assert.strictEqual(b.change, change.toFixed(1), `${fn} at level ${b.level}: its function's change`);
        const [r, g] = rgb(b.background);
        if (change > 10) {
          assert.ok(r > g + 40, `${fn} grew ${change.toFixed(0)}%: red, got ${b.background}`);
        } else if (change < -10) {
          assert.ok(g > r + 40, `${fn} shrank ${change.toFixed(0)}%: green, got ${b.background}`);
        }
      }
      assert.strictEqual(new Set(fnBoxes.map((b) => b.background)).size, 1, `${fn}: one colour wherever it sits`);
      const variants = nodes
        .filter((n) => n.value > 0)
        .map((n) => ((n.valueRight / right / (n.value / left) - 1) * 100).toFixed(1));
      log(
        `diff: ${fn} ${change.toFixed(1)}% in all, drawn on ${fnBoxes.length} frames (its stack variants alone: ${variants.join(', ')}%)`
      );
    }
    const share = (fn, key, total) => diff.filter((n) => n.label === fn).reduce((s, n) => s + n[key], 0) / total;
    const bShare = [share('work_b', 'value', left), share('work_b', 'valueRight', right)];
    assert.ok(
      // 3 of 10 units -> 9 of 16 (1.9x) in the workload; the whole-second ranges of a loaded machine blur it
      bShare[1] > bShare[0] * 1.2,
      `work_b's share grew: ${bShare.map((x) => (100 * x).toFixed(1)).join(' -> ')}%`
    );
    const changes = await page
      .locator('[data-testid="flame-top-row"]')
      .evaluateAll((rs) =>
        rs.map((r) => [r.dataset.label, r.querySelector('[data-testid="flame-top-change"]').textContent])
      );
    const bRow = changes.find(([l]) => l === 'work_b');
    assert.ok(bRow && bRow[1].startsWith('+'), `the table's change of work_b: ${JSON.stringify(changes)}`);
    log(
      `diff: work_b ${(100 * bShare[0]).toFixed(1)}% -> ${(100 * bShare[1]).toFixed(1)}% of the samples (table ${bRow[1]}), coloured red; work_a green`
    );
    await shot(page, 'diff');

    // 4. the slow request's row -> its link -> the serving thread's graph over the request: burnCpu is the hottest
    const burn = nodesOf('ds-query-flamegraph-burn.json');
    assert.deepStrictEqual(req('ds-query-flamegraph-burn.json').queries[0], {
      ...recording.burn.link.query,
      datasource: req('ds-query-flamegraph-burn.json').queries[0].datasource,
    });
    await open(page, base, ask('ds-query-flamegraph-burn.json'));
    const hottest = burn.reduce((a, b) => (b.self > a.self ? b : a));
    assert.match(hottest.label, new RegExp(recording.burn.slowFunction));
    const first = await page.locator('[data-testid="flame-top-row"]').first().getAttribute('data-label');
    assert.strictEqual(first, hottest.label, 'the top function is the request made slow');
    boxes = await drawn(page);
    const burnWidth = (hottest.value / burn[0].value) * GRAPH_WIDTH;
    assert.ok(
      boxes.some(
        (b) => b.label === hottest.label && b.level === hottest.level && Math.abs(b.width + 1 - burnWidth) < 0.01
      ),
      `burnCpu drawn ${burnWidth.toFixed(1)} px wide, as its samples: ${JSON.stringify(boxes.filter((b) => b.label === hottest.label))}`
    );
    log(
      `slow request (${recording.burn.link.title}): ${burn[0].value} samples, hottest ${hottest.label} self ${hottest.self}`
    );
    await shot(page, 'slow-request');

    // 5. 16,384 nodes: first paint, boxes in the DOM, and a search over all of them
    const large = await open(page, base, {
      query: { queryType: 'flamegraph', process: [`synthetic-${LARGE}`] },
      from: 0,
      to: 3600_000,
      height: 900,
    });
    const count = await page.locator('[data-testid="flame-rect"]').count();
    const summary = await page.locator('[data-testid="flame-summary"]').textContent();
    assert.ok(summary.includes(`${LARGE.toLocaleString('en-US')} nodes`), summary);
    const searchMs = await page.evaluate(async () => {
      const input = document.querySelector('[data-testid="flame-search"]');
      const t0 = performance.now();
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
      setter.call(input, 'func1');
      input.dispatchEvent(new Event('input', { bubbles: true }));
      await new Promise((resolve) => {
        const poll = () =>
          document.querySelector('[data-testid="flame-matches"]') ? resolve() : requestAnimationFrame(poll);
        poll();
      });
      return performance.now() - t0;
    });
    measured.push(
      `${LARGE} nodes: first paint ${large.renderMs.toFixed(0)} ms after render() (budget ${RENDER_BUDGET_MS}), frames converted in ${large.convertMs.toFixed(0)} ms, ${count} boxes of at least 1 px in the DOM; search over all nodes painted in ${searchMs.toFixed(0)} ms`
    );
    log(measured[measured.length - 1]);
    assert.ok(
      large.renderMs < RENDER_BUDGET_MS,
      `16,384 nodes painted in ${large.renderMs.toFixed(0)} ms (budget ${RENDER_BUDGET_MS} ms)`
    );
    assert.ok(count > 100 && count < LARGE, `${count} boxes`);
    await shot(page, 'large');

    // 6. the app's Profiling page (the built dist/module.js and its chunks): the process's graphs over a range that
    // starts with the workload change, then "Compare with the previous 10 s" in one click: work_b grew
    const pg = recording.profilingPage;
    const pageDiff = nodesOf('ds-query-profiling-on_cpu-diff.json');
    await openHarness(
      page,
      base,
      {
        app: `/a/flowlens-observability-app/profiling?process=shape&from=${pg.from}&to=${pg.to}`,
        ready: '[data-testid="flame-rect"]',
        width: String(WIDTH),
      },
      { width: WIDTH + 60, height: 1200 }
    );
    const pageRoot = nodesOf('ds-query-profiling-on_cpu.json')[0].value;
    const pageOffRoot = nodesOf('ds-query-profiling-off_cpu.json')[0].value;
    // side by side: where it computed, where it waited
    assert.match(
      await page.locator(`${ON_CPU} [data-testid="flame-summary"]`).textContent(),
      new RegExp(`On-CPU \\(samples\\) · ${pageRoot} samples`)
    );
    assert.match(
      await page.locator(`${OFF_CPU} [data-testid="flame-summary"]`).textContent(),
      new RegExp(`Off-CPU \\(time blocked\\) · ${(pageOffRoot / 1e9).toFixed(2)} s`)
    );
    assert.strictEqual(
      await page.locator('[data-testid="profiling-slowest-empty"]').textContent(),
      'No request served in this range.',
      'shape serves no request'
    );
    await shot(page, 'profiling-page');
    await page.locator('[data-testid="profiling-compare"]').click();
    await page.waitForFunction(() =>
      /baseline/.test(document.querySelector('[data-event="on_cpu"] [data-testid="flame-summary"]')?.textContent ?? '')
    );
    assert.strictEqual(
      new URLSearchParams((await page.evaluate(() => window.__harness.location())).search).get('compare'),
      '1'
    );
    const pageShare = (fn, key, total) =>
      pageDiff.filter((n) => n.label === fn).reduce((t, n) => t + n[key], 0) / total;
    const grown =
      (pageShare('work_b', 'valueRight', pageDiff[0].valueRight) / pageShare('work_b', 'value', pageDiff[0].value) -
        1) *
      100;
    const pageRows = await page
      .locator(`${ON_CPU} [data-testid="flame-top-row"]`)
      .evaluateAll((rs) =>
        rs.map((r) => [r.dataset.label, r.querySelector('[data-testid="flame-top-change"]').textContent])
      );
    assert.deepStrictEqual(
      pageRows.find(([l]) => l === 'work_b'),
      ['work_b', `+${grown.toFixed(0)}%`]
    );
    log(
      `Profiling page: ${pageRoot} samples of shape, compared with the previous ${(pg.to - pg.from) / 1000} s: work_b +${grown.toFixed(0)}%`
    );
    await shot(page, 'profiling-page-compare');

    // 7. the page on the HTTP server's process over its five requests: its slowest requests, /burn first; the
    // thread picker lists the backend's threads of that process in the range; the /wait row's "Thread" shows that
    // thread over /wait side by side: its CPU in burnCpu, its 0.7 s block in blockThread (time blocked)
    const srv = recording.profilingServer;
    await openHarness(
      page,
      base,
      {
        app: `/a/flowlens-observability-app/profiling?pid=${srv.pid}&from=${srv.from}&to=${srv.to}`,
        ready: '[data-testid="profiling-slow-row"]',
        width: String(WIDTH),
      },
      { width: WIDTH + 60, height: 1400 }
    );
    const slowFrame = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ds-query-profiling-server-slowest.json'), 'utf8'))
      .results.S.frames[0];
    const slowCol = (name) => slowFrame.data.values[slowFrame.schema.fields.findIndex((f) => f.name === name)];
    const slowRows = await page.locator('[data-testid="profiling-slow-row"]').evaluateAll((rs) =>
      rs.map((r) => ({
        id: r.dataset.rowId,
        request: r.querySelector('[data-testid="profiling-slow-request"]').textContent,
        duration: r.querySelector('[data-testid="profiling-slow-duration"]').textContent,
        trace: r.querySelector('[data-testid="profiling-slow-trace"]').getAttribute('href'),
      }))
    );
    assert.deepStrictEqual(
      slowRows.map((r) => [r.id, r.request]),
      slowCol('_id').map((id, i) => [id, `GET ${slowCol('request_resource')[i]}`])
    );
    assert.strictEqual(slowRows[0].request, `GET ${srv.slowest}`, 'the slow request first');
    assert.deepStrictEqual(
      slowRows.map((r) => r.request),
      ['GET /burn', 'GET /wait', 'GET /fast', 'GET /fast', 'GET /fast']
    );
    assert.match(slowRows[0].trace, new RegExp(`/a/flowlens-observability-app/traces\\?.*row=${slowRows[0].id}`));
    log(`slowest requests of pid ${srv.pid}: ${slowRows.map((r) => `${r.request} ${r.duration}`).join(', ')}`);
    // the thread picker: the threads of the pid with on-CPU samples in the range, busiest first (the backend's list)
    const threads = Object.entries(recording.resources).find(
      ([p]) => /field=tid/.test(p) && p.includes(`from=${srv.from}`)
    )[1].body.values;
    await page.locator('[data-testid="profiling-tid"]').click();
    await page.waitForSelector('[role="option"]');
    const options = await page.locator('[role="option"]').allTextContents();
    assert.deepStrictEqual(
      options.map((o) => o.replace(/\s+/g, ' ').trim()),
      threads.map((v) => `${v.value}${v.process}`.replace(/\s+/g, ' ').trim()),
      `the thread picker's options: ${JSON.stringify(options)}`
    );
    await shot(page, 'profiling-server-picker');
    await page.keyboard.press('Escape');
    await shot(page, 'profiling-server');
    const wait = recording.profilingThread;
    await page
      .locator('[data-testid="profiling-slow-row"]', { hasText: 'GET /wait' })
      .locator('[data-testid="profiling-slow-thread"]')
      .click();
    await page.waitForFunction(
      (tid) => new URLSearchParams(window.__harness.location().search).get('tid') === tid,
      wait.tid
    );
    await page.waitForSelector(`${OFF_CPU} [data-testid="flame-rect"]`);
    const loc = new URLSearchParams((await page.evaluate(() => window.__harness.location())).search);
    assert.deepStrictEqual(
      ['pid', 'tid', 'from', 'to'].map((k) => loc.get(k)),
      [wait.pid, wait.tid, String(wait.from), String(wait.to)]
    );
    const onTop = await page.locator(`${ON_CPU} [data-testid="flame-top-row"]`).first().getAttribute('data-label');
    assert.match(onTop, new RegExp(wait.cpuFunction), `on-CPU of the /wait thread: the hottest function ${onTop}`);
    const blockBox = page.locator(`${OFF_CPU} [data-testid="flame-rect"][data-label*="${wait.blockFunction}"]`).first();
    const blockTitle = await blockBox.getAttribute('title');
    const blockedMs = Number(/total ([\d.]+) ms/.exec(blockTitle)?.[1]);
    assert.ok(
      blockedMs >= wait.blockMs && blockedMs < wait.blockMs + 100,
      `off-CPU: ${wait.blockFunction} blocked ${blockedMs} ms (${blockTitle})`
    );
    assert.strictEqual(
      await page.locator(`${OFF_CPU} [data-testid="flame-rect"][data-label*="${wait.cpuFunction}"]`).count(),
      0,
      'burnCpu never blocked'
    );
    // the process's slowest requests over the thread's range: /wait and what ran in its seconds, not /burn
    const threadSlow = Object.values(
      JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ds-query-profiling-thread-slowest.json'), 'utf8')).results
    )[0].frames[0];
    const threadIds = threadSlow.data.values[threadSlow.schema.fields.findIndex((f) => f.name === '_id')];
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid="profiling-slow-row"]').length === n,
      threadIds.length
    );
    assert.deepStrictEqual(
      await page.locator('[data-testid="profiling-slow-row"]').evaluateAll((rs) => rs.map((r) => r.dataset.rowId)),
      threadIds
    );
    assert.strictEqual(
      await page.locator('[data-testid="profiling-slow-request"]').first().textContent(),
      'GET /wait',
      "the thread's range: /wait the slowest"
    );
    log(
      `the /wait thread side by side: on-CPU hottest ${onTop}; off-CPU ${wait.blockFunction} ${blockedMs} ms blocked`
    );
    await shot(page, 'profiling-thread');

    assert.deepStrictEqual(failures, [], 'no browser errors');
    for (const m of measured) {
      log(`measured: ${m}`);
    }
    log('PASS');
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e) => {
  console.error('[flamegraph-e2e] FAIL', e);
  process.exit(1);
});
