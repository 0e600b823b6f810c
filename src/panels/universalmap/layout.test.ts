import { layoutGraph } from './layout';
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
});
