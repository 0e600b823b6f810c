// AutoTracing end to end on the demo system (demo/demoSystem.ts, netbed layout): curl or the
// load generator in host `client` -> nginx (host gw, the only place a request id exists) ->
// toxiproxy load balancer (slb) -> Node frontend (front) -> Python backend (back) -> postgres and
// redis (db), the agent tracing every process and capturing every host's eth0. Each request's trace
// is assembled by the real backend: the built plugin binary behind test/grafana-shim, queried the
// way Grafana's /api/ds/query does. Asserted:
//   - every expected span exactly once (4 observation points per call: client process, client NIC,
//     server NIC, server process), each under its expected parent, across 7 processes in 6 namespaces;
//     the same trace whichever of its spans the assembly starts from;
//   - a 100 ms delay at one hop (load-balancer latency toxic, a sleep in the frontend, a sleep in
//     the backend, pg_sleep in the SQL, redis DEBUG SLEEP) makes the verdict name that hop;
//   - 16 clients on keep-alive connections at once: no trace holds a span of another request, and
//     every trace is still complete.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  assertRoot,
  chQuery,
  freeDatabase,
  requireClickHouse,
  startAgent,
  AgentHandle,
  CLICKHOUSE_URL,
  ROOT,
} from './helpers';
import { DemoSystem, Role, startDemoSystem } from '../../demo/demoSystem';
import { buildShimAndPlugin, column, fetchTrace, queryFrames, Shim, startShim } from '../../demo/traceView';

const DB = 'flowlens_e2e_tracing';
const OUT = join(ROOT, 'build', 'e2e-tracing');
const DELAY_MS = 100;
const SLOW_HOPS = ['slb', 'frontend', 'backend', 'postgres', 'redis'] as const;
const BURST = { clients: 16, requests: 8, itemBase: 50_000 };
const OBS = ['client_process', 'client_nic', 'server_nic', 'server_process'];

type Path = 'products' | 'checkout';
interface Sent {
  item: number;
  path: Path;
  client: 'curl' | 'loadgen';
  slow?: (typeof SLOW_HOPS)[number];
  query: string; // the query string the gateway saw
}

/** One span of an assembled trace, as the trace frame gives it. */
interface TSpan {
  id: string;
  parent: string;
  obs: string;
  pid: number;
  tid: number;
  process: string;
  clientService: string;
  serverService: string;
  resource: string;
  client: string; // ip:port
  server: string;
}

interface Assembled {
  spans: TSpan[];
  /** the verdict frame: critical-path ms per hop ("kind: label") */
  hops: Map<string, number>;
  culprit?: { kind: string; label: string; critical_time_ms: number; share: number };
  durationMs: number;
  queries: number;
  assemblyMs: number;
  warnings: string[];
}

let sys: DemoSystem;
let agent: AgentHandle | undefined;
let shim: Shim | undefined;
let dataDir = '';
const sent: Sent[] = [];
const burst: Sent[] = [];
const measured: string[] = [];

/** Assembles one trace through the plugin binary, as Grafana's query API would. */
async function assemble(rowId: string, timeSec: number): Promise<Assembled> {
  const t = await fetchTrace(shim!.url, rowId, timeSec);
  return {
    spans: t.spans.map((x) => ({
      id: x.id,
      parent: x.parent,
      obs: x.obs,
      pid: x.pid,
      tid: x.tid,
      process: x.process,
      clientService: x.tags.get('client_service') ?? '',
      serverService: x.tags.get('server_service') ?? '',
      resource: x.tags.get('request_resource') ?? '',
      client: x.tags.get('client') ?? '',
      server: x.tags.get('server') ?? '',
    })),
    hops: t.hops,
    culprit: t.culprit,
    durationMs: t.durationMs,
    queries: t.queries,
    assemblyMs: t.assemblyMs,
    warnings: t.warnings,
  };
}

