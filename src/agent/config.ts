// Agent configuration: defaults < JSON file (--config) < environment. Every bad value is reported
// as one line naming the key, the value and what is accepted.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import {
  applyProfilingEnv,
  checkProfiling,
  defaultProfilingConfig,
  ProfilingConfig,
} from './profiling/profilingConfig';
import { DEFAULT_MAX_CONNECTIONS } from './conntrack/connectionTable';
import { DEFAULT_MAX_PROCESSES } from './conntrack/processTable';
import { DEFAULT_MAX_PACKET_FLOWS } from './network/packets/packetFlows';
import { DEFAULT_MAX_RED_ROWS_PER_SECOND } from './metrics/redAggregator';
import type { KubernetesConfig } from './tags/kubeSource';

export interface ServiceRule {
  name: string;
  /** process name (comm) to match */
  process?: string;
  /** local listening port to match (server side) */
  port?: number;
}

export interface AgentConfig {
  clickhouseUrl: string;
  clickhouseUser: string;
  clickhousePassword: string;
  database: string;
  /** Payload bytes captured per syscall (kernel side); 16..4096. */
  captureBytes: number;
  ringBytes: number;
  /** How often the ring is drained (ms). */
  drainIntervalMs: number;
  flushIntervalMs: number;
  batchRows: number;
  /** Rows kept in memory per table while ClickHouse is unreachable; beyond, the oldest are dropped and counted. */
  maxQueuedRows: number;
  /** Encoded bytes queued for ClickHouse, all tables and INSERTs in flight together; past it the oldest request logs go first, metrics last. */
  maxQueuedBytes: number;
  /** A request without a response after this long is logged as a timeout. */
  requestTimeoutMs: number;
  host: string;
  services: ServiceRule[];
  /** Ports whose traffic is never traced (the local ClickHouse by default, so the agent does not trace its own exports). */
  ignorePorts: number[];
  statusIntervalMs: number;
  /** Decrypt TLS by uprobes on OpenSSL (every libssl found, and binaries that link it statically). */
  tls: boolean;
  /** Extra binaries or libraries with OpenSSL symbols to probe (e.g. a statically linked server). */
  tlsLibraries: string[];
  /** Extra regular expressions whose matches in stored fields are replaced by *** (defaults cover ?token=, password=, ...). */
  redactPatterns: string[];
  /** The network layer: packet capture on interfaces (Network Profile, NIC request logs). */
  network: NetworkConfig;
  /**
   * Scheduling niceness of the agent's main thread (-20..19). Above 0 the services on the host win
   * the CPU when it is contended; the kernel ring absorbs the backlog (drops are counted).
   */
  nice: number;
  /** L4 flow logs and net_metrics from TCP tracepoints (bytes, RTT, SYN latency, retransmissions, RSTs). */
  flowLog: boolean;
  /** An open flow gets an l4_flow_log row this often (seconds); every flow also gets one at close. */
  flowLogIntervalSec: number;
  /** Continuous profiling (on-CPU samples, off-CPU blocked time); FLOWLENS_PROFILING_* variables. */
  profiling: ProfilingConfig;
  /** Bounds of the agent's tables, in entries (least recently used evicted beyond, counted in the status line). */
  limits: LimitsConfig;
  /** Automatic process, container and Kubernetes tags (src/agent/tags) and the process_tags dimension table. */
  tags: boolean;
  /** Where the pods of this node are read (kubelet read-only port, else the API server); both '' = no Kubernetes. */
  kubernetes: KubernetesConfig;
}

export interface LimitsConfig {
  /** live connections (a socket, or a socket and one peer for UDP); an evicted one is settled as if idle */
  connections: number;
  /** processes named (pid -> name) */
  processes: number;
  /** flows followed by packet capture (tcp_timeline, NIC request logs) */
  packetFlows: number;
  /** app_metrics rows per second; requests of further new series that second count in an (other) row */
  redRowsPerSecond: number;
}

