import {
  type DataFrame,
  type Field,
  type GrafanaTheme2,
  type LinkModel,
  formattedValueToString,
  getDisplayProcessor,
} from '@grafana/data';

/** A service on the map. Stats are pre-formatted strings; `errorRate` is a fraction 0..1 or undefined. */
export interface MapNode {
  id: string;
  title: string;
  subtitle: string;
  mainstat: string;
  secondarystat: string;
  errorRate?: number;
  details: Array<[string, string]>;
  /** the data links of its row (the backend's: its RED, requests, traces, flows), made on demand */
  links?: () => LinkModel[];
}

/** A directed call from `source` (client) to `target` (server). */
export interface MapEdge {
  id: string;
  source: string;
  target: string;
  mainstat: string;
  secondarystat: string;
  errorRate?: number;
  /** requests per second (the mainstat's number; 0 on a network-only edge), when the frame gives a number */
  requests?: number;
  /** the backend's TCP verdict of the edge (`ok`, or what is wrong: failed connections, retransmissions…) */
  network?: string;
  /** the network on this edge is unhealthy (the node-graph `highlighted` field) */
  unhealthy?: boolean;
  /** only the network saw this call: connections that carried no request a parser understood */
  networkOnly?: boolean;
  /** where the call's time goes (ms), from the latency at each observation point that saw it */
  split?: TimeSplit;
  details: Array<[string, string]>;
  links?: () => LinkModel[];
}

/** An edge's mean latency split by where it is spent (ms); a part is absent where no point bounds it. */
export interface TimeSplit {
  client?: number;
  network?: number;
  server?: number;
}

export interface MapGraph {
  nodes: MapNode[];
  edges: MapEdge[];
}

// Units assumed when the backend sends none (edge/node mainstat = requests/s, secondarystat = mean latency ms).
const FALLBACK_SUFFIX: Record<string, string> = { mainstat: ' req/s', secondarystat: ' ms' };

/**
 * Picks the node-graph frames out of a panel's series: frames named `nodes`/`edges`, or (as Grafana's
 * node graph does) any frame with a `source` field as edges and the rest with an `id` field as nodes.
 */
export function splitFrames(series: DataFrame[]): { nodes?: DataFrame; edges?: DataFrame } {
  let nodes = series.find((f) => f.name === 'nodes');
  let edges = series.find((f) => f.name === 'edges');
  if (!edges) {
    edges = series.find((f) => f.fields.some((x) => x.name === 'source'));
  }
  if (!nodes) {
    nodes = series.find((f) => f !== edges && f.fields.some((x) => x.name === 'id'));
  }
  return { nodes, edges };
}

function fieldOf(frame: DataFrame | undefined, name: string): Field | undefined {
  return frame?.fields.find((f) => f.name === name);
}

function formatter(field: Field | undefined, theme: GrafanaTheme2): (i: number) => string {
  if (!field) {
    return () => '';
  }
  const hasUnit = Boolean(field.config?.unit);
  const display = field.display ?? getDisplayProcessor({ field, theme });
  const suffix = hasUnit ? '' : (FALLBACK_SUFFIX[field.name] ?? '');
  return (i) => {
    const v = field.values[i];
    if (v === null || v === undefined || v === '') {
      return '';
    }
    if (typeof v === 'string') {
      return v;
    }
    return formattedValueToString(display(v)) + suffix;
  };
}

function detailRows(frame: DataFrame, i: number, theme: GrafanaTheme2): Array<[string, string]> {
  return frame.fields
    .filter((f) => f.name.startsWith('detail__'))
    .map((f) => [f.config?.displayName ?? f.name.slice('detail__'.length).replace(/_/g, ' '), formatter(f, theme)(i)]);
}

/** Row i's data links of the frame's id field (Grafana sets getLinks on a panel's fields), when it has any. */
function linksOf(frame: DataFrame, i: number): (() => LinkModel[]) | undefined {
  const id = fieldOf(frame, 'id');
  if (!id?.getLinks || !id.config?.links?.length) {
    return undefined;
  }
  return () => id.getLinks!({ valueRowIndex: i });
}