interface Call {
  name: string;
  client: string;
  server: string;
  resource: (s: string) => boolean;
  /** the call whose server side made this one (any of several) */
  parent?: string | string[];
}

/** Commands a client sends on a connection it just opened (a pool growing under load). */
const isSetup = (s: TSpan) =>
  (s.serverService === 'redis' && /^(HELLO|AUTH|CLIENT|SELECT) ?/.test(s.resource)) ||
  (s.serverService === 'postgres' && /^STARTUP/.test(s.resource));

/** The calls one request makes, in the demo's code, with who called whom. */
function expectedCalls(r: Sent): Call[] {
  const q = (p: string) => (s: string) => s === `${p}?${r.query}`;
  const calls: Call[] = [
    { name: 'client->gateway', client: r.client, server: 'gateway', resource: q(`/api/${r.path}`) },
    {
      name: 'gateway->slb',
      client: 'gateway',
      server: 'slb',
      resource: q(`/api/${r.path}`),
      parent: 'client->gateway',
    },
    { name: 'slb->frontend', client: 'slb', server: 'frontend', resource: q(`/api/${r.path}`), parent: 'gateway->slb' },
    {
      name: 'frontend->backend /products',
      client: 'frontend',
      server: 'backend',
      resource: q('/products'),
      parent: 'slb->frontend',
    },
  ];
  const under = 'frontend->backend /products';
  if (r.slow === 'redis') {
    calls.push({
      name: 'backend->redis DEBUG SLEEP',
      client: 'backend',
      server: 'redis',
      resource: (s) => s.startsWith('DEBUG'),
      parent: under,
    });
  }
  calls.push(
    {
      name: 'backend->redis INCRBY',
      client: 'backend',
      server: 'redis',
      resource: (s) => s === `INCRBY views:${r.item}`,
      parent: under,
    },
    {
      name: 'backend->postgres SELECT',
      client: 'backend',
      server: 'postgres',
      resource: (s) => s.startsWith('SELECT id, name, price FROM products') && s.endsWith(`WHERE id = ${r.item}`),
      parent: under,
    }
  );
  if (r.path === 'checkout') {
    const reserve = 'frontend->backend /inventory/reserve';
    calls.push(
      {
        name: reserve,
        client: 'frontend',
        server: 'backend',
        resource: q('/inventory/reserve'),
        parent: 'slb->frontend',
      },
      {
        name: 'backend->postgres UPDATE',
        client: 'backend',
        server: 'postgres',
        resource: (s) => s.startsWith('UPDATE products SET stock') && s.includes(`WHERE id = ${r.item} `),
        parent: reserve,
      },
      {
        name: 'backend->redis LPUSH',
        client: 'backend',
        server: 'redis',
        resource: (s) => s === `LPUSH orders:${r.item}`,
        parent: reserve,
      }
    );
  }
  return calls;
}

/**
 * Whether a span names the expected client. A NIC row whose socket the agent had not seen yet (a
 * connection opened a moment before) has no pid: its client is named by its address.
 */
function clientMatches(service: string, s: TSpan): boolean {
  if (s.clientService === service) {
    return true;
  }
  if (service === 'loadgen' && s.clientService === 'node') {
    return true; // its comm read before process.title renamed it
  }
  const role = service === 'curl' || service === 'loadgen' ? 'client' : (service as Role);
  return s.obs.endsWith('_nic') && s.clientService === sys.endpoints[role]?.ip;
}

/**
 * Differences between an assembled trace and the request's expected spans and parents ([] = exact).
 * A connection the backend opened while handling the request adds its setup call (redis HELLO,
 * postgres STARTUP), expected like any other call under one of the backend's server spans.
 */