export interface PacketCaptureConfig {
  enabled: boolean;
  /** interface names; empty = every non-loopback interface that is up */
  interfaces: string[];
  /** extra network namespaces to watch (names under /var/run/netns, or paths like /proc/PID/ns/net) */
  netns: string[];
  /** watch the agent's own namespace */
  hostNamespace: boolean;
  /** payload bytes kept per packet after the TCP/UDP header */
  payloadBytes: number;
  /** ring buffer per interface */
  ringBytes: number;
}

export interface NetworkConfig {
  capture: PacketCaptureConfig;
}

export class ConfigError extends Error {}

export const DEFAULT_CLICKHOUSE_URL = 'http://127.0.0.1:18123';

export function defaultConfig(): AgentConfig {
  return {
    clickhouseUrl: DEFAULT_CLICKHOUSE_URL,
    clickhouseUser: 'default',
    clickhousePassword: '',
    database: 'flowlens',
    captureBytes: 1024,
    ringBytes: 16 << 20,
    drainIntervalMs: 20,
    flushIntervalMs: 1000,
    batchRows: 20000,
    maxQueuedRows: 500000,
    maxQueuedBytes: 64 << 20, // an idle agent with profiling is ~170 MB RSS here: with a full queue it stays under its 256 MB target
    requestTimeoutMs: 30000,
    host: hostname(),
    services: [],
    ignorePorts: [],
    statusIntervalMs: 10000,
    tls: true,
    tlsLibraries: [],
    redactPatterns: [],
    network: {
      capture: { enabled: true, interfaces: [], netns: [], hostNamespace: true, payloadBytes: 256, ringBytes: 2 << 20 },
    },
    nice: 0,
    flowLog: true,
    flowLogIntervalSec: 60,
    profiling: defaultProfilingConfig(),
    limits: {
      connections: DEFAULT_MAX_CONNECTIONS,
      processes: DEFAULT_MAX_PROCESSES,
      packetFlows: DEFAULT_MAX_PACKET_FLOWS,
      redRowsPerSecond: DEFAULT_MAX_RED_ROWS_PER_SECOND,
    },
    tags: true,
    kubernetes: { kubeletUrl: '', apiServerUrl: '', tokenFile: '', caFile: '', nodeName: hostname(), refreshSec: 10 },
  };
}

type Checker = (key: string, v: unknown) => unknown;

const int =
  (min: number, max: number): Checker =>
  (key, v) => {
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`config ${key}=${JSON.stringify(v)} is invalid: expected an integer from ${min} to ${max}`);
    }
    return n;
  };

const str: Checker = (key, v) => {
  if (typeof v !== 'string') {
    throw new ConfigError(`config ${key}=${JSON.stringify(v)} is invalid: expected a string`);
  }
  return v;
};

const url: Checker = (key, v) => {
  const s = str(key, v) as string;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError(
      `config ${key}=${JSON.stringify(v)} is invalid: expected an http(s) URL such as ${DEFAULT_CLICKHOUSE_URL}`
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(
      `config ${key}=${JSON.stringify(v)} is invalid: ClickHouse is reached over http:// or https://`
    );
  }
  return s.replace(/\/+$/, '');
};

const identifier: Checker = (key, v) => {
  const s = str(key, v) as string;
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(s)) {
    throw new ConfigError(
      `config ${key}=${JSON.stringify(v)} is invalid: expected a database name of letters, digits and _`
    );
  }
  return s;
};

const ports: Checker = (key, v) => {
  const list = typeof v === 'string' ? v.split(',').filter((x) => x.trim() !== '') : v;
  if (!Array.isArray(list) || list.length > 4) {
    throw new ConfigError(`config ${key}=${JSON.stringify(v)} is invalid: expected up to 4 ports`);
  }
  return list.map((p) => int(1, 65535)(key, p));
};

