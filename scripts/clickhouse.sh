#!/usr/bin/env bash
# Local ClickHouse (Debian's clickhouse-server) on loopback, data under $FLOWLENS_DATA/clickhouse.
# Usage: scripts/clickhouse.sh start|stop|status|url|env
#   env   prints export lines for the server's URL and users: eval "$(scripts/clickhouse.sh env)"
# Ports: FLOWLENS_CH_HTTP_PORT (default 18123) and FLOWLENS_CH_TCP_PORT (default 19000), so a
# system ClickHouse on the default ports is never touched.
# Users: a writer for the agent (FLOWLENS_CLICKHOUSE_USER, default flowlens) and a read-only user
# for Grafana (FLOWLENS_CLICKHOUSE_GRAFANA_USER, grafana; readonly=2 so the datasource can send its
# per-query limits) and a user for the datasource's business-tag writes (FLOWLENS_CLICKHOUSE_TAGS_USER,
# grafana_tags: INSERTs into flowlens.business_tags only, as the datasource builds them; 18.16 cannot grant one
# table, so the user may write the flowlens database: on modern ClickHouse grant INSERT on that table alone), each
# with a random password generated at the first start and kept, mode 0600, in $data/credentials.env. There is no
# 'default' user: nothing connects without a password.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=${FLOWLENS_DATA:-$here/.data}/clickhouse
http_port=${FLOWLENS_CH_HTTP_PORT:-18123}
tcp_port=${FLOWLENS_CH_TCP_PORT:-19000}
pidfile=$data/clickhouse.pid
credentials=$data/credentials.env
url="http://127.0.0.1:$http_port"

die() { echo "clickhouse: $*" >&2; exit 1; }

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

write_config() {
  mkdir -p "$data"/{db,tmp,user_files,format_schemas,log}
  cat > "$data/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$data/log/server.log</log><errorlog>$data/log/server.err.log</errorlog><size>50M</size><count>2</count></logger>
  <http_port>$http_port</http_port>
  <tcp_port>$tcp_port</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <max_connections>256</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>100</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$data/db/</path>
  <tmp_path>$data/tmp/</tmp_path>
  <user_files_path>$data/user_files/</user_files_path>
  <format_schema_path>$data/format_schemas/</format_schema_path>
  <users_config>$data/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <!-- 18.16 has no column codecs: merged parts of 10 MiB and more are compressed with zstd (request logs
       64.8 -> 32.4 B/row in bench/storage), fresh small parts stay lz4 (cheap inserts). -->
  <compression><case><min_part_size>10485760</min_part_size><min_part_size_ratio>0</min_part_size_ratio><method>zstd</method></case></compression>
</yandex>
XML
  write_users
}

password() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24; }
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# The passwords are made once and kept: a restart, or a newer version of this script, keeps them (a
# user it did not know yet is added).
ensure_credentials() {
  if [ -s "$credentials" ]; then
    if ! grep -q '^FLOWLENS_CLICKHOUSE_TAGS_USER=' "$credentials"; then
      printf 'FLOWLENS_CLICKHOUSE_TAGS_USER=grafana_tags\nFLOWLENS_CLICKHOUSE_TAGS_PASSWORD=%s\n' "$(password)" >> "$credentials"
    fi
    return 0
  fi
  mkdir -p "$data"
  (
    umask 077
    {
      echo "FLOWLENS_CLICKHOUSE_USER=flowlens"
      echo "FLOWLENS_CLICKHOUSE_PASSWORD=$(password)"
      echo "FLOWLENS_CLICKHOUSE_GRAFANA_USER=grafana"
      echo "FLOWLENS_CLICKHOUSE_GRAFANA_PASSWORD=$(password)"
      echo "FLOWLENS_CLICKHOUSE_TAGS_USER=grafana_tags"
      echo "FLOWLENS_CLICKHOUSE_TAGS_PASSWORD=$(password)"
    } > "$credentials.tmp"
    mv "$credentials.tmp" "$credentials"
  )
}

# credential NAME: a value of the credentials file (read as data, never sourced)
credential() { sed -n "s/^$1=//p" "$credentials" | head -n 1; }

