import type { MapEdge, MapGraph } from './graph';
import type { Box } from './labels';

export interface Point {
  x: number;
  y: number;
}

/** A node's circle radius (layout units). */
export const NODE_RADIUS = 30;

export interface MapLayout {
  /** each node's circle centre */
  positions: Map<string, Point>;
  /** Index of each node's column: 0 = pure clients (left), growing towards servers (right). */
  layers: Map<string, number>;
  /**
   * Each call's line (by edge id) as a polyline from its source's circle to just short of its target's (the arrow):
   * straight across the gaps between columns, level inside a column, through a column only where the layout left
   * room for it (so no line crosses a node); a service calling itself has none (the panel draws its loop).
   */
  routes: Map<string, Point[]>;
  width: number;
  height: number;
  /** the narrowest distance between two neighbouring columns' centres (the room a title has) */
  columnPitch: number;
}

export const LAYOUT = {
  margin: 60,
  /** least gap between two columns, and the most a long label may widen one to */
  minGap: 110,
  maxGap: 340,
  /** a gap's room beyond its widest label (the label clear of the circles on both sides) */
  labelRoom: 44,
  /** vertical room between two nodes of a column, and between lines passing through one */
  nodeGap: 20,
  lineGap: 4,
  /** between a node's box and a line passing it */
  lineClear: 12,
  /** the room under a node's circle for its title and subtitle */
  textHeight: 36,
  /** the fitted map is never enlarged past this (node and text sizes stay sane on a small map) */
  maxFit: 1.5,
};

/** The scale that fits a w × h picture in the panel, never past LAYOUT.maxFit. */
export function fitScale(w: number, h: number, panel: { width: number; height: number }): number {
  return Math.min(panel.width / w, panel.height / h, LAYOUT.maxFit);
}

/** Up to this many nodes and calls, every wrap is tried (else the wrap is estimated, then corrected once). */
const SMALL_MAP = 150;

/** A node's footprint: its circle and its title and subtitle under it (layout units, p its circle's centre). */
export function nodeBox(p: Point, n: { title: string; subtitle: string }): Box {
  const w = Math.max(NODE_RADIUS * 2, Math.max(n.title.length, n.subtitle.length) * 8);
  return { x: p.x - w / 2, y: p.y - NODE_RADIUS, w, h: NODE_RADIUS * 2 + LAYOUT.textHeight };
}

/**
 * The column of each node: the length of the longest call chain reaching it (cycles are broken at the edge that
 * closes them, found by DFS in id order), so clients sit left and the services they call sit right; inside a column
 * nodes are ordered by the mean place of their callers (ties on id: the same data always gives the same picture).
 */
function columnsOf(graph: MapGraph): { layers: Map<string, number>; columns: string[][] } {
  const ids = graph.nodes.map((n) => n.id).sort();
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  const preds = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (e.source !== e.target) {
      out.get(e.source)?.push(e.target);
      (preds.get(e.target) ?? preds.set(e.target, []).get(e.target)!).push(e.source);
    }
  }
  for (const list of out.values()) {
    list.sort();
  }

  // DFS: collect back edges (cycle closers) and a reverse post-order = topological order of the rest.
  const state = new Map<string, 1 | 2>();
  const back = new Set<string>();
  const post: string[] = [];
  const visit = (root: string) => {
    const stack: Array<{ id: string; next: number }> = [{ id: root, next: 0 }];
    state.set(root, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const succ = out.get(top.id) ?? [];
      if (top.next < succ.length) {
        const t = succ[top.next++];
        const st = state.get(t);
        if (st === 1) {
          back.add(`${top.id}\u0000${t}`);
        } else if (st === undefined) {
          state.set(t, 1);
          stack.push({ id: t, next: 0 });
        }
      } else {
        state.set(top.id, 2);
        post.push(top.id);
        stack.pop();
      }
    }
  };
  const hasIncoming = new Set(graph.edges.filter((e) => e.source !== e.target).map((e) => e.target));
  for (const id of ids.filter((i) => !hasIncoming.has(i))) {
    visit(id);
  }
  for (const id of ids) {
    if (!state.has(id)) {
      visit(id);
    }
  }
  const layers = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const id of post.reverse()) {
    for (const t of out.get(id) ?? []) {
      if (!back.has(`${id}\u0000${t}`)) {
        layers.set(t, Math.max(layers.get(t) ?? 0, (layers.get(id) ?? 0) + 1));
      }
    }
  }

  const columns: string[][] = [];
  for (const id of ids) {
    (columns[layers.get(id) ?? 0] ??= []).push(id);
  }
  const row = new Map<string, number>();
  columns.forEach((col, ci) => {
    if (ci > 0) {
      const key = (id: string) => {
        const rows = (preds.get(id) ?? []).map((p) => row.get(p)).filter((r): r is number => r !== undefined);
        return rows.length > 0 ? rows.reduce((a, b) => a + b, 0) / rows.length : Number.MAX_SAFE_INTEGER;
      };
      const keys = new Map(col.map((id) => [id, key(id)]));
      col.sort((a, b) => keys.get(a)! - keys.get(b)! || (a < b ? -1 : a > b ? 1 : 0));
    }
    col.forEach((id, ri) => row.set(id, ri));
  });
  return { layers, columns: columns.filter((c): c is string[] => Boolean(c)) };
}