const services: Checker = (key, v) => {
  if (!Array.isArray(v)) {
    throw new ConfigError(`config ${key} is invalid: expected a list of {name, process?, port?}`);
  }
  return v.map((r, i) => {
    if (
      typeof r !== 'object' ||
      r === null ||
      typeof (r as ServiceRule).name !== 'string' ||
      !(r as ServiceRule).name
    ) {
      throw new ConfigError(`config ${key}[${i}] is invalid: each rule needs a non-empty "name"`);
    }
    const rule = r as ServiceRule;
    if (rule.process === undefined && rule.port === undefined) {
      throw new ConfigError(`config ${key}[${i}] is invalid: give "process" or "port" to match`);
    }
    if (rule.port !== undefined) {
      int(1, 65535)(`${key}[${i}].port`, rule.port);
    }
    return rule;
  });
};

const bool: Checker = (key, v) => {
  if (v === true || v === 'true' || v === '1') {
    return true;
  }
  if (v === false || v === 'false' || v === '0') {
    return false;
  }
  throw new ConfigError(`config ${key}=${JSON.stringify(v)} is invalid: expected true or false`);
};

const paths: Checker = (key, v) => {
  const list = typeof v === 'string' ? v.split(',').filter((x) => x.trim() !== '') : v;
  if (!Array.isArray(list) || list.some((p) => typeof p !== 'string' || !p.startsWith('/'))) {
    throw new ConfigError(`config ${key}=${JSON.stringify(v)} is invalid: expected a list of absolute paths`);
  }
  return list;
};

const names: Checker = (key, v) => {
  const list =
    typeof v === 'string'
      ? v
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x !== '')
      : v;
  if (
    !Array.isArray(list) ||
    list.some((n) => typeof n !== 'string' || n === '' || n.length > 255 || n.includes('..'))
  ) {
    throw new ConfigError(`config ${key}=${JSON.stringify(v)} is invalid: expected a list of names`);
  }
  return list;
};

const CAPTURE_SCHEMA: Record<keyof PacketCaptureConfig, Checker> = {
  enabled: bool,
  interfaces: names,
  netns: names,
  hostNamespace: bool,
  payloadBytes: int(0, 4096),
  ringBytes: int(1 << 19, 1 << 30),
};

/** `network`: {capture: {...}}; keys left out keep their defaults. */
const network: Checker = (key, v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ConfigError(`config ${key} is invalid: expected an object such as {"capture": {"interfaces": ["eth0"]}}`);
  }
  const out = defaultConfig().network;
  for (const [k, sub] of Object.entries(v)) {
    if (k !== 'capture') {
      throw new ConfigError(`config ${key}: unknown key "${k}" (known keys: capture)`);
    }
    if (typeof sub !== 'object' || sub === null || Array.isArray(sub)) {
      throw new ConfigError(`config ${key}.capture is invalid: expected an object`);
    }
    for (const [ck, cv] of Object.entries(sub)) {
      if (!(ck in CAPTURE_SCHEMA)) {
        throw new ConfigError(
          `config ${key}.capture: unknown key "${ck}" (known keys: ${Object.keys(CAPTURE_SCHEMA).join(', ')})`
        );
      }
      (out.capture as unknown as Record<string, unknown>)[ck] = CAPTURE_SCHEMA[ck as keyof PacketCaptureConfig](
        `${key}.capture.${ck}`,
        cv
      );
    }
  }
  return out;
};

const LIMITS_SCHEMA: Record<keyof LimitsConfig, Checker> = {
  connections: int(1024, 10_000_000),
  processes: int(1024, 10_000_000),
  packetFlows: int(256, 10_000_000),
  redRowsPerSecond: int(100, 10_000_000),
};

/** `limits`: {connections, processes, packetFlows, redRowsPerSecond}; keys left out keep their defaults. */
const limits: Checker = (key, v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ConfigError(`config ${key} is invalid: expected an object such as {"connections": 65536}`);
  }
  const out = defaultConfig().limits;
  for (const [k, lv] of Object.entries(v)) {
    if (!(k in LIMITS_SCHEMA)) {
      throw new ConfigError(`config ${key}: unknown key "${k}" (known keys: ${Object.keys(LIMITS_SCHEMA).join(', ')})`);
    }
    out[k as keyof LimitsConfig] = LIMITS_SCHEMA[k as keyof LimitsConfig](`${key}.${k}`, lv) as number;
  }
  return out;
};

