import React from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';
import { createDataFrame, createTheme, FieldType, type DataFrame } from '@grafana/data';
import { panelProps } from '../testPanelProps';
import { UniversalMapPanel } from './UniversalMapPanel';
import { placeLabels } from './labels';
import { layoutGraph, nodeBox } from './layout';
import { buildGraph, type MapGraph } from './graph';
import { measureMap } from './quality';
import { edgeLabel, edgeShapes, plateWidth } from './shapes';
import { DEFAULT_OPTIONS, type UniversalMapOptions } from './types';
import { mapFrames } from './testFrames';

/** A team-scale map: `clients` callers spread over `services` servers that call `dbs` stores (the backend's frames). */
export function bigMap(clients: number, services: number, dbs: number): DataFrame[] {
  const ids = [
    ...Array.from({ length: clients }, (_, i) => `client-${i}`),
    ...Array.from({ length: services }, (_, i) => `service-${i}`),
    ...Array.from({ length: dbs }, (_, i) => `db-${i}`),
  ];
  const src: string[] = [];
  const dst: string[] = [];
  for (let i = 0; i < clients; i++) {
    src.push(`client-${i}`, `client-${i}`);
    dst.push(`service-${i % services}`, `service-${(i * 7 + 3) % services}`);
  }
  for (let i = 0; i < services; i++) {
    src.push(`service-${i}`);
    dst.push(`db-${i % dbs}`);
  }
  const nodes = createDataFrame({
    name: 'nodes',
    fields: [
      { name: 'id', type: FieldType.string, values: ids },
      { name: 'title', type: FieldType.string, values: ids },
      { name: 'mainstat', type: FieldType.number, values: ids.map((_, i) => i % 13), config: { unit: 'reqps' } },
    ],
  });
  const edges = createDataFrame({
    name: 'edges',
    fields: [
      { name: 'id', type: FieldType.string, values: src.map((s, i) => `${s}->${dst[i]}`) },
      { name: 'source', type: FieldType.string, values: src },
      { name: 'target', type: FieldType.string, values: dst },
      { name: 'mainstat', type: FieldType.number, values: src.map((_, i) => 1 + (i % 50)), config: { unit: 'reqps' } },
      {
        name: 'secondarystat',
        type: FieldType.number,
        values: src.map((_, i) => 2 + (i % 30)),
        config: { unit: 'ms' },
      },
    ],
  });
  return [nodes, edges];
}

function props(series: DataFrame[], size = { width: 1600, height: 600 }) {
  const p = panelProps<UniversalMapOptions>(series, { ...DEFAULT_OPTIONS }, { title: 'Universal Map' });
  return { ...p, ...size };
}

const overlap = (a: DOMRectLike, b: DOMRectLike) =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
interface DOMRectLike {
  x: number;
  y: number;
  w: number;
  h: number;
}

