// Shared helpers for end-to-end tests: the real agent as a child process, real servers, and
// ClickHouse queries over HTTP.
import { spawn, ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { authHeaders, localClickHouse, writerEnv } from '../../demo/localClickHouse';

export const ROOT = join(__dirname, '..', '..', '..', '..');
/** The local server has no user without a password: tests write and read as its writer. */
export const LOCAL_CLICKHOUSE = localClickHouse();
export const CLICKHOUSE_URL =
  process.env.FLOWLENS_TEST_CLICKHOUSE_URL ?? `http://127.0.0.1:${process.env.FLOWLENS_CH_HTTP_PORT || 18123}`;
/** Headers that authenticate a request to the local ClickHouse (as its writer). */
export const CLICKHOUSE_AUTH = authHeaders(LOCAL_CLICKHOUSE.writer);
export const AGENT_MAIN = join(ROOT, 'build', 'agent', 'src', 'agent', 'main.js');

export async function chQuery<T = Record<string, unknown>>(sql: string, url = CLICKHOUSE_URL): Promise<T[]> {
  const res = await fetch(`${url}/?default_format=JSONEachRow`, {
    method: 'POST',
    body: sql,
    headers: CLICKHOUSE_AUTH,
  });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`ClickHouse ${res.status}: ${text.slice(0, 500)} (query: ${sql.slice(0, 200)})`);
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

export async function requireClickHouse(): Promise<void> {
  try {
    await chQuery('SELECT 1');
  } catch (err) {
    throw new Error(
      `the local ClickHouse is not reachable at ${CLICKHOUSE_URL} (${(err as Error).message}): run scripts/clickhouse.sh start`
    );
  }
}

export interface AgentHandle {
  proc: ChildProcess;
  output: () => string;
  /** SIGINT, then resolves with the exit code once the agent flushed and exited. */
  stop: () => Promise<number>;
}

/** A test agent's environment: the local writer's credentials, then ours, then `env`. The URL
 * comes from the config file (an exported FLOWLENS_CLICKHOUSE_URL would override it). */
function agentEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...writerEnv(), ...process.env };
  delete out.FLOWLENS_CLICKHOUSE_URL;
  return { ...out, ...env };
}

/** Starts the built agent with `config` (JSON) and waits for its "ready" line. */
export async function startAgent(config: object, env: NodeJS.ProcessEnv = {}, timeoutMs = 20000): Promise<AgentHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-agent-'));
  const cfgPath = join(dir, 'config.json');
  writeFileSync(cfgPath, JSON.stringify({ clickhouseUrl: CLICKHOUSE_URL, ...config }));
  const proc = spawn(process.execPath, [AGENT_MAIN, '--config', cfgPath], {
    env: agentEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`agent not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      if (out.includes('flowlens-agent: ready')) {
        clearTimeout(t);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', () => {
      clearTimeout(t);
      reject(new Error(`agent exited before ready:\n${out}`));
    });
  });
  return {
    proc,
    output: () => out,
    stop: async () => {
      proc.kill('SIGINT');
      return exited;
    },
  };
}

/** Runs the agent to completion (for startup errors) and returns its exit code and output. */
export async function runAgent(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 20000
): Promise<{ code: number; output: string }> {
  const proc = spawn(process.execPath, [AGENT_MAIN, ...args], {
    env: agentEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const code = await new Promise<number>((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', (c) => {
      clearTimeout(t);
      resolve(c ?? -1);
    });
  });
  return { code, output: out };
}

export interface Nginx {
  port: number;
  masterPid: number;
  workerPids: () => number[];
  stop: () => Promise<void>;
}

/** Debian's nginx on loopback: /ok -> 200, /fail -> 500, anything else 404. */
export async function startNginx(port: number): Promise<Nginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'flowlens-nginx-'));
  mkdirSync(join(prefix, 'logs'));
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port};
    location = /ok { default_type text/plain; return 200 "ok\\n"; }
    location = /fail { return 500; }
    location / { return 404; }
  }
}
`
  );
  const proc = spawn('/usr/sbin/nginx', ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
  await waitForPort(port);
  return {
    port,
    masterPid: proc.pid!,
    workerPids: () => childPids(proc.pid!),
    stop: async () => {
      proc.kill('SIGQUIT');
      await new Promise((r) => proc.on('exit', r));
    },
  };
}

export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function waitForPort(port: number, timeoutMs = 10000): Promise<void> {
  const net = await import('node:net');
  const start = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) {
      return;
    }
    if (Date.now() - start > timeoutMs) {
      throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** curl one URL; returns the status code, curl's own total time (µs) and curl's pid. */
export async function curl(url: string): Promise<{ code: number; totalUs: number; pid: number }> {
  const proc = spawn('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  await new Promise((r) => proc.on('exit', r));
  const [code, total] = out.trim().split(' ');
  return { code: Number(code), totalUs: Math.round(Number(total) * 1e6), pid: proc.pid! };
}

export function freeDatabase(name: string): Promise<unknown> {
  return chQuery(`DROP DATABASE IF EXISTS ${name}`);
}

export function assertRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('end-to-end tests load eBPF programs: run them as root');
  }
  execFileSync('true');
}

/**
 * The request logs of one protocol on one server port, one sorted line per distinct row:
 * `observation_point client->server domain type|resource|endpoint|code|status|exception[ xN]`.
 */
export async function describeL7Rows(db: string, protocol: string, port: number): Promise<string[]> {
  const rows = await chQuery<Record<string, string | number>>(
    `SELECT observation_point, client_process, server_process, request_domain, request_type, request_resource, endpoint, response_code,
            response_status, response_exception, count() AS n
     FROM ${db}.l7_flow_log WHERE l7_protocol = '${protocol}' AND server_port = ${port}
     GROUP BY observation_point, client_process, server_process, request_domain, request_type, request_resource, endpoint, response_code,
              response_status, response_exception`
  );
  return rows
    .map(
      (r) =>
        `${r.observation_point} ${r.client_process}->${r.server_process} ${r.request_domain} ${r.request_type}|${r.request_resource}|${r.endpoint}|${r.response_code}|${r.response_status}|${r.response_exception}${Number(r.n) > 1 ? ` x${r.n}` : ''}`
    )
    .sort();
}

/** Distinct (trace_id, span_id) of one protocol's rows that carry a trace id. */
export function tracedIds(db: string, protocol: string): Promise<Array<{ trace_id: string; span_id: string }>> {
  return chQuery(
    `SELECT DISTINCT trace_id, span_id FROM ${db}.l7_flow_log WHERE l7_protocol = '${protocol}' AND trace_id != ''`
  );
}

/** Rows whose stored text fields contain `secret` (case-insensitive): must be 0. */
export async function rowsContaining(db: string, secret: string): Promise<number> {
  const [{ n }] = await chQuery<{ n: string }>(
    `SELECT count() AS n FROM ${db}.l7_flow_log
     WHERE positionCaseInsensitive(concat(request_type, request_domain, request_resource, endpoint, response_exception), '${secret}') > 0`
  );
  return Number(n);
}
