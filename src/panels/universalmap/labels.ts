import type { Point } from './layout';

/** A call's curve: a quadratic Bézier from start through ctrl to end (layout coordinates). */
export interface Curve {
  start: Point;
  ctrl: Point;
  end: Point;
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Where each label sits (its centre), or undefined: no free place on its curve (the tooltip still has it). */
export type LabelPlaces = Map<string, Point | undefined>;

/** The curve's point at t (0..1). */
export function pointAt(c: Curve, t: number): Point {
  const u = 1 - t;
  return {
    x: u * u * c.start.x + 2 * u * t * c.ctrl.x + t * t * c.end.x,
    y: u * u * c.start.y + 2 * u * t * c.ctrl.y + t * t * c.end.y,
  };
}

const overlaps = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Positions along a curve a label may take, middle first. */
const SPOTS = [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78];

/**
 * Places edge labels so that none overlaps another or a node (its circle and title, `obstacles`): each label takes
 * the first free spot along its curve, middle first; labels are placed in the order given (put the busiest calls
 * first, so theirs keep the middle); one that `must` show takes the least covered spot when no place is free. A grid of cells bins the placed boxes: linear in the labels for a spread map.
 */
export function placeLabels(
  labels: Array<{ id: string; curve: Curve; width: number; height: number; must?: boolean }>,
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
    const spots = SPOTS.map((t) => {
      const p = pointAt(l.curve, t);
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
