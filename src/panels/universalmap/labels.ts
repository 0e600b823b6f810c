import type { Point } from './layout';

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Where each label sits (its centre), or undefined: no free place on its curve (the tooltip still has it). */
export type LabelPlaces = Map<string, Point | undefined>;

/**
 * Where a label may sit on a line (a polyline): the middle, a third and two thirds of each stretch, the stretch
 * holding the line's middle first, then outwards (the stretches between columns are the long ones with room).
 */
export function labelSpots(points: Point[]): Point[] {
  const lengths = points.slice(1).map((p, i) => Math.hypot(p.x - points[i].x, p.y - points[i].y));
  const total = lengths.reduce((x, y) => x + y, 0);
  const spots: Array<{ p: Point; off: number }> = [];
  let at = 0;
  lengths.forEach((len, i) => {
    if (len >= 24) {
      for (const t of [0.5, 0.3, 0.7]) {
        const a = points[i];
        const b = points[i + 1];
        spots.push({
          p: { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t },
          off: Math.abs(at + len * t - total / 2),
        });
      }
    }
    at += len;
  });
  if (spots.length === 0 && points.length > 0) {
    const a = points[0];
    const b = points[points.length - 1];
    spots.push({ p: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }, off: 0 });
  }
  return spots.sort((x, y) => x.off - y.off).map((s) => s.p);
}

const overlaps = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/**
 * Places edge labels so that none overlaps another or a node (its circle and title, `obstacles`): each label takes
 * the first free spot along its line (labelSpots), middle first; labels are placed in the order given (put the busiest calls
 * first, so theirs keep the middle); one that `must` show takes the least covered spot when no place is free. A grid of cells bins the placed boxes: linear in the labels for a spread map.
 */
export function placeLabels(
  labels: Array<{ id: string; points: Point[]; width: number; height: number; must?: boolean }>,
  obstacles: Box[]
): LabelPlaces {
  const cell = 120;
  const grid = new Map<string, Box[]>();
  const cells = (b: Box) => {
    const out: string[] = [];
    for (let gx = Math.floor(b.x / cell); gx <= Math.floor((b.x + b.w) / cell); gx++) {
      for (let gy = Math.floor(b.y / cell); gy <= Math.floor((b.y + b.h) / cell); gy++) {
        out.push(`${gx},${gy}`);
      }
    }
    return out;
  };
  const add = (b: Box) => cells(b).forEach((k) => (grid.get(k) ?? grid.set(k, []).get(k)!).push(b));
  const free = (b: Box) => cells(b).every((k) => !(grid.get(k) ?? []).some((o) => overlaps(o, b)));
  // the area b shares with what is placed (a box in several cells counted once per cell: a ranking, not a measure)
  const covered = (b: Box) =>
    cells(b).reduce(
      (sum, k) =>
        sum +
        (grid.get(k) ?? []).reduce(
          (a, o) =>
            a +
            Math.max(0, Math.min(b.x + b.w, o.x + o.w) - Math.max(b.x, o.x)) *
              Math.max(0, Math.min(b.y + b.h, o.y + o.h) - Math.max(b.y, o.y)),
          0
        ),
      0
    );
  obstacles.forEach(add);
  const out: LabelPlaces = new Map();
  for (const l of labels) {
    let placed: Point | undefined;
    const spots = labelSpots(l.points).map((p) => {
      return { p, box: { x: p.x - l.width / 2, y: p.y - l.height / 2, w: l.width, h: l.height } };
    });
    const spot = spots.find((x) => free(x.box));
    if (spot) {
      add(spot.box);
      placed = spot.p;
    } else if (l.must) {
      // a label that must show (a network verdict: the one sign of a failing call) takes the least covered spot
      const least = spots.reduce((a, b) => (covered(b.box) < covered(a.box) ? b : a));
      add(least.box);
      placed = least.p;
    }
    out.set(l.id, placed);
  }
  return out;
}