write_users() {
  ensure_credentials
  local writer grafana tags
  writer=$(credential FLOWLENS_CLICKHOUSE_USER)
  grafana=$(credential FLOWLENS_CLICKHOUSE_GRAFANA_USER)
  tags=$(credential FLOWLENS_CLICKHOUSE_TAGS_USER)
  [[ "$writer" =~ ^[a-z_][a-z0-9_]*$ && "$grafana" =~ ^[a-z_][a-z0-9_]*$ && "$tags" =~ ^[a-z_][a-z0-9_]*$ ]] || die "bad user names in $credentials"
  # Loopback only, a password each (stored as SHA-256), no 'default' user. The grafana profile is a
  # second line of defence for clients that send no limits; on 18.16 (no setting constraints) a
  # readonly=2 user may still override them per query, which is how the datasource sends its own.
  (
    umask 077
    cat > "$data/users.xml.tmp" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>4000000000</max_memory_usage><load_balancing>random</load_balancing></default>
    <flowlens_grafana>
      <readonly>2</readonly>
      <max_execution_time>120</max_execution_time><timeout_overflow_mode>throw</timeout_overflow_mode>
      <max_memory_usage>4000000000</max_memory_usage>
      <max_rows_to_read>4000000000</max_rows_to_read><read_overflow_mode>throw</read_overflow_mode>
      <max_result_rows>4000000</max_result_rows><result_overflow_mode>throw</result_overflow_mode>
    </flowlens_grafana>
  </profiles>
  <users>
    <$writer><password_sha256_hex>$(sha256 "$(credential FLOWLENS_CLICKHOUSE_PASSWORD)")</password_sha256_hex><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></$writer>
    <$grafana><password_sha256_hex>$(sha256 "$(credential FLOWLENS_CLICKHOUSE_GRAFANA_PASSWORD)")</password_sha256_hex><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>flowlens_grafana</profile><quota>default</quota></$grafana>
    <$tags><password_sha256_hex>$(sha256 "$(credential FLOWLENS_CLICKHOUSE_TAGS_PASSWORD)")</password_sha256_hex><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota><allow_databases><database>flowlens</database><database>flowlens_gotest_tags</database></allow_databases></$tags>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
  )
  if ! cmp -s "$data/users.xml.tmp" "$data/users.xml"; then mv "$data/users.xml.tmp" "$data/users.xml"; else rm -f "$data/users.xml.tmp"; fi
}

# writer_works: the writer's password is accepted (a running server reloads users.xml by itself)
writer_works() {
  curl -fsS -u "$(credential FLOWLENS_CLICKHOUSE_USER):$(credential FLOWLENS_CLICKHOUSE_PASSWORD)" "$url/" --data-binary 'SELECT 1' >/dev/null 2>&1
}

case "${1:-}" in
  start)
    command -v clickhouse-server >/dev/null || [ -x /usr/sbin/clickhouse-server ] || die "clickhouse-server is not installed: run scripts/setup.sh"
    if running; then
      # a server started by an older version of this script gets the users now (reloaded live)
      write_users
      for _ in $(seq 1 100); do writer_works && { echo "$url"; exit 0; }; sleep 0.1; done
      die "the running server at $url does not accept the writer of $credentials; see $data/log/server.err.log"
    fi
    # a server of another checkout (or a stale one) on our port would be used silently, or a second
    # server would start on our data directory: refuse both
    if curl -fsS "$url/ping" >/dev/null 2>&1; then
      die "another ClickHouse already answers on 127.0.0.1:$http_port (not the one of $data): stop it, or set FLOWLENS_CH_HTTP_PORT and FLOWLENS_CH_TCP_PORT"
    fi
    write_config
    # 18.16 refuses to start as root unless told the data dir owner; running as root is fine here.
    /usr/sbin/clickhouse-server --config-file="$data/config.xml" --pid-file="$pidfile" --daemon >/dev/null 2>&1 \
      || die "server failed to start; see $data/log/server.err.log"
    for _ in $(seq 1 100); do
      if writer_works; then echo "$url"; exit 0; fi
      sleep 0.2
    done
    die "server did not answer on $url within 20 s; see $data/log/server.err.log"
    ;;
  stop)
    if running; then
      pid=$(cat "$pidfile"); kill "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    ;;
  status) if running; then echo "running at $url"; else echo "stopped"; exit 1; fi ;;
  url) echo "$url" ;;
  env)
    [ -s "$credentials" ] || die "no credentials yet in $credentials: run $0 start first"
    echo "export FLOWLENS_CLICKHOUSE_URL=$url"
    for k in FLOWLENS_CLICKHOUSE_USER FLOWLENS_CLICKHOUSE_PASSWORD FLOWLENS_CLICKHOUSE_GRAFANA_USER FLOWLENS_CLICKHOUSE_GRAFANA_PASSWORD FLOWLENS_CLICKHOUSE_TAGS_USER FLOWLENS_CLICKHOUSE_TAGS_PASSWORD; do
      echo "export $k=$(credential "$k")"
    done
    ;;
  *) die "usage: $0 start|stop|status|url|env" ;;
esac
