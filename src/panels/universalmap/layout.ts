import type { MapGraph } from './graph';

export interface Point {
  x: number;
  y: number;
}

export interface MapLayout {
  positions: Map<string, Point>;
  /** Index of each node's column: 0 = pure clients (left), growing towards servers (right). */
  layers: Map<string, number>;
  width: number;
  height: number;
}

export const LAYOUT = {
  columnGap: 260,
  rowGap: 120,
  margin: 90,
  /** between the sub-columns a tall column is wrapped into (room for a node's title) */
  wrapGap: 190,
  /** the fitted map is never enlarged past this (node and text sizes stay sane on a small map) */
  maxFit: 1.5,
};

/**
 * Deterministic layered layout: a node's column is the length of the longest call chain reaching it
 * (cycles are broken at the edge that closes them, found by DFS in id order), so clients sit left
 * and the services they call sit right. Rows inside a column follow the mean row of their callers,
 * which keeps edges short; ties break on id so the same data always gives the same picture.
 */
export function layoutGraph(graph: MapGraph, panel = { width: 1600, height: 900 }): MapLayout {
  const ids = graph.nodes.map((n) => n.id).sort();
  const out = new Map<string, string[]>();
  for (const id of ids) {
    out.set(id, []);
  }
  for (const e of graph.edges) {
    if (e.source !== e.target) {
      out.get(e.source)?.push(e.target);
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
  const topo = post.reverse();

  const layers = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const id of topo) {
    for (const t of out.get(id) ?? []) {
      if (!back.has(`${id}\u0000${t}`)) {
        layers.set(t, Math.max(layers.get(t) ?? 0, (layers.get(id) ?? 0) + 1));
      }
    }
  }

  const columns: string[][] = [];
  for (const id of ids) {
    const l = layers.get(id) ?? 0;
    (columns[l] ??= []).push(id);
  }

  const preds = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (e.source !== e.target) {
      (preds.get(e.target) ?? preds.set(e.target, []).get(e.target)!).push(e.source);
    }
  }
  const row = new Map<string, number>();
  columns.forEach((col, ci) => {
    if (!col) {
      return;
    }
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

  // A tall column (many services called from the same depth: a team map of 200 nodes has columns of 60) is wrapped
  // into side-by-side sub-columns of at most `rows`, only when the map would otherwise be drawn below its natural
  // size: then as little as brings it to that size, else so that, fitted to the panel, its nodes and titles are
  // largest. (A wrapped column's nodes sit side by side: a call to the second of two stores would be drawn through
  // the first, so a small map is never wrapped.)
  const filled = columns.filter((c): c is string[] => Boolean(c));
  const tallestColumn = Math.max(1, ...filled.map((c) => c.length));
  const shape = (rows: number) => {
    const sub = filled.reduce((n, c) => n + Math.ceil(c.length / rows), 0);
    const w =
      LAYOUT.margin * 2 + Math.max(0, filled.length - 1) * LAYOUT.columnGap + (sub - filled.length) * LAYOUT.wrapGap;
    const h = LAYOUT.margin * 2 + (rows - 1) * LAYOUT.rowGap;
    return { w, h, fit: fitScale(w, h, panel) };
  };
  let rows = tallestColumn;
  while (rows > 1 && shape(rows).fit < 1) {
    rows--;
  }
  if (shape(rows).fit < 1) {
    rows = tallestColumn;
    for (let r = tallestColumn - 1; r >= 1; r--) {
      if (shape(r).fit > shape(rows).fit * (1 + 1e-9)) {
        rows = r;
      }
    }
  }
  const { w: width, h: height } = shape(rows);
  const positions = new Map<string, Point>();
  let x = LAYOUT.margin;
  filled.forEach((col, ci) => {
    if (ci > 0) {
      x += LAYOUT.columnGap;
    }
    for (let start = 0; start < col.length; start += rows) {
      if (start > 0) {
        x += LAYOUT.wrapGap;
      }
      const part = col.slice(start, start + rows);
      // centre short (sub-)columns vertically
      const offset = ((rows - part.length) * LAYOUT.rowGap) / 2;
      part.forEach((id, ri) => positions.set(id, { x, y: LAYOUT.margin + offset + ri * LAYOUT.rowGap }));
    }
  });
  return { positions, layers, width, height };
}

/** The scale that fits a w × h picture in the panel, never past LAYOUT.maxFit. */
export function fitScale(w: number, h: number, panel: { width: number; height: number }): number {
  return Math.min(panel.width / w, panel.height / h, LAYOUT.maxFit);
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
