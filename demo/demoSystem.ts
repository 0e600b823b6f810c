// The demo system: real services calling each other, started either on the namespace test bed
// (one network namespace per host, as pods on a node) or, where namespaces are not available, on
// loopback. Used by the main job (demo/runDemo.ts) and by the end-to-end tests.
//
//   netbed:   client ─► gw: nginx :80 ─► slb: toxiproxy :8001 ─► front: frontend (Node) :3000
//                        ─► back: backend (Python) :8000 ─► db: postgres :5432, redis :6379
//   loopback: loadgen ─► nginx :28180 ─► frontend :28181 ─► backend :28182 ─► postgres :28183, redis :28184
//
// The request id is born at the gateway only (X-Request-ID); every other link of a trace comes
// from the agent (syscall_trace_id, TCP sequence numbers, NIC captures).
import { spawn, spawnSync, ChildProcess, SpawnOptions } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { Netbed, Proxy, TOXIPROXY_BIN } from '../test/e2e/netbed/netbed';

export const REPO_ROOT = join(__dirname, '..', '..', '..');
const DEMO = join(REPO_ROOT, 'demo');

export type Layout = 'netbed' | 'loopback';
export type Role = 'client' | 'gateway' | 'slb' | 'frontend' | 'backend' | 'postgres' | 'redis';

export interface Endpoint {
  role: Role;
  /** netbed host name, or 'localhost' */
  host: string;
  ip: string;
  port: number;
  /** network namespace (netbed) */
  ns?: string;
  /** the program serving it (process name as the agent reports it) */
  process: string;
}

export interface DemoOptions {
  /** 'auto' (default): the netbed when root and namespaces work, else loopback */
  layout?: Layout | 'auto';
  /** where nginx's prefix and generated files go */
  dataDir: string;
  /** share of reservations the backend fails with 500 (default 0.2) */
  failRate?: number;
  /** stdio of the services (default: ignore stdout, inherit stderr) */
  stdio?: SpawnOptions['stdio'];
  log?: (line: string) => void;
  /** extra environment of the frontend (e.g. DNS_SERVER on the db host) and node flags (e.g. --perf-basic-prof) */
  frontendEnv?: (endpoints: Partial<Record<Role, Endpoint>>) => NodeJS.ProcessEnv;
  frontendNodeFlags?: string[];
}

export interface DemoSystem {
  layout: Layout;
  /** why this layout (the fallback's reason) */
  why: string;
  bed?: Netbed;
  /** the load balancer hop between gateway and frontend (netbed only) */
  slb?: Proxy;
  endpoints: Partial<Record<Role, Endpoint>>;
  /** base URL of the gateway as the client host reaches it */
  gatewayUrl: string;
  /** one line per hop: what runs where */
  describe(): string[];
  /** the agent settings the layout needs: service names and, on the netbed, NIC capture in its namespaces */
  agentConfig(): { services: Array<{ name: string; port?: number; process?: string }>; network?: object };
  /** starts a program on the client host (netbed: inside its namespace) */
  spawnClient(argv: string[], opts?: SpawnOptions): ChildProcess;
  /** runs a program on the client host to completion */
  runClient(
    argv: string[],
    env?: NodeJS.ProcessEnv,
    timeoutMs?: number
  ): Promise<{ status: number; stdout: string; stderr: string; ms: number }>;
  stop(): Promise<void>;
}

const PG_BIN = (() => {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'postgres')))
    : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0], 'bin') : '';
})();

function run(argv: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): string {
  const r = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    input: opts.input,
    timeout: 60000,
  });
  if (r.status !== 0) {
    throw new Error(
      `\`${argv.join(' ')}\` failed (${r.status ?? r.error}): ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' ')}`
    );
  }
  return r.stdout;
}

