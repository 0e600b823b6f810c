import type { Direction, LatencyKind, NetProfileModel, PacketKind, ProfileInterval, ProfilePoint } from './model';

/**
 * Where everything of the Network Profile goes, in px, for a panel `width` wide: per observation point a
 * header, one lane per direction (client → server above, server → client below) holding its packets at their
 * time, and two interval tracks under them (the conversation's turns: connection, server response, client
 * wait; and the largest ACK latency). Time is linear across the flow, so a 200 ms wait is 200 ms wide.
 */

export const LABEL_WIDTH = 170;
export const RIGHT_PAD = 16;
export const AXIS_HEIGHT = 26;
export const HEADER_HEIGHT = 20;
export const LANE_HEIGHT = 30;
export const TRACK_HEIGHT = 20;
export const POINT_GAP = 12;

export interface LaneBox {
  point: string;
  direction: Direction;
  /** top and centre line */
  y: number;
  mid: number;
}

export interface PointBox {
  point: ProfilePoint;
  y: number;
  /** the lanes' top and bottom (a highlighted gap spans them) */
  lanesTop: number;
  lanesBottom: number;
  lanes: LaneBox[];
  /** centre lines of the two interval tracks */
  tracks: [number, number];
}

export interface PlacedPacket {
  /** index in model.packets */
  index: number;
  kind: PacketKind;
  x: number;
  /** centre line of its lane */
  y: number;
  /** marker height: data grows with its payload (log scale), the rest fixed */
  h: number;
  /** it advertises a zero window (marked above it) */
  zeroWindow: boolean;
}

export interface PlacedInterval {
  interval: ProfileInterval;
  kind: LatencyKind;
  x0: number;
  x1: number;
  y: number;
  largest: boolean;
}

export interface Tick {
  x: number;
  /** µs from the flow's first packet */
  us: number;
}

/** A time window of the flow (µs since the epoch): what the plot shows, the whole flow or a zoomed part. */
export interface TimeWindow {
  startUs: number;
  endUs: number;
}

export interface ProfileLayout {
  width: number;
  height: number;
  plotLeft: number;
  plotRight: number;
  /** the window drawn across the plot */
  view: TimeWindow;
  /** x of a time (µs since the epoch) */
  x: (us: number) => number;
  /** the time (µs since the epoch) at x */
  timeAt: (x: number) => number;
  points: PointBox[];
  packets: PlacedPacket[];
  intervals: PlacedInterval[];
  ticks: Tick[];
}

/** Marker height of a packet: a data segment grows with log2 of its payload, from 8 px (1 B) to 24 (64 KiB). */
export function packetHeight(kind: PacketKind, size: number): number {
  if (kind === 'data' || kind === 'retransmission') {
    return Math.round(8 + Math.min(16, Math.log2(Math.max(1, size))));
  }
  return kind === 'ack' ? 8 : 14;
}

/** Axis ticks every 1, 2 or 5 × 10^k µs, at most `max` of them over `spanUs`. */
export function ticks(spanUs: number, max = 8): number[] {
  return ticksIn(0, spanUs, max);
}

/** Round ticks (1, 2 or 5 × 10^k µs apart, at most about `max`) between `fromUs` and `toUs`, both from the flow's start. */
export function ticksIn(fromUs: number, toUs: number, max = 8): number[] {
  const spanUs = toUs - fromUs;
  if (spanUs <= 0) {
    return [fromUs];
  }
  let step = 1;
  for (let p = 1; ; p *= 10) {
    const s = [p, 2 * p, 5 * p].find((c) => spanUs / c <= max);
    if (s) {
      step = s;
      break;
    }
  }
  const out: number[] = [];
  const first = Math.ceil(fromUs / step - 1e-9) * step || 0; // never -0
  for (let t = first; t <= toUs + 1e-9; t += step) {
    out.push(t);
  }
  return out;
}

/** The narrowest window zooming may reach (µs): packets a few µs apart stay apart. */
export const MIN_VIEW_US = 20;

/** `view` kept inside the flow `full` and at least MIN_VIEW_US wide (or the whole flow when it is narrower). */
export function clampView(view: TimeWindow, full: TimeWindow): TimeWindow {
  const fullSpan = full.endUs - full.startUs;
  const span = Math.min(fullSpan, Math.max(MIN_VIEW_US, view.endUs - view.startUs));
  const start = Math.min(Math.max(view.startUs, full.startUs), full.endUs - span);
  return { startUs: start, endUs: start + span };
}

