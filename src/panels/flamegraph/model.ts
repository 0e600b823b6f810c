import type { DataFrame, Field } from '@grafana/data';

/**
 * The flame graph as a tree read from Grafana's flame graph frame (level, value, self, label, and for a diff
 * valueRight, selfRight: rows in depth-first order, a row's parent the last row one level up). Every view of the
 * panel (the graph, focus, sandwich, top functions, search, diff colours) is a transform of this tree.
 */
export interface FlameNode {
  label: string;
  /** depth below the tree's root (0) */
  level: number;
  /** inclusive and self value of the left (or only) profile: a diff's baseline */
  value: number;
  self: number;
  /** a diff's comparison (right) profile; 0 when not a diff */
  valueRight: number;
  selfRight: number;
  /** index of the parent node, -1 for the root */
  parent: number;
  children: number[];
}

export interface FlameTree {
  nodes: FlameNode[];
  diff: boolean;
  /** the value fields' unit (`short`: samples, `ns`: time blocked) */
  unit: string;
}

/** The width a node takes: both profiles of a diff, as Grafana lays a diff out. */
export function widthOf(n: FlameNode): number {
  return n.value + n.valueRight;
}

function numbers(f: Field | undefined): number[] | undefined {
  return f ? (Array.from(f.values as ArrayLike<unknown>, (v) => Number(v) || 0) as number[]) : undefined;
}

/** Reads the frame, or undefined when it is not a flame graph frame (no level/value/self/label fields). */
export function treeFromFrame(frame: DataFrame): FlameTree | undefined {
  const by = (name: string) => frame.fields.find((f) => f.name === name);
  const levels = numbers(by('level'));
  const values = numbers(by('value'));
  const selfs = numbers(by('self'));
  const labelField = by('label');
  if (!levels || !values || !selfs || !labelField) {
    return undefined;
  }
  const labels = Array.from(labelField.values as ArrayLike<unknown>, (v) => String(v ?? ''));
  const valuesRight = numbers(by('valueRight'));
  const selfsRight = numbers(by('selfRight'));
  const diff = Boolean(valuesRight && selfsRight);
  const nodes: FlameNode[] = [];
  const path: number[] = []; // path[level] = the last node seen at that level
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level > path.length || (level === 0 && i > 0)) {
      // a row deeper than one below its predecessor, or a second root: not a nested set
      return undefined;
    }
    const parent = level === 0 ? -1 : path[level - 1];
    path.length = level;
    path.push(i);
    nodes.push({
      label: labels[i],
      level,
      value: values[i],
      self: selfs[i],
      valueRight: diff ? valuesRight![i] : 0,
      selfRight: diff ? selfsRight![i] : 0,
      parent,
      children: [],
    });
    if (parent >= 0) {
      nodes[parent].children.push(i);
    }
  }
  return { nodes, diff, unit: by('value')?.config?.unit ?? 'short' };
}

/** True when an ancestor of node i has the same label (a recursive call, already counted by that ancestor). */
function hasAncestorLabelled(tree: FlameTree, i: number): boolean {
  const label = tree.nodes[i].label;
  for (let p = tree.nodes[i].parent; p >= 0; p = tree.nodes[p].parent) {
    if (tree.nodes[p].label === label) {
      return true;
    }
  }
  return false;
}

/** Copies the subtree of `src` (node i) under `dst` node `parent` at `level`, merging children by label. */
function mergeSubtree(dst: FlameNode[], parent: number, tree: FlameTree, i: number) {
  const n = tree.nodes[i];
  let at = dst[parent].children.find((c) => dst[c].label === n.label);
  if (at === undefined) {
    at = dst.length;
    dst.push({
      ...n,
      level: dst[parent].level + 1,
      value: 0,
      self: 0,
      valueRight: 0,
      selfRight: 0,
      parent,
      children: [],
    });
    dst[parent].children.push(at);
  }
  const d = dst[at];
  d.value += n.value;
  d.self += n.self;
  d.valueRight += n.valueRight;
  d.selfRight += n.selfRight;
  for (const c of n.children) {
    mergeSubtree(dst, at, tree, c);
  }
}

