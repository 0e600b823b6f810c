// The main job: local ClickHouse, the agent, and a demo system of real services calling each other
// on loopback (loadgen -> nginx gateway -> Node frontend -> Python backend). Prints what was
// captured every 10 s; Ctrl-C stops the load, lets the agent flush every buffered row, and exits.
// Usage: node build/agent/demo/runDemo.js [--duration SECONDS] [--rate REQ_PER_S]
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';

const ROOT = join(__dirname, '..', '..', '..');
const DATA = join(ROOT, '.data', 'demo');
const PORTS = { gateway: 28180, frontend: 28181, backend: 28182 };
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

async function waitPort(port: number, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not start listening on 127.0.0.1:${port}`);
}

async function ch(url: string, sql: string): Promise<Array<Record<string, string>>> {
  const res = await fetch(`${url}/?default_format=JSONEachRow`, { method: 'POST', body: sql });
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
  const lines = edges.map((e) => `    ${e.client_service} -> ${e.server_service}: ${e.n} requests, ${e.errors} errors, avg ${e.avg_ms} ms`);
  return `${counts.logs} request logs, ${counts.requests ?? 0} requests in app_metrics since start; calls (server side):\n${lines.join('\n') || '    (none yet)'}`;
}

async function main(): Promise<void> {
  const duration = process.argv.includes('--duration') ? arg('--duration', 0) : 0;
  const rate = arg('--rate', 20);
  const procs: Array<{ name: string; p: ChildProcess }> = [];
  const start = (name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    procs.push({ name, p });
    return p;
  };

  const chStart = spawnSync(join(ROOT, 'scripts', 'clickhouse.sh'), ['start'], { encoding: 'utf8' });
  if (chStart.status !== 0) {
    say(`the local ClickHouse did not start: ${chStart.stderr.trim()}`);
    process.exit(1);
  }
  const chUrl = process.env.FLOWLENS_CLICKHOUSE_URL || chStart.stdout.trim();
  say(`ClickHouse at ${chUrl}`);

  mkdirSync(DATA, { recursive: true });
  const conf = readFileSync(join(ROOT, 'demo', 'gateway.nginx.conf'), 'utf8')
    .replace(/__PREFIX__/g, DATA)
    .replace(/__GATEWAY_PORT__/g, String(PORTS.gateway))
    .replace(/__FRONTEND_PORT__/g, String(PORTS.frontend));
  writeFileSync(join(DATA, 'nginx.conf'), conf);
  start('backend', 'python3', [join(ROOT, 'demo', 'backend.py')], { PORT: String(PORTS.backend) });
  start('frontend', process.execPath, [join(ROOT, 'demo', 'frontend.js')], { PORT: String(PORTS.frontend), BACKEND_PORT: String(PORTS.backend) });
  const nginx = start('gateway', '/usr/sbin/nginx', ['-p', DATA, '-c', join(DATA, 'nginx.conf'), '-g', 'daemon off;']);
  await waitPort(PORTS.backend, 'the backend (python3)');
  await waitPort(PORTS.frontend, 'the frontend (node)');
  await waitPort(PORTS.gateway, 'the gateway (nginx)');
  say(`demo services up: gateway :${PORTS.gateway} (nginx) -> frontend :${PORTS.frontend} (node) -> backend :${PORTS.backend} (python3)`);

  const cfgPath = join(DATA, 'agent.json');
  writeFileSync(
    cfgPath,
    JSON.stringify(
      {
        clickhouseUrl: chUrl,
        statusIntervalMs: 0,
        services: [
          { name: 'gateway', port: PORTS.gateway },
          { name: 'frontend', port: PORTS.frontend },
          { name: 'backend', port: PORTS.backend },
          { name: 'gateway', process: 'nginx' },
        ],
      },
      null,
      2
    )
  );
  const agent = spawn(process.execPath, [join(ROOT, 'build', 'agent', 'src', 'agent', 'main.js'), '--config', cfgPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const agentExit = new Promise<number>((r) => agent.on('exit', (c) => r(c ?? 1)));
  await new Promise<void>((resolve, reject) => {
    agent.stdout!.on('data', (d: Buffer) => {
      process.stdout.write(d);
      if (d.toString().includes('flowlens-agent: ready')) {
        resolve();
      }
    });
    agent.on('exit', (c) => reject(new Error(`the agent exited with code ${c} before it was ready (see its message above)`)));
  });
  const sinceSec = Math.floor(Date.now() / 1000);
  const loadgen = start('loadgen', process.execPath, [join(ROOT, 'demo', 'loadgen.js')], { GATEWAY_PORT: String(PORTS.gateway), RATE: String(rate) });
  say(`load generator sending ${rate} req/s through the gateway; Ctrl-C to stop${duration ? ` (stopping by itself after ${duration} s)` : ''}`);

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
    nginx.kill('SIGQUIT');
    for (const { name, p } of procs) {
      if (name !== 'gateway' && p.exitCode === null) {
        p.kill();
      }
    }
    say(
      [
        'where to look:',
        `  ClickHouse (still running; stop it with scripts/clickhouse.sh stop): ${chUrl}`,
        `    curl '${chUrl}/' --data-binary "SELECT observation_point, client_service, server_service, endpoint, response_code, response_duration_us FROM flowlens.l7_flow_log ORDER BY start_time_us DESC LIMIT 20 FORMAT PrettyCompact"`,
        `    curl '${chUrl}/' --data-binary "SELECT client_service, server_service, sum(request_count) AS n, sum(error_count) AS errors FROM flowlens.app_metrics GROUP BY client_service, server_service FORMAT PrettyCompact"`,
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