describe('the Universal Map at team scale', () => {
  it('wraps tall columns so a 200-node map takes the panel shape, every node apart', () => {
    const { nodes, edges } = { nodes: bigMap(100, 80, 20)[0], edges: bigMap(100, 80, 20)[1] };
    const graph: MapGraph = {
      nodes: (nodes.fields[0].values as string[]).map((id) => ({
        id,
        title: id,
        subtitle: '',
        mainstat: '',
        secondarystat: '',
        details: [],
      })),
      edges: (edges.fields[1].values as string[]).map((s, i) => ({
        id: String(i),
        source: s,
        target: edges.fields[2].values[i] as string,
        mainstat: '',
        secondarystat: '',
        details: [],
      })),
    };
    const layout = layoutGraph(graph, { width: 1600, height: 600 });
    expect(layout.positions.size).toBe(200);
    // without wrapping it would be 100 rows tall (12,000 units for 3 columns); wrapped, near the panel's 2.67
    expect(layout.width / layout.height).toBeGreaterThan(1.8);
    expect(layout.width / layout.height).toBeLessThan(4);
    const seen = new Set([...layout.positions.values()].map((p) => `${p.x},${p.y}`));
    expect(seen.size).toBe(200);
    // clients still left of the services they call, services left of the stores
    const x = (id: string) => layout.positions.get(id)!.x;
    expect(Math.max(...[...Array(100).keys()].map((i) => x(`client-${i}`)))).toBeLessThan(
      Math.min(...[...Array(80).keys()].map((i) => x(`service-${i}`)))
    );
    expect(Math.max(...[...Array(80).keys()].map((i) => x(`service-${i}`)))).toBeLessThan(
      Math.min(...[...Array(20).keys()].map((i) => x(`db-${i}`)))
    );
  });

  it('routes every call of a 200-node map around the nodes and gives every call its label, none overlapping', () => {
    const graph = buildGraph(bigMap(100, 80, 20), createTheme());
    const t0 = performance.now();
    const layout = layoutGraph(graph, { width: 1600, height: 700 }, (e) => plateWidth(e, edgeLabel(e, 'both')));
    const shapes = edgeShapes(graph, layout, 'both');
    const ms = performance.now() - t0;
    const q = measureMap({
      nodes: graph.nodes.map((n) => ({ id: n.id, box: nodeBox(layout.positions.get(n.id)!, n) })),
      edges: shapes.map((x) => ({
        id: x.edge.id,
        source: x.edge.source,
        target: x.edge.target,
        points: x.geometry.points!,
      })),
      labels: shapes
        .filter((x) => x.mid)
        .map((x) => {
          const w = plateWidth(x.edge, x.label);
          return { id: x.edge.id, box: { x: x.mid!.x - w / 2, y: x.mid!.y - 9, w, h: 18 } };
        }),
    });
    expect(q.edgesThroughNodes).toBe(0);
    expect(q.labelNodeOverlaps).toBe(0);
    expect(q.labelLabelOverlaps).toBe(0);
    expect(shapes.filter((x) => x.mid)).toHaveLength(280);
    // pairs of crossing calls: barycentre sweeps over the lines' passages leave about 1,400 of this map's 39,060
    // pairs (the layout before, curves straight across wrapped columns, crossed 10,523 on the Chromium test's map)
    expect(q.crossings).toBeLessThan(1500);
    // jsdom on a loaded 2-core machine (Chromium's figure is in map-scale-run.js)
    expect(ms).toBeLessThan(5000);
  });

  it('places edge labels where none overlaps another or a node, or leaves one out', () => {
    const line = (y: number) => [
      { x: 0, y },
      { x: 200, y },
    ];
    // nine calls drawn on top of each other: the first takes the middle, the next ones slide along, the rest wait
    const places = placeLabels(
      Array.from({ length: 9 }, (_, i) => ({ id: String(i), points: line(0), width: 40, height: 18 })),
      [{ x: 90, y: -30, w: 20, h: 20 }]
    );
    const boxes = [...places.values()].filter((p) => p).map((p) => ({ x: p!.x - 20, y: p!.y - 9, w: 40, h: 18 }));
    expect(boxes.length).toBeGreaterThan(1);
    expect(boxes.length).toBeLessThan(9);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        expect(overlap(boxes[i], boxes[j])).toBe(false);
      }
    }
  });

  it('a network-only call (flows, no requests) does not read "0 req/s · 0 ms"', () => {
    const frames = mapFrames();
    frames[1].fields.find((f) => f.name === 'mainstat')!.values[2] = 0;
    frames[1].fields.find((f) => f.name === 'secondarystat')!.values[2] = 0;
    render(<UniversalMapPanel {...props(frames)} />);
    const edge = screen.getAllByTestId('map-edge').find((e) => e.getAttribute('data-source') === 'orders')!;
    expect(within(edge).queryByTestId('map-edge-label')).not.toBeInTheDocument();
    expect(screen.getAllByTestId('map-edge-label')).toHaveLength(2);
  });

  it('a network-only call whose network is unhealthy says what it is and marks its verdict', () => {
    const frames = mapFrames();
    const edges = frames[1];
    edges.fields.find((f) => f.name === 'mainstat')!.values[2] = 0;
    edges.fields.push(
      { name: 'detail__network', type: FieldType.string, values: ['', '', '3 failed connections'], config: {} },
      { name: 'highlighted', type: FieldType.boolean, values: [false, false, true], config: {} }
    );
    render(<UniversalMapPanel {...props(frames)} />);
    const edge = screen.getAllByTestId('map-edge').find((e) => e.getAttribute('data-source') === 'orders')!;
    expect(within(edge).getByTestId('map-edge-label')).toHaveTextContent('no requests parsed · 3 failed connections');
    expect(within(edge).getByTestId('map-edge-network-label')).toHaveTextContent('⚠ 3 failed connections');
  });

  it('zooms with the buttons and the wheel, pans by dragging, fits again', () => {
    render(<UniversalMapPanel {...props(mapFrames(), { width: 800, height: 400 })} />);
    const svg = screen.getByTestId('universal-map');
    const view = screen.getByTestId('universal-map-view');
    expect(svg).toHaveAttribute('data-zoom', '1.000');
    fireEvent.click(screen.getByRole('button', { name: 'Zoom in (or scroll)' }));
    expect(svg).toHaveAttribute('data-zoom', '1.500');
    fireEvent.wheel(svg, { deltaY: -200, clientX: 100, clientY: 100 });
    expect(Number(svg.getAttribute('data-zoom'))).toBeGreaterThan(1.5);
    const before = view.getAttribute('transform');
    fireEvent.mouseDown(svg, { clientX: 100, clientY: 100, buttons: 1 });
    fireEvent.mouseMove(svg, { clientX: 160, clientY: 130, buttons: 1 });
    fireEvent.mouseUp(svg);
    expect(view.getAttribute('transform')).not.toBe(before);
    expect(view.getAttribute('transform')).toMatch(/^translate\(/);
    fireEvent.click(screen.getByTestId('universal-map-fit'));
    expect(svg).toHaveAttribute('data-zoom', '1.000');
  });

  it('at 200 nodes in a small panel, leaves out text too small to read and says how to zoom; zoomed, names come', () => {
    render(<UniversalMapPanel {...props(bigMap(100, 80, 20), { width: 900, height: 400 })} />);
    expect(screen.getAllByTestId('map-node')).toHaveLength(200);
    expect(screen.queryAllByTestId('map-edge-label')).toHaveLength(0);
    // 200 services and the room their 280 calls take leave a 900 px panel too little room for names apart
    expect(screen.getByTestId('universal-map-hint')).toHaveTextContent(
      '200 services, 280 calls: scroll to zoom in for names and rates'
    );
    expect(screen.queryAllByTestId('map-node-title')).toHaveLength(0);
    fireEvent.click(screen.getByRole('button', { name: 'Zoom in (or scroll)' }));
    // zoomed once, every node named (a long name cut in its middle: its start and end kept apart from its neighbours')
    const titles = screen.getAllByTestId('map-node-title').map((t) => t.textContent ?? '');
    expect(titles).toHaveLength(200);
    expect(new Set(titles).size).toBe(200);
    expect(titles.some((t) => /^s[^…]*….*\d$/.test(t) || t.startsWith('service-'))).toBe(true);
    for (let i = 0; i < 7; i++) {
      fireEvent.click(screen.getByRole('button', { name: 'Zoom in (or scroll)' }));
    }
    expect(screen.queryByTestId('universal-map-hint')).not.toBeInTheDocument();
    expect(screen.getAllByTestId('map-edge-label').length).toBeGreaterThan(0);
  });
});