/** Renumbers a tree built out of order into depth-first order, children by label as the backend orders them. */
function depthFirst(nodes: FlameNode[], root: number): FlameNode[] {
  const out: FlameNode[] = [];
  const walk = (i: number, parent: number) => {
    const at = out.length;
    const n = nodes[i];
    out.push({ ...n, level: parent < 0 ? 0 : out[parent].level + 1, parent, children: [] });
    if (parent >= 0) {
      out[parent].children.push(at);
    }
    const kids = [...n.children].sort((a, b) =>
      nodes[a].label < nodes[b].label ? -1 : nodes[a].label > nodes[b].label ? 1 : 0
    );
    for (const c of kids) {
      walk(c, at);
    }
  };
  walk(root, -1);
  return out;
}

/**
 * Focus on node i: its ancestors stay above it as a path of full-width frames (each carrying i's values) and its
 * subtree fills the width; everything else is left out. Returns the new tree and the focused node's index in it.
 */
export function focusTree(tree: FlameTree, i: number): { tree: FlameTree; focused: number } {
  const chain: number[] = [];
  for (let p = tree.nodes[i].parent; p >= 0; p = tree.nodes[p].parent) {
    chain.unshift(p);
  }
  const f = tree.nodes[i];
  const nodes: FlameNode[] = chain.map((a, k) => ({
    ...tree.nodes[a],
    level: k,
    value: f.value,
    self: 0,
    valueRight: f.valueRight,
    selfRight: 0,
    parent: k - 1,
    children: [],
  }));
  nodes.forEach((n, k) => {
    if (k > 0) {
      nodes[k - 1].children.push(k);
    }
  });
  const focused = nodes.length;
  const copy = (src: number, parent: number) => {
    const at = nodes.length;
    const n = tree.nodes[src];
    nodes.push({ ...n, level: parent < 0 ? 0 : nodes[parent].level + 1, parent, children: [] });
    if (parent >= 0) {
      nodes[parent].children.push(at);
    }
    for (const c of n.children) {
      copy(c, at);
    }
  };
  copy(i, focused - 1);
  return { tree: { ...tree, nodes }, focused };
}

/**
 * The sandwich view of a function: its callees (every call of it merged into one subtree under it) and its
 * callers (the paths that lead to it, upside down: the function at the root, each caller a level further).
 * A recursive call is counted once, at its outermost frame. Undefined when no frame has the label.
 */
export function sandwich(tree: FlameTree, label: string): { callers: FlameTree; callees: FlameTree } | undefined {
  const calls = tree.nodes
    .map((_, i) => i)
    .filter((i) => tree.nodes[i].label === label && !hasAncestorLabelled(tree, i));
  if (calls.length === 0) {
    return undefined;
  }
  const root = (): FlameNode => ({
    label,
    level: 0,
    value: 0,
    self: 0,
    valueRight: 0,
    selfRight: 0,
    parent: -1,
    children: [],
  });
  const callees: FlameNode[] = [root()];
  const callers: FlameNode[] = [root()];
  for (const i of calls) {
    const n = tree.nodes[i];
    callees[0].value += n.value;
    callees[0].valueRight += n.valueRight;
    callees[0].self += n.self;
    callees[0].selfRight += n.selfRight;
    for (const c of n.children) {
      mergeSubtree(callees, 0, tree, c);
    }
    callers[0].value += n.value;
    callers[0].valueRight += n.valueRight;
    let at = 0;
    for (let p = n.parent; p >= 0; p = tree.nodes[p].parent) {
      const pl = tree.nodes[p].label;
      let next = callers[at].children.find((c) => callers[c].label === pl);
      if (next === undefined) {
        next = callers.length;
        callers.push({ ...root(), label: pl, level: callers[at].level + 1, parent: at });
        callers[at].children.push(next);
      }
      callers[next].value += n.value;
      callers[next].valueRight += n.valueRight;
      at = next;
    }
    // the outermost caller is where this path ends: its self is the call's value
    callers[at].self += n.value;
    callers[at].selfRight += n.valueRight;
  }
  return {
    callers: { ...tree, nodes: depthFirst(callers, 0) },
    callees: { ...tree, nodes: depthFirst(callees, 0) },
  };
}

