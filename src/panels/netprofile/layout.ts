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

export interface ProfileLayout {
  width: number;
  height: number;
  plotLeft: number;
  plotRight: number;
  /** x of a time (µs since the epoch) */
  x: (us: number) => number;
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
  if (spanUs <= 0) {
    return [0];
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
  for (let t = 0; t <= spanUs + 1e-9; t += step) {
    out.push(t);
  }
  return out;
}

export function layout(model: NetProfileModel, width: number, showAck = true): ProfileLayout {
  const plotLeft = LABEL_WIDTH;
  const plotRight = Math.max(plotLeft + 50, width - RIGHT_PAD);
  const span = Math.max(model.endUs - model.startUs, 1);
  const x = (us: number) => plotLeft + ((us - model.startUs) / span) * (plotRight - plotLeft);
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
    if (box) {
      const lane = box.lanes[p.direction === 'client_to_server' ? 0 : 1];
      packets.push({ index, kind: p.kind, x: x(p.timeUs), y: lane.mid, h: packetHeight(p.kind, p.size) });
    }
  });
  const intervals: PlacedInterval[] = [];
  for (const iv of model.intervals) {
    const box = boxOf.get(iv.point);
    if (!box || (!showAck && iv.kind === 'system_ack' && iv !== model.largest)) {
      continue;
    }
    intervals.push({
      interval: iv,
      kind: iv.kind,
      x0: x(iv.startUs),
      x1: x(iv.endUs),
      y: box.tracks[iv.kind === 'system_ack' ? 1 : 0],
      largest: iv === model.largest,
    });
  }
  return {
    width,
    height: y,
    plotLeft,
    plotRight,
    x,
    points,
    packets,
    intervals,
    ticks: ticks(span).map((us) => ({ us, x: x(model.startUs + us) })),
  };
}
