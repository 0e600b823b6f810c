import { isotonic, layoutGraph, nodeBox, splitSegments } from './layout';
import { measureMap } from './quality';
import type { MapEdge, MapGraph, MapNode } from './graph';

const node = (id: string): MapNode => ({ id, title: id, subtitle: '', mainstat: '', secondarystat: '', details: [] });
const edge = (source: string, target: string): MapEdge => ({
  id: `${source}->${target}`,
  source,
  target,
  mainstat: '',
  secondarystat: '',
  details: [],
});

describe('layoutGraph', () => {
  it('puts each node one column right of its deepest caller', () => {
    const g: MapGraph = {
      nodes: ['a', 'b', 'c', 'd'].map(node),
      edges: [edge('a', 'b'), edge('b', 'c'), edge('a', 'c'), edge('c', 'd')],
    };
    const { layers } = layoutGraph(g);
    expect(Object.fromEntries(layers)).toEqual({ a: 0, b: 1, c: 2, d: 3 });
  });

  it('terminates on cycles and is deterministic', () => {
    const g: MapGraph = { nodes: ['x', 'y', 'z'].map(node), edges: [edge('x', 'y'), edge('y', 'z'), edge('z', 'x')] };
    const first = layoutGraph(g);
    const again = layoutGraph({ nodes: [...g.nodes].reverse(), edges: [...g.edges].reverse() });
    expect(Object.fromEntries(first.positions)).toEqual(Object.fromEntries(again.positions));
    expect(new Set(first.layers.values()).size).toBe(3);
  });

  it('keeps two stores called by one service in one column in a wide panel (no call drawn through a node)', () => {
    // the data team's map: backend calls postgres and redis; a 1590 × 560 panel fits it unwrapped at the largest scale
    const g: MapGraph = {
      nodes: ['backend', 'postgres', 'redis'].map(node),
      edges: [edge('backend', 'postgres'), edge('backend', 'redis')],
    };
    const { positions } = layoutGraph(g, { width: 1590, height: 560 });
    const at = (id: string) => positions.get(id)!;
    expect(at('postgres').x).toBe(at('redis').x);
    expect(at('postgres').y).not.toBe(at('redis').y);
    expect(at('backend').x).toBeLessThan(at('postgres').x);
    // the same in a short panel (the service overview's map): unwrapped it is still drawn at its natural size
    const short = layoutGraph(
      { nodes: ['frontend', ...g.nodes.map((n) => n.id)].map(node), edges: [edge('frontend', 'backend'), ...g.edges] },
      { width: 1590, height: 330 }
    ).positions;
    expect(short.get('postgres')!.x).toBe(short.get('redis')!.x);
  });
});

/** The counts of quality.ts over a layout's routes (no labels). */
function quality(g: MapGraph, panel = { width: 1600, height: 900 }) {
  const layout = layoutGraph(g, panel);
  return {
    layout,
    q: measureMap({
      nodes: g.nodes.map((n) => ({ id: n.id, box: nodeBox(layout.positions.get(n.id)!, n) })),
      edges: g.edges
        .filter((e) => layout.routes.has(e.id))
        .map((e) => ({ id: e.id, source: e.source, target: e.target, points: layout.routes.get(e.id)! })),
      labels: [],
    }),
  };
}

describe('routes', () => {
  it('a call that skips a column runs past the nodes of that column, not through them', () => {
    // a -> d skips b's and c's columns: straight, it would cross them (they sit level with a and d)
    const g: MapGraph = {
      nodes: ['a', 'b', 'c', 'd'].map(node),
      edges: [edge('a', 'b'), edge('b', 'c'), edge('c', 'd'), edge('a', 'd')],
    };
    const { layout, q } = quality(g);
    expect(q).toEqual({ crossings: 0, edgesThroughNodes: 0, labelNodeOverlaps: 0, labelLabelOverlaps: 0 });
    const route = layout.routes.get('a->d')!;
    // it leaves a's circle (radius 30) on its right and ends 4 units short of d's left (the arrow)
    const a = layout.positions.get('a')!;
    const d = layout.positions.get('d')!;
    expect(Math.hypot(route[0].x - a.x, route[0].y - a.y)).toBeCloseTo(30, 6);
    expect(route[0].x).toBeGreaterThan(a.x);
    expect(route[route.length - 1].x).toBeLessThan(d.x - 30);
  });

  it('calls back to a lower column, both ways between two services and inside one column avoid every node', () => {
    const g: MapGraph = {
      nodes: ['gw', 'api', 'db', 'cache', 'worker', 'x'].map(node),
      edges: [
        edge('gw', 'api'),
        edge('api', 'db'),
        edge('api', 'cache'),
        edge('cache', 'api'), // both ways
        edge('db', 'gw'), // back to the first column
        edge('worker', 'db'),
        edge('x', 'gw'),
        edge('x', 'cache'),
      ],
    };
    const { layout, q } = quality(g);
    expect(q.edgesThroughNodes).toBe(0);
    // the two directions between api and cache do not share a line
    const there = layout.routes.get('api->cache')!;
    const back = layout.routes.get('cache->api')!;
    expect(there[0].y).not.toBeCloseTo(back[back.length - 1].y, 1);
  });
});

describe('isotonic', () => {
  it('keeps the order and the gaps, nearest what each wants', () => {
    expect(isotonic([0, 0, 0], [0, 10, 10])).toEqual([-10, 0, 10]);
    expect(isotonic([5, 100], [0, 10])).toEqual([5, 100]);
    expect(isotonic([30, 0], [0, 10])).toEqual([10, 20]);
  });
});

describe('splitSegments', () => {
  it('cuts the bar by where the time goes, in the order a request crosses the points', () => {
    // the 50 ms proxy hop as the plugin binary splits it: 0.15 ms in curl, 0.34 on the path, 51.9 in the proxy
    const segs = splitSegments({ client: 0.15, network: 0.34, server: 51.94 }, 64);
    expect(segs.map((g) => g.part)).toEqual(['client', 'network', 'server']);
    // each part at least 2 px; the rest shared by time: the server holds nearly all of it
    expect(segs[0].width).toBeCloseTo(2 + (58 * 0.15) / 52.43, 6);
    expect(segs[2].width).toBeCloseTo(2 + (58 * 51.94) / 52.43, 6);
    expect(segs.reduce((a, g) => a + g.width, 0)).toBeCloseTo(64, 6);
    // contiguous, left to right
    expect(segs[1].x).toBeCloseTo(segs[0].width, 6);
    expect(segs[2].x).toBeCloseTo(segs[0].width + segs[1].width, 6);
  });

  it('leaves out parts without time or without the points that bound them', () => {
    expect(
      splitSegments({ network: 0.044, server: 0.894 }, 64).map((g) => [g.part, Math.round(g.width * 10) / 10])
    ).toEqual([
      ['network', 4.8],
      ['server', 59.2],
    ]);
    expect(splitSegments({ client: 0, network: 1, server: 3 }, 40).map((g) => g.part)).toEqual(['network', 'server']);
    expect(splitSegments({ client: 0, network: 0, server: 0 }, 40)).toEqual([]);
    expect(splitSegments({}, 40)).toEqual([]);
  });
});