function compare(r: Sent, t: Assembled): string[] {
  const problems: string[] = [];
  const calls = expectedCalls(r);
  const backendCalls = calls.filter((c) => c.server === 'backend').map((c) => c.name);
  for (const key of new Set(t.spans.filter(isSetup).map((s) => `${s.serverService}|${s.client}|${s.resource}`))) {
    const [server, from, resource] = key.split('|');
    calls.push({
      name: `backend->${server} ${resource} from ${from}`,
      client: 'backend',
      server,
      resource: (x) => x === resource,
      parent: backendCalls,
    });
  }
  const byId = new Map(t.spans.map((s) => [s.id, s]));
  if (byId.size !== t.spans.length) {
    problems.push(`${t.spans.length - byId.size} span(s) appear twice`);
  }
  const found = new Map<string, TSpan>(); // `${call}|${obs}` -> span
  for (const s of t.spans) {
    const c = calls.find(
      (x) =>
        clientMatches(x.client, s) &&
        x.server === s.serverService &&
        x.resource(s.resource) &&
        (!isSetup(s) || x.name.endsWith(`from ${s.client}`))
    );
    if (!c) {
      problems.push(`unexpected span ${s.obs} ${s.clientService}->${s.serverService} ${s.resource}`);
      continue;
    }
    const key = `${c.name}|${s.obs}`;
    if (found.has(key)) {
      problems.push(`two ${s.obs} spans of ${c.name}`);
    }
    found.set(key, s);
  }
  for (const c of calls) {
    OBS.forEach((obs, i) => {
      const s = found.get(`${c.name}|${obs}`);
      if (!s) {
        problems.push(`missing ${obs} of ${c.name}`);
        return;
      }
      const parents = typeof c.parent === 'string' ? [c.parent] : (c.parent ?? []);
      const candidates = parents.map((p) => found.get(`${p}|server_process`)).filter((x): x is TSpan => !!x);
      const want =
        i > 0 ? found.get(`${c.name}|${OBS[i - 1]}`) : (candidates.find((p) => p.id === s.parent) ?? candidates[0]);
      const wantName =
        i > 0 ? `${OBS[i - 1]} of ${c.name}` : c.parent ? `server_process of ${parents.join(' or ')}` : 'none (root)';
      if ((want?.id ?? '') !== s.parent && (want || !c.parent)) {
        const got = byId.get(s.parent);
        problems.push(
          `${obs} of ${c.name}: parent ${got ? `${got.obs} ${got.clientService}->${got.serverService} ${got.resource}` : s.parent || 'none'}, want ${wantName}`
        );
      }
    });
  }
  return problems;
}

/** Spans of a trace that belong to another request (their resource names another item). */
function foreign(r: Sent, t: Assembled): string[] {
  const mine = (s: string) =>
    new RegExp(`[?&]item=${r.item}(&|$)`).test(s) ||
    s === `INCRBY views:${r.item}` ||
    s === `LPUSH orders:${r.item}` ||
    new RegExp(`WHERE id = ${r.item}( |$)`).test(s);
  return t.spans
    .filter((s) => !mine(s.resource) && !isSetup(s))
    .map((s) => `${s.obs} ${s.clientService}->${s.serverService} ${s.resource}`);
}

async function curlVia(path: string): Promise<void> {
  const r = await sys.runClient([
    'curl',
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '--max-time',
    '10',
    `${sys.gatewayUrl}${path}`,
  ]);
  assert.equal(r.stdout, '200', `curl ${path}: ${r.stdout} ${r.stderr}`);
}

