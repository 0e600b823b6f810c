// The Universal Map's drawn geometry read back from the page (layout units of the map's view group): each node's
// footprint (circle, title, subtitle), each call's line sampled along the drawn SVG path, each call's label plates
// (label, verdict mark, time bar) as one box; and the readability counts of src/panels/universalmap/quality.ts
// (transpiled here with esbuild: the very function the jest tests and the layout bench use).
'use strict';

const path = require('path');

let quality;
/** src/panels/universalmap/quality.ts, loaded once. */
function qualityModule() {
  if (!quality) {
    const { buildSync } = require('esbuild');
    const out = buildSync({
      entryPoints: [path.join(__dirname, '..', '..', 'src', 'panels', 'universalmap', 'quality.ts')],
      bundle: true,
      format: 'cjs',
      platform: 'node',
      write: false,
    });
    const mod = { exports: {} };
    new Function('module', 'exports', out.outputFiles[0].text)(mod, mod.exports);
    quality = mod.exports;
  }
  return quality;
}

/** The map's geometry as drawn (see MapGeometry in quality.ts). */
function readGeometry(page) {
  return page.evaluate(() => {
    const view = document.querySelector('[data-testid="universal-map-view"]');
    const union = (boxes) => {
      if (boxes.length === 0) {
        return undefined;
      }
      const x = Math.min(...boxes.map((b) => b.x));
      const y = Math.min(...boxes.map((b) => b.y));
      return {
        x,
        y,
        w: Math.max(...boxes.map((b) => b.x + b.width)) - x,
        h: Math.max(...boxes.map((b) => b.y + b.height)) - y,
      };
    };
    const nodes = [...view.querySelectorAll('[data-testid="map-node"]')].map((g) => ({
      id: g.dataset.id,
      // the circle and the texts under it (the stats inside the circle add nothing)
      box: union([...g.querySelectorAll('circle, [data-testid="map-node-title"], text')].map((e) => e.getBBox())),
    }));
    const groups = [...view.querySelectorAll('[data-testid="map-edge"]')];
    const lines = [...view.querySelectorAll('[data-testid="map-edge-line"]')];
    const edges = groups.map((g, i) => {
      const line = lines[i];
      const len = line.getTotalLength();
      const steps = Math.max(2, Math.ceil(len / 4));
      const points = [];
      for (let s = 0; s <= steps; s++) {
        const p = line.getPointAtLength((len * s) / steps);
        points.push({ x: p.x, y: p.y });
      }
      return {
        id: `${g.dataset.source}->${g.dataset.target}`,
        source: g.dataset.source,
        target: g.dataset.target,
        points,
      };
    });
    const labels = groups
      .map((g) => ({
        id: `${g.dataset.source}->${g.dataset.target}`,
        box: union([...g.querySelectorAll('[data-testid="map-edge-plate"]')].map((e) => e.getBBox())),
      }))
      .filter((l) => l.box);
    return { nodes, edges, labels };
  });
}

/** The readability counts of the map drawn in the page. */
async function measureDrawnMap(page) {
  const geometry = await readGeometry(page);
  return { geometry, quality: qualityModule().measureMap(geometry) };
}

module.exports = { readGeometry, measureDrawnMap, qualityModule };