function num(field: Field | undefined, i: number): number | undefined {
  const v = field?.values[i];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Error rate of node i from its arc__* fields: the arc whose name mentions "error" (or "fail"). */
function nodeErrorRate(frame: DataFrame, i: number): number | undefined {
  const arcs = frame.fields.filter((f) => f.name.startsWith('arc__'));
  const err = arcs.find((f) => /err|fail/i.test(f.name));
  return err ? num(err, i) : undefined;
}

/**
 * Error share of edge i as a fraction 0..1: `detail__error_ratio` (the backend's field) or `error_ratio`;
 * a field in unit "percent" is scaled. `detail__error_rate` is errors per second, so it is not used here.
 */
function edgeErrorRate(frame: DataFrame, i: number): number | undefined {
  const f = fieldOf(frame, 'detail__error_ratio') ?? fieldOf(frame, 'error_ratio');
  const v = num(f, i);
  if (v === undefined) {
    return undefined;
  }
  return f?.config?.unit === 'percent' ? v / 100 : v;
}

/** The backend's split of edge i (`detail__time_in_*`), when it has the server's part and another. */
function edgeSplit(frame: DataFrame, i: number): TimeSplit | undefined {
  const part = (name: string) => num(fieldOf(frame, `detail__time_in_${name}`), i);
  const split: TimeSplit = { client: part('client'), network: part('network'), server: part('server') };
  return split.server !== undefined && (split.client !== undefined || split.network !== undefined) ? split : undefined;
}

/**
 * What a call only the network saw is (no request parsed, so no rate or latency): its failed connections,
 * RSTs, zero windows and retransmissions, or its connections when nothing went wrong.
 */
function networkOnlyText(frame: DataFrame, i: number): string {
  const count = (name: string) => num(fieldOf(frame, `detail__${name}`), i) ?? 0;
  const parts = [
    [count('conn_failed'), 'conn failed'],
    [count('rsts'), count('rsts') === 1 ? 'RST' : 'RSTs'],
    [count('zero_windows'), count('zero_windows') === 1 ? 'zero window' : 'zero windows'],
    [count('retransmissions'), 'retransmitted'],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, what]) => `${n} ${what}`);
  const verdict = fieldOf(frame, 'detail__network')?.values[i];
  return parts.length > 0 ? parts.join(', ') : verdict && verdict !== 'ok' ? String(verdict) : 'TCP only';
}

export function buildGraph(series: DataFrame[], theme: GrafanaTheme2): MapGraph {
  const { nodes: nodesFrame, edges: edgesFrame } = splitFrames(series);
  const nodes = new Map<string, MapNode>();

  if (nodesFrame) {
    const id = fieldOf(nodesFrame, 'id');
    const title = fieldOf(nodesFrame, 'title');
    const subtitle = fieldOf(nodesFrame, 'subtitle');
    const main = formatter(fieldOf(nodesFrame, 'mainstat'), theme);
    const second = formatter(fieldOf(nodesFrame, 'secondarystat'), theme);
    const served = fieldOf(nodesFrame, 'detail__requests') ?? fieldOf(nodesFrame, 'mainstat');
    for (let i = 0; i < nodesFrame.length; i++) {
      const nid = String(id?.values[i] ?? '');
      if (!nid) {
        continue;
      }
      // a node that serves none of the map's calls (a client, or a team's caller whose own traffic is filtered
      // out) says so: "0 req/s · 0 ms" would read as a service that answers nothing
      const callerOnly = num(served, i) === 0;
      nodes.set(nid, {
        id: nid,
        title: String(title?.values[i] ?? nid),
        subtitle: String(subtitle?.values[i] ?? ''),
        mainstat: callerOnly ? 'calls only' : main(i),
        secondarystat: callerOnly ? '' : second(i),
        errorRate: nodeErrorRate(nodesFrame, i),
        details: detailRows(nodesFrame, i, theme),
        links: linksOf(nodesFrame, i),
      });
    }
  }

  const edges: MapEdge[] = [];
  if (edgesFrame) {
    const id = fieldOf(edgesFrame, 'id');
    const source = fieldOf(edgesFrame, 'source');
    const target = fieldOf(edgesFrame, 'target');
    const mainField = fieldOf(edgesFrame, 'mainstat');
    const main = formatter(mainField, theme);
    const second = formatter(fieldOf(edgesFrame, 'secondarystat'), theme);
    const network = fieldOf(edgesFrame, 'detail__network');
    const highlighted = fieldOf(edgesFrame, 'highlighted');
    const requests = fieldOf(edgesFrame, 'detail__requests');
    for (let i = 0; i < edgesFrame.length; i++) {
      const s = String(source?.values[i] ?? '');
      const t = String(target?.values[i] ?? '');
      if (!s || !t) {
        continue;
      }
      // Edges may name services the nodes frame lacks (e.g. an external client): show them anyway.
      for (const n of [s, t]) {
        if (!nodes.has(n)) {
          nodes.set(n, { id: n, title: n, subtitle: '', mainstat: '', secondarystat: '', details: [] });
        }
      }
      // a call the network alone saw (TCP health, no request parsed): say so rather than "0 req/s · 0 ms"
      const networkOnly = Boolean(network?.values[i]) && num(requests ?? mainField, i) === 0;
      edges.push({
        id: String(id?.values[i] ?? `${s}->${t}`),
        source: s,
        target: t,
        mainstat: networkOnly ? 'no requests parsed' : main(i),
        secondarystat: networkOnly ? networkOnlyText(edgesFrame, i) : second(i),
        networkOnly,
        split: edgeSplit(edgesFrame, i),
        errorRate: edgeErrorRate(edgesFrame, i),
        requests: num(mainField, i),
        network: network?.values[i] ? String(network.values[i]) : undefined,
        unhealthy: highlighted?.values[i] === true,
        details: detailRows(edgesFrame, i, theme),
        links: linksOf(edgesFrame, i),
      });
    }
  }

  return { nodes: [...nodes.values()], edges };
}