const SCHEMA: Record<keyof AgentConfig, Checker> = {
  clickhouseUrl: url,
  clickhouseUser: str,
  clickhousePassword: str,
  database: identifier,
  captureBytes: int(16, 4096),
  ringBytes: int(1 << 16, 1 << 30),
  drainIntervalMs: int(1, 1000),
  flushIntervalMs: int(50, 60000),
  batchRows: int(1, 1_000_000),
  maxQueuedRows: int(1000, 50_000_000),
  maxQueuedBytes: int(1 << 20, 4 * 2 ** 30),
  requestTimeoutMs: int(100, 3_600_000),
  host: str,
  services,
  ignorePorts: ports,
  statusIntervalMs: int(0, 3_600_000),
  tls: bool,
  tlsLibraries: paths,
  network,
  nice: int(-20, 19),
  flowLog: bool,
  flowLogIntervalSec: int(1, 3600),
  redactPatterns: (key, v) => {
    if (!Array.isArray(v) || v.some((p) => typeof p !== 'string')) {
      throw new ConfigError(`config ${key} is invalid: expected a list of regular expressions`);
    }
    v.forEach((p: string, i: number) => {
      try {
        new RegExp(p);
      } catch (err) {
        throw new ConfigError(`config ${key}[${i}]=${JSON.stringify(p)} is invalid: ${(err as Error).message}`);
      }
    });
    return v;
  },
  limits,
  tags: bool,
  kubernetes: (key, v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new ConfigError(
        `config ${key} is invalid: expected an object with ${Object.keys(KUBERNETES_SCHEMA).join(', ')}`
      );
    }
    const out = { ...defaultConfig().kubernetes } as unknown as Record<string, unknown>;
    for (const [k, x] of Object.entries(v)) {
      if (!(k in KUBERNETES_SCHEMA)) {
        throw new ConfigError(
          `config ${key}.${k}: unknown key (known keys: ${Object.keys(KUBERNETES_SCHEMA).join(', ')})`
        );
      }
      out[k] = KUBERNETES_SCHEMA[k as keyof KubernetesConfig](`${key}.${k}`, x);
    }
    return out;
  },
  profiling: (key, v) =>
    checkProfiling(key, v, (m) => {
      throw new ConfigError(m);
    }),
};

const ENV: Partial<Record<keyof AgentConfig, string>> = {
  clickhouseUrl: 'FLOWLENS_CLICKHOUSE_URL',
  clickhouseUser: 'FLOWLENS_CLICKHOUSE_USER',
  clickhousePassword: 'FLOWLENS_CLICKHOUSE_PASSWORD',
  database: 'FLOWLENS_DATABASE',
  captureBytes: 'FLOWLENS_CAPTURE_BYTES',
  maxQueuedBytes: 'FLOWLENS_MAX_QUEUED_BYTES',
  host: 'FLOWLENS_HOST',
  ignorePorts: 'FLOWLENS_IGNORE_PORTS',
  tls: 'FLOWLENS_TLS',
  tlsLibraries: 'FLOWLENS_TLS_LIBRARIES',
  nice: 'FLOWLENS_NICE',
  flowLog: 'FLOWLENS_FLOW_LOG',
  flowLogIntervalSec: 'FLOWLENS_FLOW_LOG_INTERVAL_SEC',
  tags: 'FLOWLENS_TAGS',
};

/** Environment overrides of network.capture.* */
const CAPTURE_ENV: Partial<Record<keyof PacketCaptureConfig, string>> = {
  enabled: 'FLOWLENS_PACKET_CAPTURE',
  interfaces: 'FLOWLENS_CAPTURE_INTERFACES',
  netns: 'FLOWLENS_CAPTURE_NETNS',
  payloadBytes: 'FLOWLENS_CAPTURE_PAYLOAD_BYTES',
};