/**
 * The map's picture: columns by call depth (columnsOf), a tall column (a team map of 200 nodes has columns of 60)
 * wrapped into side-by-side sub-columns so the picture, fitted to the panel, is drawn largest (a small map that
 * fits at its natural size is not wrapped: two stores called by one service would read as a chain); then each sub-column gets a slot for every line passing through it and is ordered and placed
 * (placeRows: barycentre sweeps, isotonic rows), and each line is routed through its slots, so none crosses a node
 * (dagre and elkjs were measured against this: bench/map-layout.js, README). A gap between
 * columns is as wide as the widest label of the lines crossing it (`labelWidth` of an edge, bounded), so a label
 * fits between columns.
 */
export function layoutGraph(
  graph: MapGraph,
  panel = { width: 1600, height: 900 },
  labelWidth: (e: MapEdge) => number = () => 0
): MapLayout {
  const aspect = panel.width / Math.max(1, panel.height);
  const { layers, columns } = columnsOf(graph);
  const size = new Map(graph.nodes.map((n) => [n.id, nodeBox({ x: 0, y: 0 }, n)]));
  const tallest = Math.max(1, ...columns.map((c) => c.length));
  // the wrap that lets the picture, fitted to the panel, be drawn largest; lines drawn level push nodes apart, so
  // rows come out taller than packed: by a third at first guess, then by what the first placement measured
  const wrap = (stretch: number) => {
    let best = { rows: tallest, score: Infinity, h: 0 };
    for (let rows = tallest; rows >= 1; rows--) {
      const { w, h } = estimate(graph, columns, size, rows, labelWidth);
      const score = Math.max(w / aspect, h * stretch);
      if (score < best.score - 1e-9) {
        best = { rows, score, h };
      }
    }
    return best;
  };
  const place = (rows: number) => {
    const rank = wrapRanks(columns, rows);
    const ranks = Math.max(0, ...rank.values()) + 1;
    return { rank, ranks, ...placeRows(graph, columns, rank, ranks, size) };
  };
  let placed: ReturnType<typeof place>;
  if (graph.nodes.length + graph.edges.length <= SMALL_MAP) {
    // a small map is placed at every wrap (well under a millisecond each): the one drawn largest wins
    let best: { placed: ReturnType<typeof place>; score: number } | undefined;
    let seen = -1;
    for (let rows = tallest; rows >= 1; rows--) {
      const { w } = estimate(graph, columns, size, rows, labelWidth);
      const tried = place(rows);
      if (tried.ranks === seen) {
        continue; // the same sub-columns as a taller wrap
      }
      seen = tried.ranks;
      // a wrap must draw the map a quarter larger to be worth reading a column as two
      const score = Math.max(w / aspect, tried.height + 2 * LAYOUT.margin) * (rows === tallest ? 1 : 1.25);
      if (!best || score < best.score - 1e-9) {
        best = { placed: tried, score };
      }
      if (rows === tallest && fitScale(w, tried.height + 2 * LAYOUT.margin, panel) >= 1) {
        break; // unwrapped, it is drawn at its natural size or larger
      }
    }
    placed = best!.placed;
  } else {
    const first = wrap(1.35);
    placed = place(first.rows);
    const stretch = Math.max(1, placed.height / Math.max(1, first.h));
    const second = wrap(stretch);
    if (second.rows !== first.rows) {
      placed = place(second.rows);
    }
  }
  const { rank, ranks, passage, centreY } = placed;
  // the x of each rank: the gap after a rank is as wide as the widest label of the lines crossing it
  const halfWidth = new Array<number>(ranks).fill(NODE_RADIUS);
  for (const [id, r] of rank) {
    halfWidth[r] = Math.max(halfWidth[r], size.get(id)!.w / 2);
  }
  const gap = new Array<number>(Math.max(0, ranks - 1)).fill(LAYOUT.minGap);
  for (const e of graph.edges) {
    const a = Math.min(rank.get(e.source)!, rank.get(e.target)!);
    const b = Math.max(rank.get(e.source)!, rank.get(e.target)!);
    const w = Math.min(LAYOUT.maxGap, labelWidth(e) + LAYOUT.labelRoom);
    for (let k = a; k < b; k++) {
      gap[k] = Math.max(gap[k], w);
    }
  }
  const x = new Array<number>(ranks);
  for (let k = 0; k < ranks; k++) {
    x[k] = k === 0 ? LAYOUT.margin + halfWidth[0] : x[k - 1] + halfWidth[k - 1] + gap[k - 1] + halfWidth[k];
  }
  const left = (k: number) => x[k] - halfWidth[k];
  const right = (k: number) => x[k] + halfWidth[k];

  // node centres: the circle sits at the top of the node's box
  let minY = Infinity;
  let maxY = -Infinity;
  const positions = new Map<string, Point>();
  for (const n of graph.nodes) {
    const y = centreY.get(n.id)!;
    const b = size.get(n.id)!;
    positions.set(n.id, { x: x[rank.get(n.id)!], y: y - b.h / 2 + NODE_RADIUS });
    minY = Math.min(minY, y - b.h / 2);
    maxY = Math.max(maxY, y + b.h / 2);
  }
  for (const ys of passage.values()) {
    for (const y of ys) {
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
  }
  const dy = LAYOUT.margin - minY;
  for (const p of positions.values()) {
    p.y += dy;
  }

  // where each line meets its nodes: the lines on one side of a node spread over its circle, in the order of the
  // height they go to (fewer crossings at the node), a pair of calls both ways apart
  type End = { edge: string; node: string; side: 1 | -1; toward: number };
  const ends: End[] = [];
  const sideOf = (e: MapEdge, at: 'source' | 'target'): 1 | -1 => {
    const a = rank.get(e.source)!;
    const b = rank.get(e.target)!;
    if (a === b) {
      return 1; // a call inside a column goes round its right
    }
    return (at === 'source') === a < b ? 1 : -1;
  };
  for (const e of graph.edges) {
    if (e.source === e.target) {
      continue;
    }
    const ys = (passage.get(e.id) ?? []).map((y) => y + dy);
    const forward = rank.get(e.source)! <= rank.get(e.target)!;
    const first = ys.length > 0 ? (forward ? ys[0] : ys[ys.length - 1]) : positions.get(e.target)!.y;
    const last = ys.length > 0 ? (forward ? ys[ys.length - 1] : ys[0]) : positions.get(e.source)!.y;
    ends.push({ edge: e.id, node: e.source, side: sideOf(e, 'source'), toward: first });
    ends.push({ edge: e.id, node: e.target, side: sideOf(e, 'target'), toward: last });
  }
  const port = new Map<string, number>(); // `${edge}\u0000${node}` -> vertical offset on the circle
  const bySide = new Map<string, End[]>();
  for (const end of ends) {
    const k = `${end.node}\u0000${end.side}`;
    (bySide.get(k) ?? bySide.set(k, []).get(k)!).push(end);
  }
  for (const list of bySide.values()) {
    list.sort((a, b) => a.toward - b.toward || (a.edge < b.edge ? -1 : a.edge > b.edge ? 1 : 0));
    const step = list.length > 1 ? Math.min(8, (NODE_RADIUS * 1.2) / (list.length - 1)) : 0;
    list.forEach((end, i) => port.set(`${end.edge}\u0000${end.node}`, (i - (list.length - 1) / 2) * step));
  }

  const routes = new Map<string, Point[]>();
  for (const e of graph.edges) {
    if (e.source === e.target) {
      continue;
    }
    const a = rank.get(e.source)!;
    const b = rank.get(e.target)!;
    const ps = positions.get(e.source)!;
    const pt = positions.get(e.target)!;
    const os = port.get(`${e.id}\u0000${e.source}`) ?? 0;
    const ot = port.get(`${e.id}\u0000${e.target}`) ?? 0;
    const rim = (o: number) => Math.sqrt(NODE_RADIUS * NODE_RADIUS - o * o);
    const ss = sideOf(e, 'source');
    const st = sideOf(e, 'target');
    const start = { x: ps.x + ss * rim(os), y: ps.y + os };
    const end = { x: pt.x + st * (rim(ot) + 4), y: pt.y + ot };
    const route: Point[] = [start];
    if (a === b) {
      // round the column's right edge: out level, down (or up) beside the column, back in level
      const out = right(a) + 14;
      route.push({ x: out, y: start.y }, { x: out, y: end.y });
    } else {
      const lo = Math.min(a, b);
      const hi = Math.max(a, b);
      const ys = (passage.get(e.id) ?? []).map((y) => y + dy);
      // from the lower rank's side: out of the column level, across each gap, level through each crossed column
      const along: Point[] = [];
      const yLo = a < b ? start.y : end.y;
      const yHi = a < b ? end.y : start.y;
      along.push({ x: right(lo), y: yLo });
      ys.forEach((y, i) => along.push({ x: left(lo + 1 + i), y }, { x: right(lo + 1 + i), y }));
      along.push({ x: left(hi), y: yHi });
      route.push(...(a < b ? along : along.reverse()));
    }
    route.push(end);
    routes.set(e.id, route);
  }
  const loops = graph.edges.some((e) => e.source === e.target) ? 120 : 0; // a loop reaches past its column
  const width = right(ranks - 1) + LAYOUT.margin + loops;
  const height = maxY - minY + 2 * LAYOUT.margin;
  const columnPitch = Math.min(...x.slice(1).map((v, k) => v - x[k]), Infinity);
  return { positions, layers, routes, width, height, columnPitch: Number.isFinite(columnPitch) ? columnPitch : width };
}

/** Each node's sub-column: the columns in order, each cut into sub-columns of at most `rows` nodes. */
function wrapRanks(columns: string[][], rows: number): Map<string, number> {
  const rank = new Map<string, number>();
  let next = 0;
  for (const col of columns) {
    for (let start = 0; start < col.length; start += rows) {
      col.slice(start, start + rows).forEach((id) => rank.set(id, next));
      next++;
    }
  }
  return rank;
}

const between = (a: { line: boolean }, b: { line: boolean }) =>
  a.line && b.line ? LAYOUT.lineGap : a.line || b.line ? LAYOUT.lineClear : LAYOUT.nodeGap;

/**
 * The picture's size were the columns wrapped at `rows`: each sub-column as tall as its nodes
 * and the lines passing through it, as wide as its widest node, the gaps as wide as their widest label.
 */
function estimate(
  graph: MapGraph,
  columns: string[][],
  size: Map<string, Box>,
  rows: number,
  labelWidth: (e: MapEdge) => number
): { w: number; h: number } {
  const rank = wrapRanks(columns, rows);
  const ranks = Math.max(0, ...rank.values()) + 1;
  const height = new Array<number>(ranks).fill(0);
  const width = new Array<number>(ranks).fill(NODE_RADIUS * 2);
  const gap = new Array<number>(ranks).fill(0);
  for (const [id, r] of rank) {
    height[r] += size.get(id)!.h + LAYOUT.nodeGap;
    width[r] = Math.max(width[r], size.get(id)!.w);
  }
  for (const e of graph.edges) {
    const a = Math.min(rank.get(e.source)!, rank.get(e.target)!);
    const b = Math.max(rank.get(e.source)!, rank.get(e.target)!);
    for (let k = a + 1; k < b; k++) {
      height[k] += LAYOUT.lineGap;
    }
    for (let k = a; k < b; k++) {
      gap[k] = Math.max(gap[k], Math.min(LAYOUT.maxGap, Math.max(LAYOUT.minGap, labelWidth(e) + LAYOUT.labelRoom)));
    }
  }
  const w = width.reduce((t, v) => t + v, 0) + gap.slice(0, -1).reduce((t, v) => t + Math.max(v, LAYOUT.minGap), 0);
  return { w: w + 2 * LAYOUT.margin, h: Math.max(...height) };
}

/** A node, or a line passing through a sub-column (a call from a lower to a higher one crosses all between). */
interface Slot {
  node?: string;
  edge?: string;
  line: boolean;
  /** its height: a node's box; a line takes none (the gaps around it make its room) */
  h: number;
  /** from its box's centre to where its lines attach (a node's circle centre); 0 for a line */
  attach: number;
  y: number;
  order: number;
  prev: Slot[];
  next: Slot[];
}

/**
 * The rows of a layered layout: the order of the nodes and passing lines in each sub-column (barycentre sweeps,
 * keeping the order with the fewest crossings), then their heights (each slot drawn towards the mean height of
 * what it links to, in its order and apart by the gaps: an isotonic regression by pool-adjacent-violators), so
 * lines run level where they can. Returns each passing line's heights (by edge id, sub-columns in order) and each
 * node's box centre.
 */
function placeRows(
  graph: MapGraph,
  columns: string[][],
  rank: Map<string, number>,
  ranks: number,
  size: Map<string, Box>
): { passage: Map<string, number[]>; centreY: Map<string, number>; height: number } {
  const layers: Slot[][] = Array.from({ length: ranks }, () => []);
  const slotOf = new Map<string, Slot>();
  for (const col of columns) {
    for (const id of col) {
      const b = size.get(id)!;
      const slot: Slot = {
        node: id,
        line: false,
        h: b.h,
        attach: b.h / 2 - NODE_RADIUS,
        y: 0,
        order: 0,
        prev: [],
        next: [],
      };
      slotOf.set(id, slot);
      layers[rank.get(id)!].push(slot);
    }
  }
  const chains = new Map<string, Slot[]>();
  const sorted = [...graph.edges].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const e of sorted) {
    const [lo, hi] = [e.source, e.target].sort((a, b) => rank.get(a)! - rank.get(b)!);
    const a = rank.get(lo)!;
    const b = rank.get(hi)!;
    if (a === b) {
      continue;
    }
    let last = slotOf.get(lo)!;
    const chain: Slot[] = [];
    for (let k = a + 1; k <= b; k++) {
      const slot: Slot =
        k === b ? slotOf.get(hi)! : { edge: e.id, line: true, h: 0, attach: 0, y: 0, order: 0, prev: [], next: [] };
      if (k < b) {
        chain.push(slot);
        layers[k].push(slot);
      }
      last.next.push(slot);
      slot.prev.push(last);
      last = slot;
    }
    chains.set(e.id, chain);
  }

  // order: the nodes as the columns have them, a passing line after what it comes from; then barycentre sweeps
  const number = (layer: Slot[]) => layer.forEach((s, i) => (s.order = i));
  const sortBy = (layer: Slot[], key: (s: Slot) => number | undefined) => {
    const keys = new Map(layer.map((s) => [s, key(s) ?? s.order]));
    layer.sort((p, q) => keys.get(p)! - keys.get(q)! || p.order - q.order);
    number(layer);
  };
  const mean = (list: Slot[]) => (list.length ? list.reduce((t, s) => t + s.order, 0) / list.length : undefined);
  number(layers[0]);
  for (let k = 1; k < ranks; k++) {
    const nodesFirst = layers[k].map((s, i) => (s.line ? mean(s.prev) : undefined) ?? i);
    layers[k].forEach((s, i) => (s.order = nodesFirst[i]));
    sortBy(layers[k], (s) => (s.line ? mean(s.prev) : s.order));
  }
  const crossings = () => {
    let n = 0;
    for (let k = 0; k + 1 < ranks; k++) {
      const links = layers[k].flatMap((s) => s.next.map((t) => [s.order, t.order]));
      for (let i = 0; i < links.length; i++) {
        for (let j = i + 1; j < links.length; j++) {
          n += (links[i][0] - links[j][0]) * (links[i][1] - links[j][1]) < 0 ? 1 : 0;
        }
      }
    }
    return n;
  };
  let fewest = crossings();
  let kept = layers.map((l) => [...l]);
  for (let sweep = 0; sweep < 8 && fewest > 0; sweep++) {
    if (sweep % 2 === 0) {
      for (let k = 1; k < ranks; k++) {
        sortBy(layers[k], (s) => mean(s.prev));
      }
    } else {
      for (let k = ranks - 2; k >= 0; k--) {
        sortBy(layers[k], (s) => mean(s.next));
      }
    }
    const n = crossings();
    if (n < fewest) {
      fewest = n;
      kept = layers.map((l) => [...l]);
    }
  }
  kept.forEach((l, k) => {
    layers[k] = l;
    number(l);
  });

  // heights: stacked first, then each slot towards its links' mean, in order and apart
  for (const layer of layers) {
    let y = 0;
    layer.forEach((s, i) => {
      y += i === 0 ? s.h / 2 : layer[i - 1].h / 2 + between(layer[i - 1], s) + s.h / 2;
      s.y = y;
    });
    const mid = y / 2;
    layer.forEach((s) => (s.y -= mid));
  }
  const lineY = (s: Slot) => s.y - s.attach;
  for (let round = 0; round < 12; round++) {
    const order = round % 2 === 0 ? layers : [...layers].reverse();
    for (const layer of order) {
      const want = layer.map((s) => {
        const links = [...s.prev, ...s.next];
        return links.length ? links.reduce((t, o) => t + lineY(o), 0) / links.length + s.attach : s.y;
      });
      const placed = isotonic(
        want,
        layer.map((s, i) => (i === 0 ? 0 : layer[i - 1].h / 2 + between(layer[i - 1], s) + s.h / 2))
      );
      layer.forEach((s, i) => (s.y = placed[i]));
    }
  }
  const passage = new Map<string, number[]>();
  for (const [id, chain] of chains) {
    passage.set(
      id,
      chain.map((s) => s.y)
    );
  }
  const centreY = new Map([...slotOf].map(([id, s]) => [id, s.y]));
  const tops = layers.flat().map((s) => s.y - s.h / 2);
  const bottoms = layers.flat().map((s) => s.y + s.h / 2);
  return { passage, centreY, height: Math.max(0, ...bottoms) - Math.min(0, ...tops) };
}

