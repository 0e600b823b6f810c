import type { MapEdge, MapGraph } from './graph';
import { placeLabels } from './labels';
import { NODE_RADIUS, nodeBox, type MapLayout, type Point } from './layout';
import type { EdgeStat } from './types';

/*
 * What the Universal Map draws for each call, apart from React: its line, its label's text and where the label
 * sits. One step for the panel and the layout bench (bench/map-layout.js).
 */

/** The time bar under an edge's label (client, path, server shares of its latency). */
export const SPLIT_BAR = { width: 64, height: 5 };
/** The height the bar adds under an edge's label (label placement keeps it clear). */
export const SPLIT_ROW = 14;

export function percent(rate: number | undefined): string {
  return rate === undefined ? '' : `${(rate * 100).toFixed(rate < 0.1 ? 2 : 1)}% errors`;
}

export function edgeLabel(edge: MapEdge, stat: EdgeStat): string {
  if (edge.networkOnly) {
    // a call only the network saw: "no requests parsed · 3 conn failed, 3 RSTs", not "0 req/s · 0 ms"
    return stat === 'errorRate' ? '' : `${edge.mainstat} · ${edge.secondarystat}`;
  }
  if (edge.requests === 0) {
    return ''; // no requests and no network verdict: nothing to say on the line (the tooltip has the rest)
  }
  switch (stat) {
    case 'mainstat':
      return edge.mainstat;
    case 'secondarystat':
      return edge.secondarystat;
    case 'errorRate':
      return percent(edge.errorRate);
    default:
      return [edge.mainstat, edge.secondarystat].filter(Boolean).join(' · ');
  }
}

/** Approximate width of an edge label at the small font size (SVG text cannot be measured before layout). */
export function labelWidth(label: string): number {
  return label.length * 6.4 + 8;
}

/** A service calling itself: a loop on the node's right, the label beyond it. */
function loopGeometry(a: Point): { d: string; mid: Point } {
  const r = NODE_RADIUS;
  const sx = a.x + r * Math.cos(-Math.PI / 5);
  const sy = a.y + r * Math.sin(-Math.PI / 5);
  const ey = a.y - r * Math.sin(-Math.PI / 5);
  return {
    d: `M ${sx} ${sy} C ${a.x + r + 60} ${a.y - 45}, ${a.x + r + 60} ${a.y + 45}, ${sx + 3} ${ey}`,
    mid: { x: a.x + r + 48, y: a.y },
  };
}

/** A polyline drawn with its corners rounded (radius up to 10, never past half a stretch). */
export function roundedPath(points: Point[]): string {
  const parts = [`M ${points[0].x} ${points[0].y}`];
  for (let i = 1; i < points.length - 1; i++) {
    const [a, p, b] = [points[i - 1], points[i], points[i + 1]];
    const la = Math.hypot(p.x - a.x, p.y - a.y);
    const lb = Math.hypot(b.x - p.x, b.y - p.y);
    const r = Math.min(10, la / 2, lb / 2);
    if (r < 0.5) {
      parts.push(`L ${p.x} ${p.y}`);
      continue;
    }
    parts.push(
      `L ${p.x - ((p.x - a.x) * r) / la} ${p.y - ((p.y - a.y) * r) / la}`,
      `Q ${p.x} ${p.y} ${p.x + ((b.x - p.x) * r) / lb} ${p.y + ((b.y - p.y) * r) / lb}`
    );
  }
  const last = points[points.length - 1];
  parts.push(`L ${last.x} ${last.y}`);
  return parts.join(' ');
}

/** The call carries a network verdict mark (its network is unhealthy). */
export const marked = (e: MapEdge) => Boolean(e.unhealthy && e.network);

/** The width a call's label, verdict mark and time bar take (layout units). */
export function plateWidth(e: MapEdge, label: string): number {
  return Math.max(
    label ? labelWidth(label) : 0,
    marked(e) ? labelWidth(networkText(e.network!)) : 0,
    e.split ? SPLIT_BAR.width + 68 : 0
  );
}

/** Each edge's path and label place, computed once per graph and layout. */
export function edgeShapes(graph: MapGraph, layout: MapLayout, edgeStat: EdgeStat) {
  const shapes = graph.edges.map((e) => {
    const route = layout.routes.get(e.id);
    const geometry = route
      ? { d: roundedPath(route), mid: route[0], points: route, selfLoop: false }
      : { ...loopGeometry(layout.positions.get(e.source)!), points: undefined, selfLoop: true };
    return { edge: e, geometry, label: edgeLabel(e, edgeStat) };
  });
  const places = placeLabels(
    shapes
      .filter((x) => (x.label || marked(x.edge)) && x.geometry.points)
      .map((x) => ({
        id: x.edge.id,
        points: x.geometry.points!,
        // with room around it: a label's text may run a little past its estimated width
        width: plateWidth(x.edge, x.label) + 12,
        // an unhealthy call's network verdict sits under its label (alone on a network-only call)
        height: (x.label ? 18 : 0) + (marked(x.edge) ? 18 : 0) + (x.edge.split ? SPLIT_ROW : 0) + 2,
        must: marked(x.edge) || Boolean(x.edge.networkOnly), // a verdict is never left to the tooltip
      })),
    graph.nodes.map((n) => nodeBox(layout.positions.get(n.id)!, n))
  );
  return shapes.map((x) => {
    // a self-loop's label starts right of the loop instead of sitting on it
    const mid = x.geometry.selfLoop
      ? { x: x.geometry.mid.x + labelWidth(x.label) / 2 + 4, y: x.geometry.mid.y }
      : places.get(x.edge.id);
    return { ...x, mid };
  });
}

export /** The mark under an unhealthy call: the backend's verdict, cut to fit. */
function networkText(verdict: string): string {
  return `⚠ ${verdict.length > 48 ? `${verdict.slice(0, 47)}…` : verdict}`;
}