const optionalUrl: Checker = (key, v) => (v === '' ? '' : url(key, v));

const KUBERNETES_SCHEMA: Record<keyof KubernetesConfig, Checker> = {
  kubeletUrl: optionalUrl,
  apiServerUrl: optionalUrl,
  tokenFile: str,
  caFile: str,
  nodeName: str,
  refreshSec: int(1, 3600),
};

/** Environment overrides of kubernetes.* */
const KUBERNETES_ENV: Record<keyof KubernetesConfig, string> = {
  kubeletUrl: 'FLOWLENS_KUBELET_URL',
  apiServerUrl: 'FLOWLENS_KUBE_API_URL',
  tokenFile: 'FLOWLENS_KUBE_TOKEN_FILE',
  caFile: 'FLOWLENS_KUBE_CA_FILE',
  nodeName: 'FLOWLENS_NODE_NAME',
  refreshSec: 'FLOWLENS_KUBE_REFRESH_SEC',
};

/** Environment overrides of limits.* */
const LIMITS_ENV: Record<keyof LimitsConfig, string> = {
  connections: 'FLOWLENS_LIMIT_CONNECTIONS',
  processes: 'FLOWLENS_LIMIT_PROCESSES',
  packetFlows: 'FLOWLENS_LIMIT_PACKET_FLOWS',
  redRowsPerSecond: 'FLOWLENS_LIMIT_RED_ROWS_PER_SECOND',
};

export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const cfg = defaultConfig() as unknown as Record<string, unknown>;
  const apply = (key: string, value: unknown, source: string) => {
    if (!(key in SCHEMA)) {
      throw new ConfigError(`config ${source}: unknown key "${key}" (known keys: ${Object.keys(SCHEMA).join(', ')})`);
    }
    cfg[key] = SCHEMA[key as keyof AgentConfig](key, value);
  };
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`config file ${file} cannot be read as JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${file} must hold a JSON object`);
    }
    for (const [k, v] of Object.entries(parsed)) {
      apply(k, v, file);
    }
  }
  for (const [key, name] of Object.entries(ENV)) {
    if (name && env[name] !== undefined && env[name] !== '') {
      apply(key, env[name], `environment ${name}`);
    }
  }
  for (const [ck, name] of Object.entries(CAPTURE_ENV)) {
    if (env[name] !== undefined && env[name] !== '') {
      const capture = (cfg.network as NetworkConfig).capture as unknown as Record<string, unknown>;
      capture[ck] = CAPTURE_SCHEMA[ck as keyof PacketCaptureConfig](`environment ${name}`, env[name]);
    }
  }
  for (const [lk, name] of Object.entries(LIMITS_ENV)) {
    if (env[name] !== undefined && env[name] !== '') {
      (cfg.limits as LimitsConfig)[lk as keyof LimitsConfig] = LIMITS_SCHEMA[lk as keyof LimitsConfig](
        `environment ${name}`,
        env[name]
      ) as number;
    }
  }
  for (const [kk, name] of Object.entries(KUBERNETES_ENV)) {
    if (env[name] !== undefined && env[name] !== '') {
      (cfg.kubernetes as Record<string, unknown>)[kk] = KUBERNETES_SCHEMA[kk as keyof KubernetesConfig](
        `environment ${name}`,
        env[name]
      );
    }
  }
  const c = cfg as unknown as AgentConfig;
  c.profiling = applyProfilingEnv(c.profiling, env, (m) => {
    throw new ConfigError(m);
  });
  // Never trace the agent's own store when it is on this host.
  const u = new URL(c.clickhouseUrl);
  if (['127.0.0.1', 'localhost', '::1', '[::1]'].includes(u.hostname)) {
    const p = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    if (!c.ignorePorts.includes(p)) {
      c.ignorePorts = [p, ...c.ignorePorts].slice(0, 4);
    }
  }
  return c;
}
