// A trace in the terminal, assembled by the real datasource backend: the plugin binary behind
// test/grafana-shim (which starts it the way Grafana does), queried through Grafana's /api/ds/query.
// Used by the main job to show one trace of the demo, and by the tracing end-to-end test.
// Usage: node build/agent/demo/traceView.js [--row ID --time UNIX_SECONDS] [--database flowlens]
//        (default: the latest /api/checkout request through the demo's gateway)
import { spawn, ChildProcess, execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { authHeaders, localClickHouse } from './localClickHouse';

const REPO_ROOT = join(__dirname, '..', '..', '..');
export const DIST_PLUGIN = join(REPO_ROOT, 'dist', 'datasource', 'gpx_flowlens-clickhouse-datasource_linux_amd64');
export const GO = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';

/** One span of an assembled trace, as the trace frame gives it. */
export interface TraceSpan {
  id: string;
  parent: string;
  depth: number;
  operation: string;
  service: string;
  obs: string;
  pid: number;
  /** the thread of the process that handled the span (0 at NICs) */
  tid: number;
  process: string;
  startMs: number;
  durationMs: number;
  hop: string;
  link: string;
  tags: Map<string, string>;
}

export interface TraceView {
  traceId: string;
  spans: TraceSpan[];
  /** critical-path ms per hop ("kind: label"), largest first */
  hops: Map<string, number>;
  culprit?: { kind: string; label: string; critical_time_ms: number; share: number };
  summary: string;
  durationMs: number;
  queries: number;
  assemblyMs: number;
  warnings: string[];
}

/** Builds a Go package of this repository into `out` (incremental: Go caches). */
export async function goBuild(out: string, pkg: string): Promise<void> {
  await promisify(execFile)(GO, ['build', '-o', out, pkg], {
    cwd: REPO_ROOT,
    env: { ...process.env, CGO_ENABLED: '0' },
  });
}

/** Builds test/grafana-shim and the plugin binary from this checkout into `dir` (both at once). */
export async function buildShimAndPlugin(dir: string): Promise<{ shimBin: string; pluginBin: string }> {
  const shimBin = join(dir, 'grafana-shim');
  const pluginBin = join(dir, 'gpx_flowlens-clickhouse-datasource_linux_amd64');
  await Promise.all([goBuild(shimBin, './test/grafana-shim'), goBuild(pluginBin, './pkg')]);
  return { shimBin, pluginBin };
}

export interface Shim {
  url: string;
  stop: () => void;
}

/** Starts test/grafana-shim with the plugin binary, serving one datasource on `database`. */
export async function startShim(o: {
  shimBin: string;
  pluginBin: string;
  clickhouseUrl: string;
  database: string;
  dir: string;
}): Promise<Shim> {
  mkdirSync(o.dir, { recursive: true });
  const settings = join(o.dir, 'datasource.json');
  // no password in the file: the shim gives the datasource the local server's Grafana user
  writeFileSync(settings, JSON.stringify({ url: o.clickhouseUrl, database: o.database }));
  const proc: ChildProcess = spawn(
    o.shimBin,
    ['-plugin', o.pluginBin, '-listen', '127.0.0.1:0', '-settings', settings],
    {
      stdio: ['ignore', 'pipe', 'ignore'], // its stderr is the plugin's debug log
    }
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`grafana-shim did not start within 30 s: ${out}`)), 30000);
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    proc.on('exit', (c) => {
      clearTimeout(t);
      reject(new Error(`grafana-shim exited with ${c}: ${out}`));
    });
  });
  return { url, stop: () => proc.kill() };
}

/** A data frame as Grafana's query API answers it (the fields a caller reads). */
export interface FrameJSON {
  schema: {
    name?: string;
    fields: Array<{ name: string; type?: string }>;
    meta?: {
      custom?: Record<string, unknown>;
      notices?: Array<{ text: string }>;
      preferredVisualisationType?: string;
      type?: string;
    };
  };
  data: { values: unknown[][] };
}