async function loadgenBurst(
  clients: number,
  requests: number,
  itemBase: number
): Promise<Array<{ item: number; path: string; status: number }>> {
  const gw = sys.endpoints.gateway!;
  const r = await sys.runClient([process.execPath, join(ROOT, 'demo', 'loadgen.js')], {
    GATEWAY_HOST: gw.ip,
    GATEWAY_PORT: String(gw.port),
    CLIENTS: String(clients),
    REQUESTS: String(requests),
    ITEM_BASE: String(itemBase),
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    sent: number;
    byStatus: Record<string, number>;
    requests: Array<{ item: number; path: string; status: number }>;
  };
  assert.deepEqual(out.byStatus, { 200: clients * requests }, `loadgen: ${r.stdout.slice(0, 300)}`);
  return out.requests;
}

/** The gateway's server-side span of each request (by its query string): the seeds. */
let seeds = new Map<string, { id: string; t: number }>();
let deepSeeds = new Map<number, { id: string; t: number }>();

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  mkdirSync(OUT, { recursive: true });
  const builds = buildShimAndPlugin(OUT);
  dataDir = mkdtempSync(join(tmpdir(), 'flowlens-tracing-'));
  sys = await startDemoSystem({ layout: 'netbed', dataDir, failRate: 0 });
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    profiling: { enabled: false },
    ...sys.agentConfig(),
  });
  // warm every pool (nginx upstreams, frontend's keep-alive pool, backend threads, redis and postgres connections)
  await loadgenBurst(BURST.clients, 4, 90_000);

  // sequential requests: curl from the client host
  let item = 1000;
  for (const path of ['products', 'checkout', 'products', 'checkout', 'products', 'checkout'] as Path[]) {
    const r: Sent = { item: item++, path, client: 'curl', query: `item=${item - 1}` };
    await curlVia(`/api/${path}?${r.query}`);
    sent.push(r);
  }
  // a 100 ms delay at one hop at a time, three requests each
  for (const hop of SLOW_HOPS) {
    for (const path of ['products', 'checkout', 'products', 'checkout', 'products', 'checkout'] as Path[]) {
      const r: Sent = {
        item: item++,
        path,
        client: 'curl',
        slow: hop,
        query: hop === 'slb' ? `item=${item - 1}` : `item=${item - 1}&slow=${hop}`,
      };
      if (hop === 'slb') {
        sys.slb!.setLatency(DELAY_MS);
      }
      await curlVia(`/api/${path}?${r.query}`);
      if (hop === 'slb') {
        sys.slb!.setLatency(0);
      }
      sent.push(r);
    }
  }
  // many clients at once, each on its own keep-alive connection
  const t0 = Date.now();
  for (const b of await loadgenBurst(BURST.clients, BURST.requests, BURST.itemBase)) {
    burst.push({
      item: b.item,
      path: b.path.startsWith('/api/checkout') ? 'checkout' : 'products',
      client: 'loadgen',
      query: `item=${b.item}`,
    });
  }
  measured.push(`burst: ${burst.length} requests from ${BURST.clients} keep-alive clients in ${Date.now() - t0} ms`);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await agent.stop(), 0, agent.output());
  assert.match(agent.output(), /drops: kernel ring 0, export 0/);
  // a NIC packet lost under load would show below as a missing NIC span; the counters say why
  measured.push(`agent: ${/capture drops: [^;]*?, malformed/.exec(agent.output())?.[0] ?? '(no capture status)'}`);

  const rows = await chQuery<{ id: string; t: number; r: string; ss: string; obs: string }>(
    `SELECT toString(_id) AS id, toUInt32(time) AS t, request_resource AS r, server_service AS ss, observation_point AS obs FROM ${DB}.l7_flow_log
     WHERE observation_point = 'server_process' AND server_service IN ('gateway', 'postgres')`
  );
  seeds = new Map(
    rows.filter((x) => x.ss === 'gateway').map((x) => [x.r.slice(x.r.indexOf('?') + 1), { id: x.id, t: x.t }])
  );
  deepSeeds = new Map(
    rows
      .filter((x) => x.ss === 'postgres' && /^SELECT .* WHERE id = \d+$/.test(x.r))
      .map((x) => [Number(/id = (\d+)$/.exec(x.r)![1]), { id: x.id, t: x.t }])
  );
  const { shimBin, pluginBin } = await builds;
  shim = await startShim({ shimBin, pluginBin, clickhouseUrl: CLICKHOUSE_URL, database: DB, dir: OUT });
});

