// The `profiling` section of the agent configuration and its FLOWLENS_PROFILING_* variables.
// Validation reports one line naming the key, like the rest of the configuration.

export interface OffCpuConfig {
  enabled: boolean;
  /** blocks shorter than this are not counted (µs) */
  minBlockUs: number;
  /** stacks captured per CPU per second when threads block; past it blocks are timed without a stack */
  maxCapturesPerSec: number;
}

export interface ProfilingConfig {
  enabled: boolean;
  /** on-CPU samples per second per CPU */
  hz: number;
  /** aggregation interval: one row per (thread, stack, event) per interval (ms) */
  intervalMs: number;
  offCpu: OffCpuConfig;
  /** profile only these processes (empty: every process except the agent) */
  pids: number[];
  /** distinct stacks the kernel keeps (LRU) */
  maxStacks: number;
  /** rows written per interval at most (the smallest stacks beyond are folded) */
  maxRowsPerInterval: number;
  /** time per interval for reading symbol tables of binaries not seen before (ms) */
  symbolizeBudgetMs: number;
}

export function defaultProfilingConfig(): ProfilingConfig {
  return {
    enabled: true,
    hz: 99,
    intervalMs: 1000,
    offCpu: { enabled: true, minBlockUs: 1000, maxCapturesPerSec: 10000 },
    pids: [],
    maxStacks: 8192,
    maxRowsPerInterval: 5000,
    symbolizeBudgetMs: 300,
  };
}

type Fail = (message: string) => never;

function intIn(key: string, v: unknown, min: number, max: number, fail: Fail): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    return fail(`config ${key}=${JSON.stringify(v)} is invalid: expected an integer from ${min} to ${max}`);
  }
  return n;
}

function boolOf(key: string, v: unknown, fail: Fail): boolean {
  if (v === true || v === 'true' || v === '1') {
    return true;
  }
  if (v === false || v === 'false' || v === '0') {
    return false;
  }
  return fail(`config ${key}=${JSON.stringify(v)} is invalid: expected true or false`);
}

function pidList(key: string, v: unknown, fail: Fail): number[] {
  const list = typeof v === 'string' ? v.split(',').filter((x) => x.trim() !== '') : v;
  if (!Array.isArray(list) || list.length > 1024) {
    return fail(`config ${key}=${JSON.stringify(v)} is invalid: expected a list of up to 1024 pids`);
  }
  return list.map((p, i) => intIn(`${key}[${i}]`, p, 1, 4_194_304, fail));
}

function objectOf(key: string, v: unknown, known: string[], fail: Fail): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return fail(`config ${key} is invalid: expected an object with ${known.join(', ')}`);
  }
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) {
      fail(`config ${key}: unknown key "${k}" (known keys: ${known.join(', ')})`);
    }
  }
  return v as Record<string, unknown>;
}

/** Validates a `profiling` object from the config file over `base` (the defaults). */
export function checkProfiling(key: string, v: unknown, fail: Fail, base = defaultProfilingConfig()): ProfilingConfig {
  const o = objectOf(key, v, Object.keys(base), fail);
  const c: ProfilingConfig = { ...base, offCpu: { ...base.offCpu } };
  if (o.enabled !== undefined) {
    c.enabled = boolOf(`${key}.enabled`, o.enabled, fail);
  }
  if (o.hz !== undefined) {
    c.hz = intIn(`${key}.hz`, o.hz, 1, 1000, fail);
  }
  if (o.intervalMs !== undefined) {
    c.intervalMs = intIn(`${key}.intervalMs`, o.intervalMs, 1000, 60000, fail);
  }
  if (o.pids !== undefined) {
    c.pids = pidList(`${key}.pids`, o.pids, fail);
  }
  if (o.maxStacks !== undefined) {
    c.maxStacks = intIn(`${key}.maxStacks`, o.maxStacks, 256, 1 << 20, fail);
  }
  if (o.maxRowsPerInterval !== undefined) {
    c.maxRowsPerInterval = intIn(`${key}.maxRowsPerInterval`, o.maxRowsPerInterval, 100, 1_000_000, fail);
  }
  if (o.symbolizeBudgetMs !== undefined) {
    c.symbolizeBudgetMs = intIn(`${key}.symbolizeBudgetMs`, o.symbolizeBudgetMs, 0, 60000, fail);
  }
  if (o.offCpu !== undefined) {
    const off = objectOf(`${key}.offCpu`, o.offCpu, Object.keys(base.offCpu), fail);
    if (off.enabled !== undefined) {
      c.offCpu.enabled = boolOf(`${key}.offCpu.enabled`, off.enabled, fail);
    }
    if (off.minBlockUs !== undefined) {
      c.offCpu.minBlockUs = intIn(`${key}.offCpu.minBlockUs`, off.minBlockUs, 1, 60_000_000, fail);
    }
    if (off.maxCapturesPerSec !== undefined) {
      c.offCpu.maxCapturesPerSec = intIn(`${key}.offCpu.maxCapturesPerSec`, off.maxCapturesPerSec, 0, 1_000_000, fail);
    }
  }
  return c;
}

/** Environment variables for the profiling section (applied after the file). */
export const PROFILING_ENV: Record<string, (c: ProfilingConfig, v: string, fail: Fail) => void> = {
  FLOWLENS_PROFILING: (c, v, fail) => (c.enabled = boolOf('profiling.enabled (FLOWLENS_PROFILING)', v, fail)),
  FLOWLENS_PROFILING_HZ: (c, v, fail) => (c.hz = intIn('profiling.hz (FLOWLENS_PROFILING_HZ)', v, 1, 1000, fail)),
  FLOWLENS_PROFILING_INTERVAL_MS: (c, v, fail) =>
    (c.intervalMs = intIn('profiling.intervalMs (FLOWLENS_PROFILING_INTERVAL_MS)', v, 1000, 60000, fail)),
  FLOWLENS_PROFILING_PIDS: (c, v, fail) => (c.pids = pidList('profiling.pids (FLOWLENS_PROFILING_PIDS)', v, fail)),
  FLOWLENS_PROFILING_OFFCPU: (c, v, fail) =>
    (c.offCpu.enabled = boolOf('profiling.offCpu.enabled (FLOWLENS_PROFILING_OFFCPU)', v, fail)),
  FLOWLENS_PROFILING_OFFCPU_MIN_BLOCK_US: (c, v, fail) =>
    (c.offCpu.minBlockUs = intIn(
      'profiling.offCpu.minBlockUs (FLOWLENS_PROFILING_OFFCPU_MIN_BLOCK_US)',
      v,
      1,
      60_000_000,
      fail
    )),
};

export function applyProfilingEnv(c: ProfilingConfig, env: NodeJS.ProcessEnv, fail: Fail): ProfilingConfig {
  const out: ProfilingConfig = { ...c, offCpu: { ...c.offCpu } };
  for (const [name, set] of Object.entries(PROFILING_ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') {
      set(out, v, fail);
    }
  }
  return out;
}