/** A frame's column by field name ([] when it has none). */
export function column(f: FrameJSON, name: string): unknown[] {
  const i = f.schema.fields.findIndex((x) => x.name === name);
  return i < 0 ? [] : f.data.values[i];
}

/**
 * One query through the shim's /api/ds/query, as Grafana's query API sends it (refId A, the FlowLens datasource):
 * its frames, or an error naming the query, the HTTP status and the datasource's error.
 */
export async function queryFrames(
  shimUrl: string,
  range: { fromMs: number; toMs: number },
  query: Record<string, unknown>
): Promise<FrameJSON[]> {
  const res = await fetch(`${shimUrl}/api/ds/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      from: String(range.fromMs),
      to: String(range.toMs),
      queries: [{ refId: 'A', datasource: { uid: 'flowlens' }, ...query }],
    }),
  });
  const body = (await res.json()) as {
    results?: Record<string, { error?: string; frames?: FrameJSON[] }>;
    message?: string;
  };
  const r = body.results?.A;
  if (res.status !== 200 || !r?.frames || r.error) {
    throw new Error(
      `${JSON.stringify(query)}: HTTP ${res.status}: ${r?.error ?? body.message ?? JSON.stringify(body).slice(0, 300)}`
    );
  }
  return r.frames;
}

/** Assembles the trace of one request log row through the datasource, as Grafana's query API would. */
export async function fetchTrace(shimUrl: string, rowId: string, timeSec: number): Promise<TraceView> {
  const frames = await queryFrames(
    shimUrl,
    { fromMs: (timeSec - 60) * 1000, toMs: (timeSec + 60) * 1000 },
    { queryType: 'trace', row_id: rowId, time: timeSec }
  );
  if (frames.length < 2) {
    throw new Error(`trace query for row ${rowId}: ${frames.length} frame(s), not the spans and the verdict`);
  }
  const [f, v] = frames;
  const col = (name: string) => column(f, name);
  const spans: TraceSpan[] = (col('spanID') as string[]).map((id, i) => ({
    id,
    parent: (col('parentSpanID') as string[])[i],
    depth: (col('depth') as number[])[i],
    operation: (col('operationName') as string[])[i],
    service: (col('serviceName') as string[])[i],
    obs: (col('observation_point') as string[])[i],
    pid: (col('pid') as number[])[i],
    tid: (col('tid') as number[])[i],
    process: (col('process') as string[])[i],
    startMs: (col('startTime') as number[])[i],
    durationMs: (col('duration') as number[])[i],
    hop: (col('hop') as string[])[i],
    link: (col('link') as string[])[i],
    tags: new Map(
      ((col('tags')[i] as Array<{ key: string; value: unknown }>) ?? []).map((t) => [t.key, String(t.value)])
    ),
  }));
  const hopNames = column(v, 'hop') as string[];
  const hopMs = column(v, 'critical_time_ms') as number[];
  const custom = f.schema.meta?.custom ?? {};
  const verdict = (custom.verdict ?? {}) as { culprit?: TraceView['culprit']; duration_ms?: number; summary?: string };
  return {
    traceId: String(custom.traceID ?? ''),
    spans,
    hops: new Map(hopNames.map((h, i) => [h, hopMs[i]])),
    culprit: verdict.culprit,
    summary: verdict.summary ?? '',
    durationMs: verdict.duration_ms ?? 0,
    queries: Number(custom.queries ?? 0),
    assemblyMs: Number(custom.assembly_ms ?? 0),
    warnings: (custom.warnings as string[]) ?? [],
  };
}

/** The trace as an indented tree, one span a line, then the verdict. */
export function renderTrace(t: TraceView): string[] {
  const t0 = Math.min(...t.spans.map((s) => s.startMs));
  const lines = [
    `trace ${t.traceId}: ${t.spans.length} spans, ${t.durationMs.toFixed(1)} ms end to end, assembled in ${t.assemblyMs.toFixed(1)} ms with ${t.queries} ClickHouse queries`,
  ];
  for (const s of t.spans) {
    const where = s.obs.endsWith('_nic')
      ? `${s.obs} of ${s.service}`
      : `${s.obs} ${s.process || s.service}${s.pid ? ` (pid ${s.pid})` : ''}`;
    lines.push(
      `${'  '.repeat(s.depth)}+${(s.startMs - t0).toFixed(1).padStart(6)} ms ${s.durationMs.toFixed(1).padStart(6)} ms  ${where}: ${s.operation}`
    );
  }
  lines.push(`verdict: ${t.summary || '(none)'}`);
  for (const [hop, ms] of [...t.hops].slice(0, 4)) {
    lines.push(`  ${hop}: ${ms.toFixed(1)} ms on the critical path`);
  }
  for (const w of t.warnings) {
    lines.push(`warning: ${w}`);
  }
  return lines;
}

/** The latest gateway request of a path in a database: the seed of a demo trace. */
export async function latestGatewayRequest(
  clickhouseUrl: string,
  database: string,
  endpoint = '/api/checkout'
): Promise<{ id: string; time: number; resource: string } | undefined> {
  if (!/^[a-z_][a-z0-9_]*$/i.test(database) || !/^[/a-z]+$/.test(endpoint)) {
    throw new Error(`bad database ${database} or endpoint ${endpoint}`);
  }
  const res = await fetch(`${clickhouseUrl}/?default_format=JSONEachRow`, {
    method: 'POST',
    headers: authHeaders(localClickHouse().reader),
    body: `SELECT toString(_id) AS id, toUInt32(time) AS time, request_resource AS resource FROM ${database}.l7_flow_log
           WHERE observation_point = 'server_process' AND server_service = 'gateway' AND endpoint = '${endpoint}' AND response_code = 200
           ORDER BY start_time_us DESC LIMIT 1`,
  });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(text.split('\n')[0]);
  }
  return text.trim() ? (JSON.parse(text.split('\n')[0]) as { id: string; time: number; resource: string }) : undefined;
}

/** Shows one trace of `database` in the terminal (the given row, else the latest checkout). */
export async function showTrace(o: {
  clickhouseUrl: string;
  database: string;
  rowId?: string;
  timeSec?: number;
}): Promise<string[]> {
  if (!existsSync(DIST_PLUGIN)) {
    return [`(no plugin binary at ${DIST_PLUGIN}: scripts/build.sh all builds it)`];
  }
  let rowId = o.rowId;
  let timeSec = o.timeSec;
  let what = `row ${rowId}`;
  if (!rowId) {
    const seed = await latestGatewayRequest(o.clickhouseUrl, o.database);
    if (!seed) {
      return ['(no /api/checkout request through the gateway yet)'];
    }
    [rowId, timeSec, what] = [seed.id, seed.time, `GET ${seed.resource} (the gateway's row ${seed.id})`];
  }
  const dir = join(REPO_ROOT, 'build', 'demo');
  const shimBin = join(dir, 'grafana-shim');
  await goBuild(shimBin, './test/grafana-shim');
  const shim = await startShim({
    shimBin,
    pluginBin: DIST_PLUGIN,
    clickhouseUrl: o.clickhouseUrl,
    database: o.database,
    dir,
  });
  try {
    return [
      `the trace of ${what}:`,
      ...renderTrace(await fetchTrace(shim.url, rowId, timeSec ?? Math.floor(Date.now() / 1000))),
    ];
  } finally {
    shim.stop();
  }
}

if (require.main === module) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const row = arg('--row');
  const time = arg('--time');
  if ((row && !/^\d+$/.test(row)) || (time && !/^\d+$/.test(time)) || (row && !time)) {
    process.stderr.write(
      'usage: node build/agent/demo/traceView.js [--row ID --time UNIX_SECONDS] [--database NAME]\n'
    );
    process.exit(2);
  }
  showTrace({
    clickhouseUrl: localClickHouse().url,
    database: arg('--database') ?? 'flowlens',
    rowId: row,
    timeSec: time ? Number(time) : undefined,
  })
    .then((lines) => process.stdout.write(`${lines.join('\n')}\n`))
    .catch((err) => {
      process.stderr.write(`traceView: ${(err as Error).message}\n`);
      process.exit(1);
    });
}
