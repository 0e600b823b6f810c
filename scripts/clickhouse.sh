#!/usr/bin/env bash
# Local ClickHouse (Debian's clickhouse-server) on loopback, data under $FLOWLENS_DATA/clickhouse.
# Usage: scripts/clickhouse.sh start|stop|status|url
# Ports: FLOWLENS_CH_HTTP_PORT (default 18123) and FLOWLENS_CH_TCP_PORT (default 19000), so a
# system ClickHouse on the default ports is never touched.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=${FLOWLENS_DATA:-$here/.data}/clickhouse
http_port=${FLOWLENS_CH_HTTP_PORT:-18123}
tcp_port=${FLOWLENS_CH_TCP_PORT:-19000}
pidfile=$data/clickhouse.pid
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
  # Loopback only; the 'default' user has no password (the server listens on 127.0.0.1 alone).
  cat > "$data/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage><load_balancing>random</load_balancing></default>
  <readonly><readonly>2</readonly></readonly></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
    <grafana><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>readonly</profile><quota>default</quota></grafana>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
}

case "${1:-}" in
  start)
    command -v clickhouse-server >/dev/null || [ -x /usr/sbin/clickhouse-server ] || die "clickhouse-server is not installed: run scripts/setup.sh"
    if running; then echo "$url"; exit 0; fi
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
      if curl -fsS "$url/ping" >/dev/null 2>&1; then echo "$url"; exit 0; fi
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
  *) die "usage: $0 start|stop|status|url" ;;
esac