after(async () => {
  agent?.proc.kill('SIGKILL');
  shim?.stop();
  await sys?.stop();
  if (dataDir) {
    rmSync(dataDir, { recursive: true, force: true });
  }
  for (const m of measured) {
    console.log(`# ${m}`);
  }
});

function seedOf(r: Sent): { id: string; t: number } {
  const s = seeds.get(r.query);
  assert.ok(s, `no gateway span for ?${r.query}`);
  return s;
}

test('each request is one trace: every span exactly once, under its parent, across processes, namespaces, NICs and the gateway', async () => {
  const plain = sent.filter((r) => !r.slow);
  let spans = 0;
  let queries = 0;
  let ms = 0;
  for (const r of plain) {
    const t = await assemble(seedOf(r).id, seedOf(r).t);
    assert.deepEqual(compare(r, t), [], `trace of ${r.path}?${r.query}`);
    // The shape above is exact. A refused cycle is the assembler discarding a contradicting link
    // (seen once in ~7 runs on a trace that was still exact); any other warning fails.
    assert.deepEqual(
      t.warnings.filter((w: string) => !/^\d+ link\(s\) refused because they would have closed a cycle$/.test(w)),
      [],
      `warnings of ${r.path}?${r.query}`
    );
    const calls = expectedCalls(r).length;
    assert.equal(
      t.spans.filter(isSetup).length,
      0,
      'the pools were warm: no connection set up inside a sequential request'
    );
    assert.equal(t.spans.length, calls * 4);
    // 7 processes: curl, nginx, toxiproxy, node, python, redis-server, postgres
    assert.deepEqual([...new Set(t.spans.map((s) => s.process))].sort(), [
      'curl',
      'frontend',
      'nginx',
      'postgres',
      'python3',
      'redis-server',
      'toxiproxy-serve',
    ]);
    assert.ok(new Set(t.spans.map((s) => s.pid)).size >= 7);
    // the thread that handled each span where a process saw it (the flame graph link's thread), none at NICs
    assert.deepEqual(
      t.spans.filter((s) => s.obs.endsWith('_process') && !(s.tid > 0)).map((s) => `${s.obs} ${s.process}`),
      []
    );
    assert.deepEqual(
      t.spans.filter((s) => s.obs.endsWith('_nic') && s.tid !== 0).map((s) => `${s.obs} ${s.process}`),
      []
    );
    // one namespace per host: the local address of each span (client side at client points)
    const local = new Set(t.spans.map((s) => (s.obs.startsWith('client') ? s.client : s.server).split(':')[0]));
    assert.deepEqual(
      [...local].sort(),
      ['client', 'gw', 'slb', 'front', 'back', 'db'].map((h) => sys.bed!.ip(h)).sort()
    );
    assert.equal(t.spans.filter((s) => s.obs.endsWith('_nic')).length, calls * 2, 'NIC observation points');
    assert.deepEqual(
      t.spans
        .filter((s) => s.process === 'nginx')
        .map((s) => s.obs)
        .sort(),
      ['client_nic', 'client_process', 'server_nic', 'server_process'],
      'the gateway: its server and client side, each seen at its NIC too'
    );
    // the same trace from the deepest span of the request (the postgres server's view of its query)
    const deep = deepSeeds.get(r.item);
    assert.ok(deep, `no postgres span for item ${r.item}`);
    const fromDeep = await assemble(deep.id, deep.t);
    assert.deepEqual(
      fromDeep.spans.map((s) => `${s.id}<${s.parent}`).sort(),
      t.spans.map((s) => `${s.id}<${s.parent}`).sort(),
      `trace of ${r.path}?${r.query} from its SQL span`
    );
    spans += t.spans.length;
    queries += t.queries;
    ms += t.assemblyMs;
  }
  measured.push(
    `sequential: ${plain.length} traces, ${spans} spans (${spans / plain.length} per trace), ${(queries / plain.length).toFixed(1)} ClickHouse queries and ${(ms / plain.length).toFixed(1)} ms per assembly`
  );
});

