import type { DataFrame } from '@grafana/data';
import { fieldOf, num, str } from '../panels/frameFields';
import type { FlowLensQuery, TriageKind, TriagePlace } from '../datasource/types';
import { pageUrl, ROUTES } from '../components/constants';
import { paramsOfState, stateOfParams } from './traceSearch';

/** What the Triage page shows, all of it in the URL (an alert's annotation links here with service, from, to). */
export interface TriagePageState {
  service: string;
  /** an edge: the client calling the service */
  client: string;
  endpoint: string;
  /** the fault window as Grafana writes it: `now-15m` or epoch ms */
  from: string;
  to: string;
}

export const DEFAULT_TRIAGE_STATE: TriagePageState = {
  service: '',
  client: '',
  endpoint: '',
  from: 'now-15m',
  to: 'now',
};

const PARAM = Object.fromEntries(Object.keys(DEFAULT_TRIAGE_STATE).map((k) => [k, k])) as Record<
  keyof TriagePageState,
  string
>;

export function triageStateOf(search: URLSearchParams): TriagePageState {
  return stateOfParams(search, DEFAULT_TRIAGE_STATE, PARAM);
}

export function searchOfTriage(state: TriagePageState): Record<string, string | null> {
  return paramsOfState(state, DEFAULT_TRIAGE_STATE, PARAM);
}

/** The datasource's triage query of the page (the time range is the fault window). */
export function triageQuery(state: TriagePageState): FlowLensQuery {
  const q: FlowLensQuery = { refId: 'A', queryType: 'triage', service: state.service };
  if (state.client) {
    q.client_service = state.client;
  }
  if (state.endpoint) {
    q.endpoint = state.endpoint;
  }
  return q;
}

export interface Suspect {
  rank: number;
  place: TriagePlace;
  kind: TriageKind;
  service: string;
  client: string;
  server: string;
  fn: string;
  score: number;
  confidence: string;
  evidence: string;
}

/** The triage frame's rows: the suspects (rank ≥ 1, in rank order) and the notes (what could not be seen). */
export function triageRows(frames: DataFrame[]): { suspects: Suspect[]; notes: string[] } {
  const f = frames.find((x) => x.name === 'triage') ?? frames[0];
  const suspects: Suspect[] = [];
  const notes: string[] = [];
  for (let i = 0; i < (f?.length ?? 0); i++) {
    const place = str(fieldOf(f, 'place'), i) as TriagePlace;
    if (place === 'note') {
      notes.push(str(fieldOf(f, 'evidence'), i));
      continue;
    }
    suspects.push({
      rank: num(fieldOf(f, 'rank'), i),
      place,
      kind: str(fieldOf(f, 'kind'), i) as TriageKind,
      service: str(fieldOf(f, 'service'), i),
      client: str(fieldOf(f, 'client_service'), i),
      server: str(fieldOf(f, 'server_service'), i),
      fn: str(fieldOf(f, 'function'), i),
      score: num(fieldOf(f, 'score'), i),
      confidence: str(fieldOf(f, 'confidence'), i),
      evidence: str(fieldOf(f, 'evidence'), i),
    });
  }
  suspects.sort((a, b) => a.rank - b.rank);
  return { suspects, notes };
}

/** Words for the places and kinds. */
export const PLACE_LABEL: Record<TriagePlace, string> = {
  client_app: 'client app',
  client_nic: 'client host / NIC',
  network_path: 'network path',
  gateway: 'gateway',
  server_nic: 'server host / NIC',
  server_app: 'server app',
  dependency: 'dependency',
  dns: 'DNS',
  note: 'note',
};

export const KIND_LABEL: Record<TriageKind, string> = {
  latency: 'latency',
  errors: 'errors',
  connection_failures: 'connection failures',
  resets: 'resets',
  retransmissions: 'retransmissions',
  client_wait: 'client wait',
  zero_windows: 'zero windows (stopped reading)',
  cpu: 'CPU',
  '': '',
};

/** The app pages that show a suspect's data over the fault window: its traces, its edge's flows, its CPU profile
 * against the window before. */
export function suspectLinks(s: Suspect, state: TriagePageState): Array<{ title: string; href: string }> {
  const url = (route: string, params: Record<string, string>) => {
    const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== ''));
    return `${pageUrl(route)}?${q.toString()}`;
  };
  const range = { from: state.from, to: state.to };
  const links = [{ title: 'Traces', href: url(ROUTES.traces, { service: s.service, ...range }) }];
  if (s.client || s.server) {
    links.push({ title: 'Flows', href: url(ROUTES.network, { client: s.client, server: s.server, ...range }) });
  }
  links.push({ title: 'CPU profile', href: url(ROUTES.profiling, { service: s.service, compare: '1', ...range }) });
  return links;
}