/** The window a drag from x0 to x1 (px, either order) selects on the plot, or undefined for a click (< 4 px). */
export function selectedWindow(lay: ProfileLayout, full: TimeWindow, x0: number, x1: number): TimeWindow | undefined {
  const [a, b] = [Math.min(x0, x1), Math.max(x0, x1)].map((x) => Math.min(Math.max(x, lay.plotLeft), lay.plotRight));
  if (b - a < 4) {
    return undefined;
  }
  return clampView({ startUs: lay.timeAt(a), endUs: lay.timeAt(b) }, full);
}

/**
 * The window after a wheel step at x (px): `factor` < 1 zooms in, > 1 out, keeping the time under the pointer
 * where it is. Zoomed out to the whole flow or beyond, the answer is the whole flow.
 */
export function zoomedWindow(lay: ProfileLayout, full: TimeWindow, x: number, factor: number): TimeWindow {
  const at = lay.timeAt(Math.min(Math.max(x, lay.plotLeft), lay.plotRight));
  const { startUs, endUs } = lay.view;
  return clampView({ startUs: at - (at - startUs) * factor, endUs: at + (endUs - at) * factor }, full);
}

/**
 * The layout of `model` over `view` (default: the whole flow). Zoomed, the packets outside the window are left
 * out and the intervals that cross its edges are cut at the plot's edges (their values stay whole).
 */
export function layout(model: NetProfileModel, width: number, showAck = true, view?: TimeWindow): ProfileLayout {
  const plotLeft = LABEL_WIDTH;
  const plotRight = Math.max(plotLeft + 50, width - RIGHT_PAD);
  const win = view ?? { startUs: model.startUs, endUs: model.endUs };
  const span = Math.max(win.endUs - win.startUs, 1);
  const x = (us: number) => plotLeft + ((us - win.startUs) / span) * (plotRight - plotLeft);
  const timeAt = (px: number) => win.startUs + ((px - plotLeft) / (plotRight - plotLeft)) * span;
  const inView = (us: number) => us >= win.startUs && us <= win.endUs;
  const clip = (px: number) => Math.min(Math.max(px, plotLeft), plotRight);
  const points: PointBox[] = [];
  let y = AXIS_HEIGHT;
  for (const point of model.points) {
    const lanesTop = y + HEADER_HEIGHT;
    const lanes: LaneBox[] = (['client_to_server', 'server_to_client'] as const).map((direction, i) => {
      const top = lanesTop + i * LANE_HEIGHT;
      return { point: point.key, direction, y: top, mid: top + LANE_HEIGHT / 2 };
    });
    const lanesBottom = lanesTop + 2 * LANE_HEIGHT;
    points.push({
      point,
      y,
      lanesTop,
      lanesBottom,
      lanes,
      tracks: [lanesBottom + TRACK_HEIGHT / 2, lanesBottom + TRACK_HEIGHT * 1.5],
    });
    y = lanesBottom + 2 * TRACK_HEIGHT + POINT_GAP;
  }
  const boxOf = new Map(points.map((p) => [p.point.key, p]));
  const packets: PlacedPacket[] = [];
  model.packets.forEach((p, index) => {
    const box = boxOf.get(p.point);
    if (box && inView(p.timeUs)) {
      const lane = box.lanes[p.direction === 'client_to_server' ? 0 : 1];
      packets.push({
        index,
        kind: p.kind,
        x: x(p.timeUs),
        y: lane.mid,
        h: packetHeight(p.kind, p.size),
        zeroWindow: p.zeroWindow,
      });
    }
  });
  const intervals: PlacedInterval[] = [];
  for (const iv of model.intervals) {
    const box = boxOf.get(iv.point);
    if (
      !box ||
      (!showAck && iv.kind === 'system_ack' && iv !== model.largest) ||
      iv.endUs < win.startUs ||
      iv.startUs > win.endUs
    ) {
      continue;
    }
    intervals.push({
      interval: iv,
      kind: iv.kind,
      x0: clip(x(iv.startUs)),
      x1: clip(x(iv.endUs)),
      y: box.tracks[iv.kind === 'system_ack' ? 1 : 0],
      largest: iv === model.largest,
    });
  }
  return {
    width,
    height: y,
    plotLeft,
    plotRight,
    view: win,
    x,
    timeAt,
    points,
    packets,
    intervals,
    ticks: ticksIn(win.startUs - model.startUs, win.endUs - model.startUs).map((us) => ({
      us,
      x: x(model.startUs + us),
    })),
  };
}
