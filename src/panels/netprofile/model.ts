import type { DataFrame } from '@grafana/data';
import { fieldOf, num, str } from '../frameFields';

/**
 * The Network Profile panel's model of the datasource's `netprofile` answer (pkg/plugin/netprofile.go
 * netProfileFrames): `packets` (one row per packet per observation point), `intervals` (the latencies the
 * backend derived from those packets) and `latencies` (per observation point, the agent's four latencies over
 * every packet of the flow, also those beyond the 256 a timeline row keeps).
 */

export type Direction = 'client_to_server' | 'server_to_client';
export const PACKET_KINDS = ['syn', 'syn_ack', 'ack', 'data', 'retransmission', 'fin', 'rst'] as const;
export type PacketKind = (typeof PACKET_KINDS)[number];
export const LATENCY_KINDS = ['connection', 'system_ack', 'server_response', 'client_wait'] as const;
export type LatencyKind = (typeof LATENCY_KINDS)[number];

export const LATENCY_LABEL: Record<LatencyKind, string> = {
  connection: 'connection',
  system_ack: 'system (ACK)',
  server_response: 'server response',
  client_wait: 'client wait',
};

export const PACKET_LABEL: Record<PacketKind, string> = {
  syn: 'SYN',
  syn_ack: 'SYN/ACK',
  ack: 'ACK',
  data: 'data',
  retransmission: 'retransmission',
  fin: 'FIN',
  rst: 'RST',
};

export interface ProfilePacket {
  /** row in the packets frame */
  row: number;
  point: string;
  timeUs: number;
  direction: Direction;
  kind: PacketKind;
  flags: string;
  seq: number;
  ack: number;
  size: number;
  /** the TCP window field as sent (unscaled); undefined in answers over rows that kept none */
  window?: number;
  /** the packet advertises a zero window: its sender's receive buffer is full (a reader that stopped) */
  zeroWindow: boolean;
}

export interface ProfileInterval {
  point: string;
  kind: LatencyKind;
  startUs: number;
  endUs: number;
  durationUs: number;
}

/** The agent's figures for one latency at one point: mean and max over `count` samples (µs). */
export interface LatencyStat {
  meanUs: number;
  maxUs: number;
  count: number;
}

export interface ProfilePoint {
  /** the lane group's key: observation point, host, namespace/interface */
  key: string;
  observationPoint: string;
  host: string;
  netns: string;
  iface: string;
  connectionUs: number;
  systemAck: LatencyStat;
  serverResponse: LatencyStat;
  clientWait: LatencyStat;
  packetCount: number;
  packetsStored: number;
  retransmissions: number;
  /** the agent's count of zero-window packets at this point (also those beyond the stored ones) */
  zeroWindows: number;
}

export interface NetProfileModel {
  points: ProfilePoint[];
  packets: ProfilePacket[];
  intervals: ProfileInterval[];
  /** the flow's extent over every point (µs since the epoch) */
  startUs: number;
  endUs: number;
  /** the longest interval: where the flow's time went */
  largest?: ProfileInterval;
  notices: string[];
  flow?: { client_ip: string; client_port: number; server_ip: string; server_port: number };
}

const POINT_LABEL: Record<string, string> = {
  client_process: 'client process',
  client_nic: 'client NIC',
  gateway: 'gateway',
  server_nic: 'server NIC',
  server_process: 'server process',
};

/** `client NIC · vm · ns-client/eth0` */
export function pointLabel(p: Pick<ProfilePoint, 'observationPoint' | 'host' | 'netns' | 'iface'>): string {
  const where = p.netns ? `${p.netns}/${p.iface}` : p.iface;
  return [POINT_LABEL[p.observationPoint] ?? p.observationPoint, p.host, where].filter(Boolean).join(' · ');
}

function frameNamed(series: DataFrame[], name: string): DataFrame | undefined {
  return series.find((f) => f.name === name && fieldOf(f, 'point'));
}

function oneOf<T extends string>(list: readonly T[], v: string, fallback: T): T {
  return (list as readonly string[]).includes(v) ? (v as T) : fallback;
}

/** The model of a netprofile answer, or undefined when the series hold none (another query type). */
export function netProfileModel(series: DataFrame[]): NetProfileModel | undefined {
  const pf = frameNamed(series, 'packets');
  const lf = frameNamed(series, 'latencies');
  if (!pf || !lf) {
    return undefined;
  }
  const f = (name: string) => fieldOf(pf, name);
  const packets: ProfilePacket[] = [];
  for (let i = 0; i < pf.length; i++) {
    packets.push({
      row: i,
      point: str(f('point'), i),
      timeUs: num(f('time_us'), i),
      direction: str(f('direction'), i) === 'server_to_client' ? 'server_to_client' : 'client_to_server',
      kind: oneOf(PACKET_KINDS, str(f('kind'), i), 'ack'),
      flags: str(f('flags'), i),
      seq: num(f('seq'), i),
      ack: num(f('ack'), i),
      size: num(f('payload_len'), i),
      window: f('window')?.values[i] ?? undefined,
      zeroWindow: f('zero_window')?.values[i] === true,
    });
  }
  const intervals: ProfileInterval[] = [];
  const inf = frameNamed(series, 'intervals');
  for (let i = 0; i < (inf?.length ?? 0); i++) {
    const g = (name: string) => fieldOf(inf, name);
    const startUs = num(g('start_us'), i);
    const endUs = num(g('end_us'), i);
    intervals.push({
      point: str(g('point'), i),
      kind: oneOf(LATENCY_KINDS, str(g('kind'), i), 'system_ack'),
      startUs,
      endUs,
      durationUs: endUs - startUs,
    });
  }
  const points: ProfilePoint[] = [];
  for (let i = 0; i < lf.length; i++) {
    const g = (name: string) => num(fieldOf(lf, name), i);
    const stat = (mean: string, max: string, count: string): LatencyStat => ({
      meanUs: g(mean),
      maxUs: g(max),
      count: g(count),
    });
    points.push({
      key: str(fieldOf(lf, 'point'), i),
      observationPoint: str(fieldOf(lf, 'observation_point'), i),
      host: str(fieldOf(lf, 'host'), i),
      netns: str(fieldOf(lf, 'netns'), i),
      iface: str(fieldOf(lf, 'interface'), i),
      connectionUs: g('conn_latency_us'),
      systemAck: stat('ack_latency_us', 'ack_latency_max_us', 'ack_count'),
      serverResponse: stat('server_response_us', 'server_response_max_us', 'server_response_count'),
      clientWait: stat('client_wait_us', 'client_wait_max_us', 'client_wait_count'),
      packetCount: g('packet_count'),
      packetsStored: g('events_stored'),
      retransmissions: g('retrans_count'),
      zeroWindows: g('zero_window_count'),
    });
  }
  let startUs = Infinity;
  let endUs = -Infinity;
  for (const t of [...packets.map((p) => p.timeUs), ...intervals.flatMap((x) => [x.startUs, x.endUs])]) {
    startUs = Math.min(startUs, t);
    endUs = Math.max(endUs, t);
  }
  if (!Number.isFinite(startUs)) {
    startUs = endUs = 0;
  }
  let largest: ProfileInterval | undefined;
  for (const x of intervals) {
    if (!largest || x.durationUs > largest.durationUs) {
      largest = x;
    }
  }
  const notices = (pf.meta?.notices ?? []).map((n) => n.text);
  const flow = (pf.meta?.custom as { flow?: NetProfileModel['flow'] } | undefined)?.flow;
  return { points, packets, intervals, startUs, endUs, largest, notices, flow };
}