export interface TopFunction {
  label: string;
  self: number;
  /** inclusive: the value of every outermost frame with the label (a recursive call is not counted twice) */
  total: number;
  selfRight: number;
  totalRight: number;
}

/** Functions by self value (then total), the root left out. */
export function topFunctions(tree: FlameTree): TopFunction[] {
  const by = new Map<string, TopFunction>();
  tree.nodes.forEach((n, i) => {
    if (n.parent < 0) {
      return;
    }
    let t = by.get(n.label);
    if (!t) {
      t = { label: n.label, self: 0, total: 0, selfRight: 0, totalRight: 0 };
      by.set(n.label, t);
    }
    t.self += n.self;
    t.selfRight += n.selfRight;
    if (!hasAncestorLabelled(tree, i)) {
      t.total += n.value;
      t.totalRight += n.valueRight;
    }
  });
  const key = (t: TopFunction) => [t.self + t.selfRight, t.total + t.totalRight];
  return Array.from(by.values()).sort((a, b) => {
    const [as, at] = key(a);
    const [bs, bt] = key(b);
    return bs - as || bt - at || a.label.localeCompare(b.label);
  });
}

/** Indexes of the nodes whose label holds `text` (any case); none for an empty text. */
export function searchNodes(tree: FlameTree, text: string): Set<number> {
  const q = text.trim().toLowerCase();
  const out = new Set<number>();
  if (!q) {
    return out;
  }
  tree.nodes.forEach((n, i) => {
    if (n.label.toLowerCase().includes(q)) {
      out.add(i);
    }
  });
  return out;
}

/** The share of the root's width the matches take (outermost matches only, so nested ones are not counted twice). */
export function matchedShare(tree: FlameTree, matches: ReadonlySet<number>): number {
  const root = tree.nodes[0];
  if (!root || widthOf(root) === 0) {
    return 0;
  }
  let sum = 0;
  for (const i of matches) {
    let inner = false;
    for (let p = tree.nodes[i].parent; p >= 0 && !inner; p = tree.nodes[p].parent) {
      inner = matches.has(p);
    }
    if (!inner) {
      sum += widthOf(tree.nodes[i]);
    }
  }
  return sum / widthOf(root);
}

/**
 * The change of a share from the baseline (left) to the comparison (right), relative, in percent: +100 = twice the
 * share, -50 = half, Infinity = only in the comparison, -100 = gone, 0 when absent from both.
 */
export function shareChange(left: number, right: number): number {
  if (left === 0) {
    return right === 0 ? 0 : Infinity;
  }
  return ((right - left) / left) * 100;
}

/** A value's share of the root's value on one side of a diff (0 when that side is empty). */
function shareOf(v: number, rootValue: number): number {
  return rootValue > 0 ? v / rootValue : 0;
}

/**
 * A diff node's change: its share of the comparison (right) profile against its share of the baseline (left)
 * (shareChange). 0 for a tree that is not a diff.
 */
export function diffChange(tree: FlameTree, i: number): number {
  const root = tree.nodes[0];
  const n = tree.nodes[i];
  if (!tree.diff || !root || !n) {
    return 0;
  }
  return shareChange(shareOf(n.value, root.value), shareOf(n.valueRight, root.valueRight));
}