/** Whether a verdict hop ("kind: label") is the server-side time of `service`. */
const isHop = (hop: string, service: string) =>
  hop === `server_app: ${service}` || new RegExp(`^server_app: ${service} \\(pid \\d+\\)$`).test(hop);

test('a 100 ms delay at one hop: the verdict names that hop', async () => {
  const want: Record<string, string> = {
    slb: 'slb',
    frontend: 'frontend',
    backend: 'backend',
    postgres: 'postgres',
    redis: 'redis',
  };
  const named = new Map<string, string[]>(); // `${hop}/${path}` -> culprit of each request
  for (const r of sent.filter((x) => x.slow)) {
    const t = await assemble(seedOf(r).id, seedOf(r).t);
    assert.deepEqual(compare(r, t), [], `trace of ${r.path}?${r.query} (slow ${r.slow})`);
    // a service named like its process ("frontend", "postgres") is labelled with its pid too
    const hop = [...t.hops.keys()].find((h) => isHop(h, want[r.slow!])) ?? `server_app: ${want[r.slow!]}`;
    // the injected delay is on the critical path, charged to that hop once
    const ms = t.hops.get(hop) ?? 0;
    assert.ok(
      ms >= DELAY_MS * 0.95 && ms <= DELAY_MS * 2,
      `${r.slow}/${r.path}: ${hop} holds ${ms} ms of the critical path`
    );
    const c = t.culprit!;
    const key = `${r.slow}/${r.path}`;
    named.set(key, [
      ...(named.get(key) ?? []),
      `${c.kind}: ${c.label} ${c.critical_time_ms.toFixed(1)} of ${t.durationMs.toFixed(1)} ms`,
    ]);
  }
  assert.equal(named.size, SLOW_HOPS.length * 2);
  const lines: string[] = [];
  for (const [key, culprits] of named) {
    const service = want[key.split('/')[0]];
    const hits = culprits.filter((c) => isHop(c.replace(/ [\d.]+ of [\d.]+ ms$/, ''), service)).length;
    lines.push(`${key}: ${hits}/${culprits.length} name ${service} (${culprits.join(', ')})`);
    // a request starved of CPU on a loaded machine may lose more than 100 ms elsewhere once
    assert.ok(hits >= culprits.length - 1, `delay at ${key}: verdicts ${culprits.join('; ')}`);
  }
  measured.push(`verdicts: ${lines.join('; ')}`);
});

// Under concurrency an event loop (the Node frontend) can leave a call's syscall_trace_id link
// ambiguous; the assembly then leaves that call out rather than guess. No span may ever be foreign.
test('16 concurrent keep-alive clients: no trace holds a span of another request; at least 97% are complete', async () => {
  assert.equal(burst.length, BURST.clients * BURST.requests);
  let incomplete = 0;
  const problems: string[] = [];
  let spans = 0;
  let setups = 0;
  let unnamedNic = 0;
  const falseLinks: string[] = [];
  for (const r of burst) {
    const t = await assemble(seedOf(r).id, seedOf(r).t);
    setups += t.spans.filter(isSetup).length / 4;
    unnamedNic += t.spans.filter((x) => x.obs.endsWith('_nic') && x.pid === 0).length;
    const f = foreign(r, t);
    if (f.length) {
      falseLinks.push(`${r.path}?${r.query} holds ${f.length} span(s) of other requests: ${f.join('; ')}`);
    }
    const p = compare(r, t);
    if (p.length) {
      incomplete++;
      problems.push(`${r.path}?${r.query}: ${p.join('; ')}`);
    }
    spans += t.spans.length;
  }
  measured.push(
    `burst: ${burst.length} traces, ${spans} spans (${setups} connection set-up calls among them, ${unnamedNic} NIC spans without a pid), ${falseLinks.length} with foreign spans, ${incomplete} not exact`
  );
  assert.deepEqual(falseLinks, []);
  assert.ok(
    incomplete <= Math.floor(burst.length * 0.03),
    `${incomplete} of ${burst.length} traces incomplete:\n${problems.join('\n')}`
  );
});