/**
 * The heights nearest `want` (least squares) that keep their order with at least `gap[i]` between i-1 and i:
 * shifted by the gaps it is an isotonic regression, solved by pool-adjacent-violators in linear time.
 */
export function isotonic(want: number[], gap: number[]): number[] {
  const offset: number[] = [];
  want.forEach((_, i) => offset.push(i === 0 ? 0 : offset[i - 1] + gap[i]));
  const blocks: Array<{ sum: number; n: number }> = [];
  for (let i = 0; i < want.length; i++) {
    blocks.push({ sum: want[i] - offset[i], n: 1 });
    while (blocks.length > 1) {
      const b = blocks[blocks.length - 1];
      const a = blocks[blocks.length - 2];
      if (a.sum / a.n <= b.sum / b.n) {
        break;
      }
      a.sum += b.sum;
      a.n += b.n;
      blocks.pop();
    }
  }
  const out: number[] = [];
  for (const b of blocks) {
    for (let j = 0; j < b.n; j++) {
      out.push(b.sum / b.n + offset[out.length]);
    }
  }
  return out;
}

/** One part of an edge's time bar: where that share of the call's latency is spent. */
export interface SplitSegment {
  part: 'client' | 'network' | 'server';
  x: number;
  width: number;
  ms: number;
}

/**
 * The time bar under an edge's label: `width` px cut into the client's, the path's and the server's share of the
 * call's time, in the order a request crosses them, each at least `minWidth` px when it holds any time (so a
 * 0.1 ms client share next to a 50 ms server stays visible); parts the points cannot bound are left out.
 */
export function splitSegments(
  split: { client?: number; network?: number; server?: number },
  width: number,
  minWidth = 2
): SplitSegment[] {
  const parts = (['client', 'network', 'server'] as const)
    .map((part) => ({ part, ms: split[part] }))
    .filter((p): p is { part: SplitSegment['part']; ms: number } => p.ms !== undefined && p.ms >= 0);
  const total = parts.reduce((a, p) => a + p.ms, 0);
  if (total <= 0) {
    return [];
  }
  const shown = parts.filter((p) => p.ms > 0);
  const floor = shown.length * minWidth;
  const rest = Math.max(0, width - floor);
  let x = 0;
  return shown.map((p) => {
    const w = minWidth + (rest * p.ms) / total;
    const seg = { part: p.part, x, width: w, ms: p.ms };
    x += w;
    return seg;
  });
}
