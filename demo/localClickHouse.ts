// The users of the local ClickHouse of scripts/clickhouse.sh, for the demo and the tests: from the
// environment that `scripts/clickhouse.sh env` prints (scripts/test.sh, scripts/run.sh and
// bench/run.sh export it), else from the credentials file it keeps under the data directory.
// That server has no user without a password: the agent writes as FLOWLENS_CLICKHOUSE_USER,
// Grafana (and the datasource in tests) reads as FLOWLENS_CLICKHOUSE_GRAFANA_USER.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const REPO_ROOT = join(__dirname, '..', '..', '..');

export interface ClickHouseUser {
  user: string;
  password: string;
}

export interface LocalClickHouse {
  url: string;
  writer: ClickHouseUser;
  reader: ClickHouseUser;
}

/** NAME=value lines of the credentials file, read as data; {} when there is none yet. */
function credentialsFile(env: NodeJS.ProcessEnv): Record<string, string> {
  const file = join(env.FLOWLENS_DATA || join(REPO_ROOT, '.data'), 'clickhouse', 'credentials.env');
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) {
      out[
        line
          .slice(0, eq)
          .replace(/^export\s+/, '')
          .trim()
      ] = line.slice(eq + 1).trim();
    }
  }
  return out;
}

export function localClickHouse(env: NodeJS.ProcessEnv = process.env): LocalClickHouse {
  const file = credentialsFile(env);
  const get = (name: string, def: string) => env[name] || file[name] || def;
  return {
    url: get('FLOWLENS_CLICKHOUSE_URL', `http://127.0.0.1:${env.FLOWLENS_CH_HTTP_PORT || 18123}`).replace(/\/+$/, ''),
    writer: { user: get('FLOWLENS_CLICKHOUSE_USER', 'flowlens'), password: get('FLOWLENS_CLICKHOUSE_PASSWORD', '') },
    reader: {
      user: get('FLOWLENS_CLICKHOUSE_GRAFANA_USER', 'grafana'),
      password: get('FLOWLENS_CLICKHOUSE_GRAFANA_PASSWORD', ''),
    },
  };
}

/** HTTP headers that authenticate as `u` (ClickHouse's X-ClickHouse-User/Key, as in 18.16). */
export function authHeaders(u: ClickHouseUser): Record<string, string> {
  return { 'X-ClickHouse-User': u.user, 'X-ClickHouse-Key': u.password };
}

/** The agent's credentials as environment variables, for a child agent process. */
export function writerEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { writer } = localClickHouse(env);
  return { FLOWLENS_CLICKHOUSE_USER: writer.user, FLOWLENS_CLICKHOUSE_PASSWORD: writer.password };
}