async function waitTcp(
  ip: string,
  port: number,
  what: string,
  alive: () => boolean,
  inNs?: (argv: string[]) => string[],
  timeoutMs = 30000
): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    let ok: boolean;
    if (inNs) {
      const argv = inNs(['ss', '-Hltn', `sport = :${port}`]);
      ok = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' }).stdout.trim() !== '';
    } else {
      ok = await new Promise<boolean>((r) => {
        const s = net.connect(port, ip, () => (s.destroy(), r(true)));
        s.on('error', () => r(false));
      });
    }
    if (ok) {
      return;
    }
    if (!alive()) {
      throw new Error(`${what} exited before listening on ${ip}:${port}`);
    }
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(`${what} did not listen on ${ip}:${port} within ${timeoutMs / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Why the netbed cannot be used here, or '' when it can. */
export function netbedUnavailable(): string {
  if (process.getuid?.() !== 0) {
    return 'not root';
  }
  const probe = `flnb-${process.pid}-probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0) {
    return `network namespaces unavailable (${(add.stderr || String(add.error)).trim()})`;
  }
  spawnSync('ip', ['netns', 'del', probe]);
  return '';
}

/** Starts the demo system. Throws (after cleaning up) when a part does not come up. */
export async function startDemoSystem(o: DemoOptions): Promise<DemoSystem> {
  const log = o.log ?? (() => undefined);
  let layout: Layout;
  let why: string;
  const blocker = o.layout === 'loopback' ? 'asked for' : netbedUnavailable();
  if (blocker === '') {
    layout = 'netbed';
    why = 'root and network namespaces available';
  } else if (o.layout === 'netbed') {
    throw new Error(`the netbed layout needs root and network namespaces: ${blocker}`);
  } else {
    layout = 'loopback';
    why = blocker === 'asked for' ? 'loopback layout asked for' : `netbed unavailable: ${blocker}`;
  }
  if (!PG_BIN) {
    throw new Error('PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres): run scripts/setup.sh');
  }
  mkdirSync(o.dataDir, { recursive: true });
  const stdio = o.stdio ?? ['ignore', 'ignore', 'inherit'];
  const bed = layout === 'netbed' ? Netbed.create(['client', 'gw', 'slb', 'front', 'back', 'db']) : undefined;
  const local: ChildProcess[] = [];
  const pgDir = mkdtempSync(join(tmpdir(), 'flowlens-demo-pg-'));
  const cleanups: Array<() => void> = [() => rmSync(pgDir, { recursive: true, force: true })];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) {
      return;
    }
    stopped = true;
    if (bed) {
      bed.destroy();
    }
    for (const p of local) {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill(p === pgProc ? 'SIGINT' : 'SIGTERM');
      }
    }
    await Promise.all(
      local.map((p) =>
        p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined
      )
    );
    for (const c of cleanups) {
      c();
    }
  };
  let pgProc: ChildProcess | undefined;

  const ep = (role: Role, host: string, port: number, proc: string): Endpoint =>
    bed
      ? { role, host, ip: bed.ip(host), port, ns: bed.host(host).ns, process: proc }
      : { role, host: 'localhost', ip: '127.0.0.1', port, process: proc };
  const nb = layout === 'netbed';
  const endpoints: Partial<Record<Role, Endpoint>> = {
    client: ep('client', 'client', 0, 'loadgen'),
    gateway: ep('gateway', 'gw', nb ? 80 : 28180, 'nginx'),
    frontend: ep('frontend', 'front', nb ? 3000 : 28181, 'frontend'),
    backend: ep('backend', 'back', nb ? 8000 : 28182, 'python3'),
    postgres: ep('postgres', 'db', nb ? 5432 : 28183, 'postgres'),
    redis: ep('redis', 'db', nb ? 6379 : 28184, 'redis-server'),
  };
  const toxiproxy = nb && existsSync(TOXIPROXY_BIN);
  if (toxiproxy) {
    endpoints.slb = ep('slb', 'slb', 8001, 'toxiproxy-serve');
  }
  const start = (
    e: Endpoint,
    argv: string[],
    env: NodeJS.ProcessEnv = {},
    io: SpawnOptions['stdio'] = stdio
  ): ChildProcess => {
    const opts: SpawnOptions = { stdio: io, env: { ...process.env, ...env } };
    if (bed) {
      return bed.spawn(e.host, argv, opts);
    }
    const p = spawn(argv[0], argv.slice(1), opts);
    local.push(p);
    return p;
  };
  const listening = (e: Endpoint, p: ChildProcess, what: string) =>
    waitTcp(
      e.ip,
      e.port,
      what,
      () => p.exitCode === null && p.signalCode === null,
      bed ? (argv) => bed.nsArgv(e.host, argv) : undefined
    );

  try {
    // postgres: a fresh cluster in a temp dir, run as the postgres user, trusting the demo's clients
    const pg = endpoints.postgres!;
    const asPostgres = ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups'];
    chmodSync(pgDir, 0o700);
    chownSync(pgDir, Number(run(['id', '-u', 'postgres']).trim()), Number(run(['id', '-g', 'postgres']).trim()));
    run([
      ...asPostgres,
      join(PG_BIN, 'initdb'),
      '-D',
      join(pgDir, 'data'),
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    appendFileSync(join(pgDir, 'data', 'pg_hba.conf'), `host all all ${pg.ip.replace(/\.\d+$/, '.0')}/24 trust\n`);
    const pgLog = openSync(join(pgDir, 'postgres.log'), 'a'); // its LOG lines would drown the output
    pgProc = start(
      pg,
      [
        ...asPostgres,
        join(PG_BIN, 'postgres'),
        '-D',
        join(pgDir, 'data'),
        '-p',
        String(pg.port),
        '-k',
        pgDir,
        '-c',
        `listen_addresses=${pg.ip}`,
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
      ],
      {},
      ['ignore', 'ignore', pgLog]
    );
    closeSync(pgLog);
    await listening(pg, pgProc, 'postgres');
    const createdb = [
      ...asPostgres,
      join(PG_BIN, 'psql'),
      '-h',
      pg.ip,
      '-p',
      String(pg.port),
      '-U',
      'postgres',
      '-X',
      '-q',
      '-c',
      'CREATE DATABASE shop',
    ];
    // postgres listens before it accepts connections ("the database system is starting up"): poll
    for (let i = 0; ; i++) {
      try {
        run(bed ? bed.nsArgv('back', createdb) : createdb);
        break;
      } catch (err) {
        if (i >= 100 || !/starting up/.test(String(err))) {
          throw err;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    const rd = endpoints.redis!;
    const redis = start(rd, [
      'redis-server',
      '--port',
      String(rd.port),
      '--bind',
      rd.ip,
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      pgDir,
      '--protected-mode',
      'no',
      '--enable-debug-command',
      'yes',
      '--loglevel',
      'warning',
    ]);
    await listening(rd, redis, 'redis-server');

    const be = endpoints.backend!;
    const backend = start(be, ['python3', join(DEMO, 'backend.py')], {
      BIND: be.ip,
      PORT: String(be.port),
      PG: `host=${pg.ip} port=${pg.port} user=postgres dbname=shop`,
      REDIS_HOST: rd.ip,
      REDIS_PORT: String(rd.port),
      FAIL_RATE: String(o.failRate ?? 0.2),
    });
    await listening(be, backend, 'the backend (python3 demo/backend.py)');

    const fe = endpoints.frontend!;
    const frontend = start(fe, [process.execPath, ...(o.frontendNodeFlags ?? []), join(DEMO, 'frontend.js')], {
      ...o.frontendEnv?.(endpoints),
      BIND: fe.ip,
      PORT: String(fe.port),
      BACKEND_HOST: be.ip,
      BACKEND_PORT: String(be.port),
    });
    await listening(fe, frontend, 'the frontend (node demo/frontend.js)');

    let slb: Proxy | undefined;
    let upstream = `${fe.ip}:${fe.port}`;
    if (bed && endpoints.slb) {
      slb = await bed.startProxy('slb', { listenPort: endpoints.slb.port, upstream, latencyMs: 0 });
      upstream = slb.listen;
    }

    const gw = endpoints.gateway!;
    const prefix = join(o.dataDir, 'nginx');
    mkdirSync(prefix, { recursive: true });
    const conf = readFileSync(join(DEMO, 'gateway.nginx.conf'), 'utf8')
      .replace(/__PREFIX__/g, prefix)
      .replace(/__LISTEN__/g, `${gw.ip}:${gw.port}`)
      .replace(/__UPSTREAM__/g, upstream);
    writeFileSync(join(prefix, 'nginx.conf'), conf);
    const nginx = start(gw, ['/usr/sbin/nginx', '-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;']);
    await listening(gw, nginx, 'the gateway (nginx)');
    log(`demo system up (${layout} layout: ${why})`);

    const services = (['gateway', 'slb', 'frontend', 'backend', 'postgres', 'redis'] as Role[])
      .filter((r) => endpoints[r])
      .map((r) => ({ name: r, port: endpoints[r]!.port }));
    const byProcess = [
      { name: 'gateway', process: 'nginx' },
      { name: 'frontend', process: 'frontend' },
      { name: 'backend', process: 'python3' },
      // profiles name a process by its pid alone (no port): postgres and redis by their programs too
      { name: 'postgres', process: 'postgres' },
      { name: 'redis', process: 'redis-server' },
      { name: 'loadgen', process: 'loadgen' },
      ...(slb ? [{ name: 'slb', process: 'toxiproxy-serve' }] : []),
    ];
    const sys: DemoSystem = {
      layout,
      why,
      bed,
      slb,
      endpoints,
      gatewayUrl: `http://${gw.ip}:${gw.port}`,
      describe: () => {
        const where = (r: Role) => {
          const e = endpoints[r]!;
          return `${r} (${e.process}) at ${e.ip}:${e.port}${e.ns ? ` in netns ${e.ns}` : ''}`;
        };
        const lines = [
          `client (loadgen)${bed ? ` in netns ${bed.host('client').ns}` : ' on loopback'}`,
          `-> ${where('gateway')}, adds X-Request-ID`,
        ];
        if (slb) {
          lines.push(`-> ${where('slb')}, a load balancer hop`);
        }
        lines.push(
          `-> ${where('frontend')}`,
          `-> ${where('backend')}`,
          `-> ${where('postgres')} and ${where('redis')}`
        );
        return lines;
      },
      agentConfig: () => ({
        services: [...services, ...byProcess],
        ...(bed
          ? {
              network: {
                capture: {
                  netns: Object.values(bed.hosts).map((h) => h.ns),
                  hostNamespace: false,
                  interfaces: ['eth0'],
                },
              },
            }
          : {}),
      }),
      spawnClient: (argv, opts = {}) => {
        if (bed) {
          return bed.spawn('client', argv, opts);
        }
        const p = spawn(argv[0], argv.slice(1), { stdio: 'ignore', ...opts });
        local.push(p);
        return p;
      },
      runClient: (argv, env = {}, timeoutMs = 60000) =>
        new Promise((resolve) => {
          const t0 = Date.now();
          const p = sys.spawnClient(argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
          let stdout = '';
          let stderr = '';
          p.stdout!.on('data', (d) => (stdout += d));
          p.stderr!.on('data', (d) => (stderr += d));
          const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
          p.on('close', (code) => {
            clearTimeout(t);
            resolve({ status: code ?? -1, stdout, stderr, ms: Date.now() - t0 });
          });
        }),
      stop,
    };
    return sys;
  } catch (err) {
    await stop();
    throw err;
  }
}