/** One trace_search through the plugin binary (as Grafana's query API): the frame's columns by name. */
async function searchTraces(
  query: Record<string, unknown>,
  fromSec: number,
  toSec: number
): Promise<{ col: (n: string) => unknown[]; rows: number; notices: string[] }> {
  const [f] = await queryFrames(
    shim!.url,
    { fromMs: fromSec * 1000, toMs: toSec * 1000 },
    { queryType: 'trace_search', ...query }
  );
  assert.ok(f, `trace_search ${JSON.stringify(query)}: no frame`);
  const col = (n: string) => column(f, n);
  return { col, rows: col('_id').length, notices: (f.schema.meta?.notices ?? []).map((n) => n.text) };
}

// The Traces page's list on the demo's real captures: one row per request a client sent (its root,
// the gateway's request), never one of the calls inside it, each with the calls the request made.
test('trace search: one row per request sent, its root at the gateway, with its calls', async () => {
  const all = [...sent, ...burst];
  const times = all.map((r) => seedOf(r).t);
  const from = Math.min(...times) - 5;
  const to = Math.max(...times) + 5;
  const t0 = performance.now();
  const s = await searchTraces({ limit: 1000 }, from, to);
  const ms = performance.now() - t0;
  const byId = new Map<string, number>();
  (s.col('_id') as string[]).forEach((id, i) => byId.set(id, i));
  const services = s.col('service') as string[];
  // no call inside a request is listed as a trace of its own
  const inner = services.filter((x) => ['frontend', 'backend', 'redis', 'postgres'].includes(x));
  assert.deepEqual(inner, [], 'traces rooted at a service that only answers calls');
  const wrong: string[] = [];
  for (const r of all) {
    const i = byId.get(seedOf(r).id);
    if (i === undefined) {
      wrong.push(`${r.path}?${r.query}: its gateway request is not listed`);
      continue;
    }
    // sequential requests: each call counted once (concurrent ones may lend a call to a neighbour)
    const calls = Number(s.col('calls')[i]);
    if (r.client === 'curl' && calls !== expectedCalls(r).length) {
      wrong.push(`${r.path}?${r.query}: ${calls} calls, want ${expectedCalls(r).length}`);
    }
  }
  assert.deepEqual(wrong, []);
  const byService = new Map<string, number>();
  services.forEach((x) => byService.set(x, (byService.get(x) ?? 0) + 1));
  measured.push(
    `trace search: ${s.rows} traces over ${to - from} s (${[...byService].map(([k, v]) => `${v} at ${k}`).join(', ')}) in ${ms.toFixed(0)} ms`
  );
  // a dependency's filter lists the requests that reached it, by their root: the slowed postgres ones
  const slowPg = sent.filter((r) => r.slow === 'postgres');
  const pg = await searchTraces({ service: 'postgres', min_duration_ms: DELAY_MS * 0.9 }, from, to);
  assert.deepEqual(
    (pg.col('_id') as string[]).slice().sort(),
    slowPg.map((r) => seedOf(r).id).sort(),
    'traces holding a postgres call of at least 90 ms: the requests slowed at postgres, listed by their gateway request'
  );
});

