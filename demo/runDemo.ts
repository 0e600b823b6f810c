// The main job: local ClickHouse, the agent, and a demo system of real services calling each other
// (loadgen -> nginx gateway -> load balancer -> Node frontend -> Python backend -> PostgreSQL and
// Redis). As root with network namespaces the services run on the namespace test bed, one host per
// namespace, and the agent also captures their NICs; otherwise they run on loopback. Prints what was
// captured every 10 s; Ctrl-C stops the load, lets the agent flush every buffered row, and exits.
// Usage: node build/agent/demo/runDemo.js [--duration SECONDS] [--rate REQ_PER_S] [--layout netbed|loopback]
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DemoSystem, Layout, startDemoSystem } from './demoSystem';
import { showTrace } from './traceView';
import { authHeaders, localClickHouse, writerEnv } from './localClickHouse';

const ROOT = join(__dirname, '..', '..', '..');
const DATA = join(ROOT, '.data', 'demo');
const say = (s: string) => process.stdout.write(`flowlens: ${s}\n`);

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!(v > 0)) {
    say(`${name} ${process.argv[i + 1]} is invalid: expected a positive number`);
    process.exit(2);
  }
  return v;
}

async function ch(url: string, sql: string): Promise<Array<Record<string, string>>> {
  const res = await fetch(`${url}/?default_format=JSONEachRow`, {
    method: 'POST',
    body: sql,
    headers: authHeaders(localClickHouse().writer),
  });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(text.split('\n')[0]);
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

async function summary(url: string, sinceSec: number): Promise<string> {
  const [counts] = await ch(
    url,
    `SELECT (SELECT count() FROM flowlens.l7_flow_log WHERE time >= ${sinceSec}) AS logs,
            (SELECT sum(request_count) FROM flowlens.app_metrics WHERE time >= ${sinceSec}) AS requests`
  );
  const edges = await ch(
    url,
    `SELECT client_service, server_service, sum(request_count) AS n, sum(error_count) AS errors,
            round(sum(response_duration_sum_us) / sum(request_count) / 1000, 2) AS avg_ms
     FROM flowlens.app_metrics WHERE time >= ${sinceSec} AND observation_point = 'server_process'
     GROUP BY client_service, server_service ORDER BY n DESC LIMIT 8`
  );
  const lines = edges.map(
    (e) => `    ${e.client_service} -> ${e.server_service}: ${e.n} requests, ${e.errors} errors, avg ${e.avg_ms} ms`
  );
  return `${counts.logs} request logs, ${counts.requests ?? 0} requests in app_metrics since start; calls (server side):\n${lines.join('\n') || '    (none yet)'}`;
}

function layoutArg(): Layout | 'auto' {
  const i = process.argv.indexOf('--layout');
  if (i < 0) {
    return 'auto';
  }
  const v = process.argv[i + 1];
  if (v !== 'netbed' && v !== 'loopback') {
    say(`--layout ${v} is invalid: expected netbed or loopback`);
    process.exit(2);
  }
  return v;
}

async function main(): Promise<void> {
  const duration = process.argv.includes('--duration') ? arg('--duration', 0) : 0;
  const rate = arg('--rate', 20);
  const layout = layoutArg();

  const chStart = spawnSync(join(ROOT, 'scripts', 'clickhouse.sh'), ['start'], { encoding: 'utf8' });
  if (chStart.status !== 0) {
    say(`the local ClickHouse did not start: ${chStart.stderr.trim()}`);
    process.exit(1);
  }
  const chUrl = process.env.FLOWLENS_CLICKHOUSE_URL || chStart.stdout.trim();
  say(`ClickHouse at ${chUrl}`);

  mkdirSync(DATA, { recursive: true });
  let sys: DemoSystem;
  try {
    sys = await startDemoSystem({ layout, dataDir: DATA, stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (err) {
    say(`the demo system did not start: ${(err as Error).message}`);
    process.exit(1);
  }
  say(
    `demo system on the ${sys.layout === 'netbed' ? 'namespace test bed (one network namespace per host)' : 'loopback interface'} (${sys.why}):`
  );
  for (const line of sys.describe()) {
    say(`  ${line}`);
  }

  const cfgPath = join(DATA, 'agent.json');
  writeFileSync(cfgPath, JSON.stringify({ clickhouseUrl: chUrl, statusIntervalMs: 0, ...sys.agentConfig() }, null, 2));
  const agent = spawn(
    process.execPath,
    [join(ROOT, 'build', 'agent', 'src', 'agent', 'main.js'), '--config', cfgPath],
    { env: { ...writerEnv(), ...process.env }, stdio: ['ignore', 'pipe', 'inherit'] }
  );
  const agentExit = new Promise<number>((r) => agent.on('exit', (c) => r(c ?? 1)));
  try {
    await new Promise<void>((resolve, reject) => {
      agent.stdout!.on('data', (d: Buffer) => {
        process.stdout.write(d);
        if (d.toString().includes('flowlens-agent: ready')) {
          resolve();
        }
      });
      agent.on('exit', (c) =>
        reject(new Error(`the agent exited with code ${c} before it was ready (see its message above)`))
      );
    });
  } catch (err) {
    say((err as Error).message);
    await sys.stop();
    process.exit(1);
  }
  const sinceSec = Math.floor(Date.now() / 1000);
  const gw = sys.endpoints.gateway!;
  const loadgen: ChildProcess = sys.spawnClient([process.execPath, join(ROOT, 'demo', 'loadgen.js')], {
    env: { ...process.env, GATEWAY_HOST: gw.ip, GATEWAY_PORT: String(gw.port), RATE: String(rate) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  say(
    `load generator sending ${rate} req/s to the gateway at ${sys.gatewayUrl}; Ctrl-C to stop${duration ? ` (stopping by itself after ${duration} s)` : ''}`
  );

  const timer = setInterval(async () => {
    try {
      say(await summary(chUrl, sinceSec));
    } catch (err) {
      say(`summary query failed: ${(err as Error).message}`);
    }
  }, 10_000);

  let stopping = false;
  const stop = async () => {
    if (stopping) {
      return;
    }
    stopping = true;
    clearInterval(timer);
    say('stopping: load first, then the agent flushes every buffered row');
    loadgen.kill();
    await new Promise((r) => setTimeout(r, 700)); // let in-flight requests finish
    agent.kill('SIGINT');
    const code = await agentExit;
    try {
      say(await summary(chUrl, sinceSec));
    } catch (err) {
      say(`summary query failed: ${(err as Error).message}`);
    }
    await sys.stop();
    try {
      say((await showTrace({ clickhouseUrl: chUrl, database: 'flowlens' })).join('\n  '));
    } catch (err) {
      say(`no trace shown: ${(err as Error).message}`);
    }
    say(
      [
        'where to look:',
        `  ClickHouse (still running; stop it with scripts/clickhouse.sh stop): ${chUrl}`,
        `    curl '${chUrl}/' --data-binary "SELECT observation_point, client_service, server_service, endpoint, response_code, response_duration_us FROM flowlens.l7_flow_log ORDER BY start_time_us DESC LIMIT 20 FORMAT PrettyCompact"`,
        `    curl '${chUrl}/' --data-binary "SELECT client_service, server_service, sum(request_count) AS n, sum(error_count) AS errors FROM flowlens.app_metrics GROUP BY client_service, server_service FORMAT PrettyCompact"`,
        '  a trace: any request log row is a seed: the datasource query {"queryType":"trace","row_id":"<_id>","time":<unix seconds>}',
        '    assembles every span of its request (Grafana renders it in its trace view); in a terminal:',
        '    node build/agent/demo/traceView.js [--row <_id> --time <unix seconds>]   (default: the latest checkout)',
        '  Grafana: with Docker, `docker compose up` serves the FlowLens app (dist/) with the provisioned "FlowLens / Service overview" dashboard;',
        '  without Docker, copy dist/ into a Grafana plugins folder and allow the unsigned flowlens-* plugin ids.',
      ].join('\n')
    );
    process.exit(code === 0 ? 0 : 1);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  if (duration) {
    setTimeout(() => void stop(), duration * 1000);
  }
}

main().catch((err) => {
  say(`error: ${(err as Error).message}`);
  process.exit(1);
});
