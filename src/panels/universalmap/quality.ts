/**
 * How readable a drawn map is, counted from its geometry (layout units): the same count for the jest tests, the
 * layout bench (bench/map-layout.js) and the Chromium test, which reads the geometry back from the drawn SVG.
 */
export interface QPoint {
  x: number;
  y: number;
}

export interface QBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface MapGeometry {
  /** each node's footprint: its circle and the title and subtitle under it */
  nodes: Array<{ id: string; box: QBox }>;
  /** each call's line as a polyline from its source to its target */
  edges: Array<{ id: string; source: string; target: string; points: QPoint[] }>;
  /** the plates of the call labels drawn (label, verdict mark, time bar) */
  labels: Array<{ id: string; box: QBox }>;
}

export interface MapQuality {
  /** pairs of call lines that cross (lines sharing an end are not counted where they meet) */
  crossings: number;
  /** (call, node) pairs where the call's line passes through a node that is neither of its ends */
  edgesThroughNodes: number;
  /** (label, node) pairs whose boxes overlap */
  labelNodeOverlaps: number;
  /** pairs of labels whose boxes overlap */
  labelLabelOverlaps: number;
}

/** Boxes overlapping by more than `slack` each way (a shared border is not an overlap). */
export function boxesOverlap(a: QBox, b: QBox, slack = 0.5): boolean {
  return a.x + slack < b.x + b.w && b.x + slack < a.x + a.w && a.y + slack < b.y + b.h && b.y + slack < a.y + a.h;
}

const cross = (o: QPoint, a: QPoint, b: QPoint) => (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);

/** Segments ab and cd cross at a point inside both (touching ends and collinear runs are not counted). */
export function segmentsCross(a: QPoint, b: QPoint, c: QPoint, d: QPoint): boolean {
  const d1 = cross(c, d, a);
  const d2 = cross(c, d, b);
  const d3 = cross(a, b, c);
  const d4 = cross(a, b, d);
  return ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0));
}

/** Segment ab passes through the inside of box (shrunk by `inset`): clipped against it (Liang–Barsky). */
export function segmentHitsBox(a: QPoint, b: QPoint, box: QBox, inset = 1): boolean {
  const x0 = box.x + inset;
  const x1 = box.x + box.w - inset;
  const y0 = box.y + inset;
  const y1 = box.y + box.h - inset;
  if (x1 <= x0 || y1 <= y0) {
    return false;
  }
  let t0 = 0;
  let t1 = 1;
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  for (const [p, q] of [
    [-dx, a.x - x0],
    [dx, x1 - a.x],
    [-dy, a.y - y0],
    [dy, y1 - a.y],
  ]) {
    if (p === 0) {
      if (q < 0) {
        return false;
      }
    } else {
      const r = q / p;
      if (p < 0) {
        t0 = Math.max(t0, r);
      } else {
        t1 = Math.min(t1, r);
      }
      if (t0 > t1) {
        return false;
      }
    }
  }
  return t1 - t0 > 1e-9;
}

const boundsOf = (pts: QPoint[]): QBox => {
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, w: Math.max(...xs) - x, h: Math.max(...ys) - y };
};

const touch = (a: QBox, b: QBox) => a.x <= b.x + b.w && b.x <= a.x + a.w && a.y <= b.y + b.h && b.y <= a.y + a.h;

/**
 * The pairs of calls whose lines cross at least once. Their segments go into a grid of cells (a segment into every
 * cell its box covers), and only two segments of a cell are tested: linear in the segments where lines are apart,
 * where testing every segment of a call against every other's took minutes on a drawn 200-node map (186k samples).
 */
function crossingPairs(edges: Array<{ points: QPoint[] }>): number {
  let length = 0;
  let count = 0;
  for (const e of edges) {
    for (let s = 1; s < e.points.length; s++) {
      length += Math.abs(e.points[s].x - e.points[s - 1].x) + Math.abs(e.points[s].y - e.points[s - 1].y);
      count++;
    }
  }
  const cell = Math.max(1, (4 * length) / Math.max(1, count));
  const grid = new Map<string, Array<[number, number]>>(); // cell -> (edge, segment end index)
  edges.forEach((e, i) => {
    for (let s = 1; s < e.points.length; s++) {
      const a = e.points[s - 1];
      const b = e.points[s];
      for (let cx = Math.floor(Math.min(a.x, b.x) / cell); cx <= Math.floor(Math.max(a.x, b.x) / cell); cx++) {
        for (let cy = Math.floor(Math.min(a.y, b.y) / cell); cy <= Math.floor(Math.max(a.y, b.y) / cell); cy++) {
          const k = `${cx},${cy}`;
          const list = grid.get(k);
          if (list) {
            list.push([i, s]);
          } else {
            grid.set(k, [[i, s]]);
          }
        }
      }
    }
  });
  const crossed = new Set<number>();
  for (const list of grid.values()) {
    for (let x = 0; x < list.length; x++) {
      for (let y = x + 1; y < list.length; y++) {
        const [i, s] = list[x];
        const [j, t] = list[y];
        const pair = Math.min(i, j) * edges.length + Math.max(i, j);
        if (i === j || crossed.has(pair)) {
          continue;
        }
        const a = edges[i].points;
        const b = edges[j].points;
        if (segmentsCross(a[s - 1], a[s], b[t - 1], b[t])) {
          crossed.add(pair);
        }
      }
    }
  }
  return crossed.size;
}

/** Counts what makes a map hard to read (see MapQuality): a test and bench measure. */
export function measureMap(g: MapGeometry): MapQuality {
  const edges = g.edges.filter((e) => e.points.length >= 2).map((e) => ({ ...e, bounds: boundsOf(e.points) }));
  const crossings = crossingPairs(edges);
  let edgesThroughNodes = 0;
  for (const e of edges) {
    for (const n of g.nodes) {
      if (n.id === e.source || n.id === e.target || !touch(e.bounds, n.box)) {
        continue;
      }
      if (e.points.some((p, s) => s > 0 && segmentHitsBox(e.points[s - 1], p, n.box))) {
        edgesThroughNodes++;
      }
    }
  }
  let labelNodeOverlaps = 0;
  let labelLabelOverlaps = 0;
  g.labels.forEach((l, i) => {
    labelNodeOverlaps += g.nodes.filter((n) => boxesOverlap(l.box, n.box)).length;
    for (let j = i + 1; j < g.labels.length; j++) {
      labelLabelOverlaps += boxesOverlap(l.box, g.labels[j].box) ? 1 : 0;
    }
  });
  return { crossings, edgesThroughNodes, labelNodeOverlaps, labelLabelOverlaps };
}