// The request log as Grafana log lines (Explore's logs view, the Logs panel) on the demo's real captures: one
// sequential checkout's HTTP requests, their body, severity and labels from the row, newest first, and the
// _id link's query (as Grafana fills it from the row) opening the checkout's whole trace.
test("request log as log lines: a checkout's requests at every point, their labels, and the link to the trace", async () => {
  const r = sent.find((x) => x.path === 'checkout' && !x.slow)!;
  const seed = seedOf(r);
  const res = await fetch(`${shim!.url}/api/ds/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      from: String((seed.t - 30) * 1000),
      to: String((seed.t + 30) * 1000),
      queries: [
        {
          refId: 'A',
          datasource: { uid: 'flowlens' },
          queryType: 'sql_log',
          format: 'logs',
          search: `item=${r.item}`,
          l7_protocol: 'HTTP',
        },
      ],
    }),
  });
  type Field = {
    name: string;
    type?: string;
    config?: { links?: Array<{ title: string; internal: { datasourceUid: string; query: Record<string, string> } }> };
  };
  const body = (await res.json()) as {
    results: {
      A: {
        error?: string;
        frames: Array<{
          schema: { fields: Field[]; meta?: { type?: string; preferredVisualisationType?: string } };
          data: { values: unknown[][] };
        }>;
      };
    };
  };
  assert.equal(res.status, 200, body.results?.A?.error);
  const [f] = body.results.A.frames;
  const names = f.schema.fields.map((x) => x.name);
  const col = (n: string) => f.data.values[names.indexOf(n)];
  assert.deepEqual(
    names.slice(0, 5),
    ['timestamp', 'body', 'severity', 'id', 'labels'],
    "Grafana's log-lines fields first"
  );
  assert.equal(f.schema.meta?.type, 'log-lines');
  assert.equal(f.schema.meta?.preferredVisualisationType, 'logs');
  // HTTP calls of a checkout carrying its item: client->gateway, gateway->slb, slb->frontend, frontend->backend
  // /products and /inventory/reserve, each seen at 4 points
  const resources = col('request_resource') as string[];
  assert.equal(resources.length, 20, `rows: ${resources.join(', ')}`);
  const ts = col('timestamp') as number[];
  assert.ok(
    ts.every((t, i) => i === 0 || ts[i - 1] >= t),
    'newest first'
  );
  assert.ok(
    (col('severity') as string[]).every((s) => s === 'info'),
    'all 200: info'
  );
  const labels = (col('labels') as Array<Record<string, string>>).map(
    (l) => `${l.client_service ?? l.client_ip}->${l.service} ${l.observation_point}`
  );
  for (const obs of OBS) {
    assert.ok(labels.includes(`frontend->backend ${obs}`), `labels name both ends and the point: ${labels.join('; ')}`);
  }
  const gw = (col('_id') as string[]).indexOf(seed.id);
  assert.ok(gw >= 0, 'the gateway row of the checkout');
  assert.match(
    (col('body') as string[])[gw],
    new RegExp(
      `^HTTP GET /api/checkout\\?item=${r.item} -> 200 ok in [\\d.]+ ms \\(curl -> gateway at server_process\\)$`
    )
  );
  // the _id field's link: the trace query, filled as Grafana fills ${__value.raw} and ${__data.fields.*}
  const link = f.schema.fields[names.indexOf('_id')].config!.links![0];
  const q = Object.fromEntries(
    Object.entries(link.internal.query).map(([k, v]) => [
      k,
      typeof v === 'string'
        ? v
            .replace('${__value.raw}', seed.id)
            .replace('${__data.fields.start_time_us}', String(col('start_time_us')[gw]))
        : v,
    ])
  );
  assert.deepEqual({ queryType: q.queryType, row_id: q.row_id }, { queryType: 'trace', row_id: seed.id });
  const tr = await fetch(`${shim!.url}/api/ds/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      from: String((seed.t - 30) * 1000),
      to: String((seed.t + 30) * 1000),
      queries: [{ ...q, datasource: { uid: link.internal.datasourceUid } }],
    }),
  });
  const trace = (await tr.json()) as {
    results: {
      A: {
        frames: Array<{ schema: { meta?: { preferredVisualisationType?: string } }; data: { values: unknown[][] } }>;
      };
    };
  };
  const [tf] = trace.results.A.frames;
  assert.equal(tf.schema.meta?.preferredVisualisationType, 'trace', "Explore's trace view");
  assert.equal(tf.data.values[0].length, expectedCalls(r).length * 4, 'the whole checkout from its request-log line');
});