/**
 * Each function's change in a diff: the change of its total's share (every stack it sits in, a recursive call
 * counted once), so every frame of a function reads the same change wherever it appears (real profiles hold a
 * function under several stack variants: `_start`-rooted and `__libc_start_call_main`-rooted ones).
 */
export function functionChanges(tree: FlameTree): Map<string, number> {
  const out = new Map<string, number>();
  const root = tree.nodes[0];
  if (!tree.diff || !root) {
    return out;
  }
  out.set(root.label, 0);
  for (const f of topFunctions(tree)) {
    out.set(f.label, shareChange(shareOf(f.total, root.value), shareOf(f.totalRight, root.valueRight)));
  }
  return out;
}

/** Where a frame runs. Kernel frames follow the user frames in a stack (the agent writes user frames, then kernel). */
export type FrameKind = 'user' | 'kernel' | 'unsymbolized' | 'marker';

/** Where the kernel part of a stack starts: a syscall or interrupt entry, a kernel thread's start, a raw kernel address. */
const KERNEL_ENTRY =
  /^(entry_SYSCALL|entry_INT80|do_syscall_64|x64_sys_call|__x64_sys_|__ia32_sys_|asm_(exc|sysvec|common|spurious)_|common_interrupt|ret_from_fork|irq_entries_start|\[kernel\] 0x|\[kernel stack unavailable\])/;
/** A frame the agent could not name: `module+0xoffset` (an ELF address for addr2line) or `[unknown] 0x…`. */
const UNSYMBOLIZED = /(\+0x[0-9a-f]+$)|(^\[unknown\] 0x[0-9a-f]+$)|(^\[kernel\] 0x[0-9a-f]+$)/i;
/** The agent's bracketed marker frames: `[no stack]`, `[truncated]`, `[other stacks: row limit]`, ... */
const MARKER = /^\[[^\]]*\]$/;

/** The kind of every node: a node under a kernel frame is a kernel frame. */
export function frameKinds(tree: FlameTree): FrameKind[] {
  const inKernel: boolean[] = [];
  return tree.nodes.map((n, i) => {
    const kernel = (n.parent >= 0 && inKernel[n.parent]) || KERNEL_ENTRY.test(n.label);
    inKernel[i] = kernel;
    if (UNSYMBOLIZED.test(n.label)) {
      return 'unsymbolized';
    }
    if (n.parent >= 0 && MARKER.test(n.label)) {
      return 'marker';
    }
    return kernel ? 'kernel' : 'user';
  });
}

/** `module+0xoffset` with the module's directory left out (the full path stays in the tooltip). */
export function shortLabel(label: string): string {
  const m = /^(.*\/)([^/]+\+0x[0-9a-f]+)$/i.exec(label);
  return m ? m[2] : label;
}

/** One drawn frame: x and width are fractions of the graph's width. */
export interface FlameRect {
  index: number;
  level: number;
  x: number;
  width: number;
}

/**
 * Places the nodes: each node's children side by side from its left edge, in the frame's order; nodes narrower
 * than `minWidth` (a fraction of the width) are not drawn, nor anything below them.
 */
export function layoutTree(tree: FlameTree, minWidth = 0): FlameRect[] {
  const out: FlameRect[] = [];
  const root = tree.nodes[0];
  if (!root) {
    return out;
  }
  const total = widthOf(root) || 1;
  const place = (i: number, x: number) => {
    const n = tree.nodes[i];
    const width = widthOf(n) / total;
    if (i !== 0 && width < minWidth) {
      return;
    }
    out.push({ index: i, level: n.level, x, width });
    let cx = x;
    for (const c of n.children) {
      place(c, cx);
      cx += widthOf(tree.nodes[c]) / total;
    }
  };
  place(0, 0);
  return out;
}

/** The deepest level of a tree. */
export function depthOf(tree: FlameTree): number {
  let d = 0;
  for (const n of tree.nodes) {
    d = Math.max(d, n.level);
  }
  return d;
}
