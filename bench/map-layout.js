#!/usr/bin/env node
// The Universal Map's layout, side by side: the hand-written layered layout it had before (git 35d4b3c: wrapped
// columns, curved lines, labels on the curves), the one it has now (dagre with ranks fixed to the wrapped columns,
// lines routed through the room dagre leaves, labels placed on those lines: src/panels/universalmap) and elkjs
// (layered, the same wrapped columns as layer constraints, its own orthogonal routing and edge-label placement).
// Maps: the synthetic 200-service map of the Chromium test (fixtures/synthetic-map.js) and the two small recorded
// maps (the map fixture, the network captures' map). Per map and layout: crossings, calls through nodes, label/node
// and label/label overlaps (src/panels/universalmap/quality.ts), labels placed of those wanted, the picture's size
// and its scale fitted in the panel, and the layout time (median of 5 runs, Node, this machine).
// Usage: node bench/map-layout.js   (prints a table and, with --json, the figures as JSON)
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { buildSync } = require('esbuild');

const ROOT = path.join(__dirname, '..');
const BEFORE = '35d4b3c';
const FIXTURES = path.join(ROOT, 'test', 'frontend', 'fixtures');

function load() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowlens-map-bench-'));
  for (const f of ['layout.ts', 'labels.ts']) {
    const old = execFileSync('git', ['show', `${BEFORE}:src/panels/universalmap/${f}`], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    fs.writeFileSync(path.join(dir, f), old);
  }
  const entry = `
    export { buildGraph } from './src/panels/universalmap/graph';
    export { layoutGraph, nodeBox, NODE_RADIUS } from './src/panels/universalmap/layout';
    export { edgeShapes, edgeLabel, plateWidth, marked, SPLIT_ROW } from './src/panels/universalmap/shapes';
    export { placeLabels } from './src/panels/universalmap/labels';
    export { measureMap } from './src/panels/universalmap/quality';
    export { createTheme, dataFrameFromJSON } from '@grafana/data';
    export { default as ELK } from 'elkjs/lib/elk.bundled.js';
    export { layoutGraph as beforeLayout } from ${JSON.stringify(path.join(dir, 'layout.ts'))};
    export { placeLabels as beforePlaceLabels, pointAt as beforePointAt } from ${JSON.stringify(path.join(dir, 'labels.ts'))};
  `;
  const out = buildSync({
    stdin: { contents: entry, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    write: false,
    logLevel: 'error',
  });
  fs.rmSync(dir, { recursive: true });
  const mod = { exports: {} };
  new Function('module', 'exports', 'require', out.outputFiles[0].text)(mod, mod.exports, require);
  return mod.exports;
}

// @grafana/data's value formats read the browser's language (Node 20 has no navigator)
globalThis.navigator ??= { language: 'en-US', languages: ['en-US'] };
const M = load();
const theme = M.createTheme();

function graphOf(answer) {
  const frames = answer.results.A.frames.map((f) => M.dataFrameFromJSON(f));
  return M.buildGraph(frames, theme);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Each label's plate (label, verdict mark, time bar) as the panel draws it, centred on its place. */
function plateOf(e, label, at) {
  const w = M.plateWidth(e, label);
  const h = (label ? 18 : 0) + (M.marked(e) ? 18 : 0) + (e.split ? M.SPLIT_ROW : 0);
  return { x: at.x - w / 2, y: at.y - h / 2, w, h };
}

const wanted = (graph) => graph.edges.filter((e) => M.edgeLabel(e, 'both') || M.marked(e)).length;

/** The layout the panel had before: wrapped columns, quadratic curves bent for pairs and calls back, labels on them. */
function before(graph, panel) {
  const R = M.NODE_RADIUS;
  const t0 = performance.now();
  const layout = M.beforeLayout(graph, Math.round((panel.width / panel.height) * 4) / 4);
  const pairs = new Set(graph.edges.map((e) => `${e.source}\u0000${e.target}`));
  const curves = graph.edges.map((e) => {
    const a = layout.positions.get(e.source);
    const b = layout.positions.get(e.target);
    const reciprocal = pairs.has(`${e.target}\u0000${e.source}`);
    const backwards = (layout.layers.get(e.target) ?? 0) <= (layout.layers.get(e.source) ?? 0);
    const bend = reciprocal ? 14 : backwards ? 30 : 0;
    const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
    const [ux, uy] = [(b.x - a.x) / len, (b.y - a.y) / len];
    const start = { x: a.x + ux * R, y: a.y + uy * R };
    const end = { x: b.x - ux * (R + 4), y: b.y - uy * (R + 4) };
    const ctrl = { x: (start.x + end.x) / 2 - uy * bend * 2, y: (start.y + end.y) / 2 + ux * bend * 2 };
    return { e, curve: { start, ctrl, end } };
  });
  const places = M.beforePlaceLabels(
    curves
      .filter((c) => M.edgeLabel(c.e, 'both') || M.marked(c.e))
      .map((c) => ({
        id: c.e.id,
        curve: c.curve,
        width: M.plateWidth(c.e, M.edgeLabel(c.e, 'both')),
        height: plateOf(c.e, M.edgeLabel(c.e, 'both'), { x: 0, y: 0 }).h,
        must: M.marked(c.e) || Boolean(c.e.networkOnly),
      })),
    graph.nodes.map((n) => M.nodeBox(layout.positions.get(n.id), n))
  );
  const ms = performance.now() - t0;
  return {
    ms,
    width: layout.width,
    height: layout.height,
    nodes: graph.nodes.map((n) => ({ id: n.id, box: M.nodeBox(layout.positions.get(n.id), n) })),
    edges: curves.map((c) => ({
      id: c.e.id,
      source: c.e.source,
      target: c.e.target,
      points: Array.from({ length: 17 }, (_, i) => M.beforePointAt(c.curve, i / 16)),
    })),
    labels: curves
      .filter((c) => places.get(c.e.id))
      .map((c) => ({ id: c.e.id, box: plateOf(c.e, M.edgeLabel(c.e, 'both'), places.get(c.e.id)) })),
  };
}

/** The layout the panel has now (own layered layout, routed lines, labels on them). */
function now(graph, panel) {
  const t0 = performance.now();
  const layout = M.layoutGraph(graph, panel, (e) => M.plateWidth(e, M.edgeLabel(e, 'both')));
  const shapes = M.edgeShapes(graph, layout, 'both');
  const ms = performance.now() - t0;
  return {
    ms,
    width: layout.width,
    height: layout.height,
    nodes: graph.nodes.map((n) => ({ id: n.id, box: M.nodeBox(layout.positions.get(n.id), n) })),
    edges: shapes
      .filter((s) => s.geometry.points)
      .map((s) => ({ id: s.edge.id, source: s.edge.source, target: s.edge.target, points: s.geometry.points })),
    labels: shapes
      .filter((s) => s.mid && !s.geometry.selfLoop)
      .map((s) => ({ id: s.edge.id, box: plateOf(s.edge, s.label, s.mid) })),
  };
}

/** elkjs: layered, the same wrapped columns as layer constraints, orthogonal lines, its own edge-label placement. */
async function elk(graph, panel) {
  const R = M.NODE_RADIUS;
  const engine = new M.ELK();
  // the wrapped columns the panel's layout chose (their ranks), so elk gets the same shape to fill
  const ranks = new Map();
  const layout = M.layoutGraph(graph, panel);
  const xs = [...new Set([...layout.positions.values()].map((p) => p.x))].sort((a, b) => a - b);
  for (const [id, p] of layout.positions) {
    ranks.set(id, xs.indexOf(p.x));
  }
  // timed: elk's own layout (the wrap above is the panel's, timed in its row)
  const t1 = performance.now();
  const sized = new Map(graph.nodes.map((n) => [n.id, M.nodeBox({ x: 0, y: 0 }, n)]));
  const result = await engine.layout({
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.spacing.nodeNode': '26',
      'elk.spacing.edgeNode': '10',
      'elk.spacing.edgeEdge': '6',
      'elk.layered.spacing.nodeNodeBetweenLayers': '110',
      'elk.layered.spacing.edgeNodeBetweenLayers': '20',
      'elk.edgeLabels.inline': 'false',
      'elk.layered.layering.strategy': 'INTERACTIVE',
      'elk.layered.considerModelOrder.strategy': 'NONE',
    },
    children: graph.nodes.map((n) => ({
      id: n.id,
      width: sized.get(n.id).w,
      height: sized.get(n.id).h,
      layoutOptions: { 'elk.layered.layering.layerChoiceConstraint': String(ranks.get(n.id)) },
    })),
    edges: graph.edges
      .filter((e) => e.source !== e.target)
      .map((e) => {
        const label = M.edgeLabel(e, 'both');
        const plate = plateOf(e, label, { x: 0, y: 0 });
        return {
          id: e.id,
          sources: [e.source],
          targets: [e.target],
          labels: plate.w > 0 ? [{ id: `${e.id}#label`, text: label, width: plate.w, height: plate.h }] : [],
        };
      }),
  });
  const elkMs = performance.now() - t1;
  const pos = new Map(result.children.map((c) => [c.id, { x: c.x + c.width / 2, y: c.y + R }]));
  return {
    ms: elkMs,
    width: result.width,
    height: result.height,
    nodes: graph.nodes.map((n) => ({ id: n.id, box: M.nodeBox(pos.get(n.id), n) })),
    edges: result.edges.map((e) => {
      const s = e.sections?.[0];
      const points = s ? [s.startPoint, ...(s.bendPoints ?? []), s.endPoint] : [];
      const src = graph.edges.find((g) => g.id === e.id);
      return { id: e.id, source: src.source, target: src.target, points };
    }),
    labels: result.edges.flatMap((e) =>
      (e.labels ?? []).map((l) => ({ id: e.id, box: { x: l.x, y: l.y, w: l.width, h: l.height } }))
    ),
  };
}

async function main() {
  const { syntheticMap } = require(path.join(FIXTURES, 'synthetic-map.js'));
  const maps = [
    ['200-node synthetic', syntheticMap(100, 80, 20), 1600, 700],
    ['map fixture', JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ds-query-map.json'), 'utf8')), 1100, 560],
    [
      'network captures',
      JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ds-query-netprofile-map.json'), 'utf8')),
      1280,
      620,
    ],
  ];
  const rows = [];
  for (const [name, answer, W, H] of maps) {
    const graph = graphOf(answer);
    for (const [engine, run] of [
      ['before (hand-written)', before],
      ['now (own layered + routes)', now],
      ['elkjs (layered)', elk],
    ]) {
      const runs = [];
      let geometry;
      for (let i = 0; i < 5; i++) {
        geometry = await run(graph, { width: W, height: H });
        runs.push(geometry.ms);
      }
      const q = M.measureMap(geometry);
      const k = Math.min(W / geometry.width, H / geometry.height);
      rows.push({
        map: name,
        layout: engine,
        ...q,
        labels: `${geometry.labels.length}/${wanted(graph)}`,
        size: `${Math.round(geometry.width)}x${Math.round(geometry.height)}`,
        fit: Number(k.toFixed(2)),
        ms: Number(median(runs).toFixed(1)),
      });
    }
  }
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    console.table(rows);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
