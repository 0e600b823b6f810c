// flowlens-agent: traces every socket on this host with eBPF and writes request logs and RED
// metrics to ClickHouse. Usage: node build/agent/src/agent/main.js [--config FILE] [--duration SEC]
import { setPriority } from 'node:os';
import { loadConfig, ConfigError, AgentConfig } from './config';
import { SocketTracer, TracerError, MonotonicClock } from './capture/nativeTracer';
import { findTlsLibraries } from './capture/tlsLibraries';
import { GoTlsProber } from './capture/goTls';
import { ClickHouseWriter } from './export/clickhouseWriter';
import { KubeSource } from './tags/kubeSource';
import { ProcessTagger } from './tags/processTags';
import { Pipeline } from './pipeline';
import { TcpFlowLog, TcpFlowNative } from './network/flows/tcpFlowLog';
import { startProfiling } from './profiling/continuousProfiler';
import { PacketLayer } from './network/packets/packetLayer';
import type { PcapNative } from './network/packets/packetCapture';
import { tablesText } from './lruMap';
import { EventLoopDelay } from './agentHealth';
import { parserEvictionsText } from './protocols/parserBounds';
import { AgentLifecycle } from './agentEvents';

const log = (line: string) => process.stderr.write(`flowlens-agent: ${line}\n`);

interface Args {
  config?: string;
  durationSec?: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === '--config' && v) {
      a.config = v;
      i++;
    } else if (k === '--duration' && v) {
      a.durationSec = Number(v);
      if (!(a.durationSec > 0)) {
        throw new ConfigError(`--duration ${v} is invalid: expected a positive number of seconds`);
      }
      i++;
    } else if (k === '--help' || k === '-h') {
      process.stdout.write('usage: flowlens-agent [--config FILE.json] [--duration SECONDS]\n');
      process.exit(0);
    } else {
      throw new ConfigError(`unknown argument ${k}: see --help`);
    }
  }
  return a;
}

async function connectStore(writer: ClickHouseWriter, cfg: AgentConfig, quiet = false): Promise<boolean> {
  try {
    const { version, dialect, applied } = await writer.connect();
    writer.start(); // each table sends by itself from now on
    log(
      `clickhouse ${version} at ${cfg.clickhouseUrl}, database ${cfg.database} (${dialect} schema${applied.length ? `, applied migrations ${applied.join(',')}` : ', up to date'})`
    );
    return true;
  } catch (err) {
    if (quiet) {
      return false;
    }
    const msg = (err as Error).message.split('\n')[0];
    // 192 unknown user, 193 wrong password, 516 authentication failed (modern servers)
    const auth = /\bCode: (192|193|516)\b/.test(msg);
    log(
      auth
        ? `clickhouse at ${cfg.clickhouseUrl} rejected user ${cfg.clickhouseUser} (${msg}); capturing anyway and retrying every 5 s. ` +
            'Set FLOWLENS_CLICKHOUSE_USER and FLOWLENS_CLICKHOUSE_PASSWORD (the local server\'s: eval "$(scripts/clickhouse.sh env)").'
        : `clickhouse at ${cfg.clickhouseUrl} is not reachable (${msg}); ` +
            'capturing anyway and retrying every 5 s. Start it with scripts/clickhouse.sh start or set FLOWLENS_CLICKHOUSE_URL.'
    );
    return false;
  }
}

async function main(): Promise<number> {
  let cfg: AgentConfig;
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
    cfg = loadConfig(args.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      log(err.message);
      return 2;
    }
    throw err;
  }

  try {
    setPriority(cfg.nice); // this (main) thread does nearly all of the agent's work
  } catch (err) {
    log(`nice ${cfg.nice} not applied: ${(err as Error).message}`);
  }

  let tracer: SocketTracer;
  try {
    tracer = new SocketTracer({
      captureBytes: cfg.captureBytes,
      ringBytes: cfg.ringBytes,
      ignorePorts: cfg.ignorePorts,
      tls: cfg.tls,
    });
    tracer.start();
  } catch (err) {
    if (err instanceof TracerError) {
      log(`cannot trace this host: ${err.message}`);
      return 1;
    }
    throw err;
  }
  if (cfg.tls) {
    const probed = [...tracer.attachTls(findTlsLibraries(cfg.tlsLibraries))].filter(([, syms]) => syms.length);
    log(
      `TLS: OpenSSL probed in ${probed.map(([p, syms]) => `${p} (${syms.length} symbols)`).join(', ') || 'no library (HTTPS stays opaque)'}`
    );
  }
  const goTls = cfg.tls ? new GoTlsProber(tracer.native, log) : undefined;
  if (goTls && !goTls.available) {
    log('TLS: Go programs stay opaque: build/bin/flowlens-goprobe is missing (run scripts/build.sh agent)');
  }
  goTls?.scan();
  const clock = new MonotonicClock(tracer.native);
  const writer = new ClickHouseWriter({
    url: cfg.clickhouseUrl,
    username: cfg.clickhouseUser,
    password: cfg.clickhousePassword,
    database: cfg.database,
    batchRows: cfg.batchRows,
    maxQueuedRows: cfg.maxQueuedRows,
    maxQueuedBytes: cfg.maxQueuedBytes,
    flushIntervalMs: cfg.flushIntervalMs,
    log,
  });
  // this run's start, queued like any row: sent once ClickHouse is reachable
  const lifecycle = new AgentLifecycle({ host: cfg.host, sink: (rows) => writer.push('agent_events', rows) });
  lifecycle.start(args.config ? `config ${args.config}` : 'defaults and environment');
  // automatic tags: process, container (cgroup path), Kubernetes pod and workload (kubelet or API server)
  const kube = cfg.tags ? new KubeSource(cfg.kubernetes) : undefined;
  await kube?.start();
  if (kube) {
    log(kube.statusText());
  }
  const tagger = cfg.tags
    ? new ProcessTagger({
        host: cfg.host,
        maxProcesses: cfg.limits.processes,
        kube,
        sink: (rows) => writer.push('process_tags', rows),
      })
    : undefined;
  const pipeline = new Pipeline({
    tagger,
    host: cfg.host,
    services: cfg.services,
    limits: cfg.limits,
    requestTimeoutMs: cfg.requestTimeoutMs,
    redactPatterns: cfg.redactPatterns,
    toWallUs: (ns) => clock.toWallUs(ns),
    sink: {
      l7: (rows) => writer.push('l7_flow_log', rows),
      appMetrics: (rows) => writer.push('app_metrics', rows),
      l4: cfg.flowLog ? (rows) => writer.push('l4_flow_log', rows) : undefined,
    },
  });
  // continuous profiling: on-CPU samples and off-CPU blocked time per stack, into profile_samples
  const profiler = startProfiling(cfg.profiling, tracer.native, {
    host: cfg.host,
    naming: pipeline.procs,
    sink: (rows) => writer.push('profile_samples', rows),
    log,
  });
  const profileTimer = profiler ? setInterval(() => profiler.tick(), cfg.profiling.intervalMs) : undefined;

  // packet capture on interfaces: Network Profile (tcp_timeline) and NIC request logs
  let packets: PacketLayer | undefined;
  if (cfg.network.capture.enabled) {
    try {
      packets = new PacketLayer({
        host: cfg.host,
        capture: cfg.network.capture,
        native: tracer.native as unknown as PcapNative,
        pipeline,
        requestTimeoutMs: cfg.requestTimeoutMs,
        maxFlows: cfg.limits.packetFlows,
        sink: { timeline: (rows) => writer.push('tcp_timeline', rows), l7: (rows) => writer.push('l7_flow_log', rows) },
        log,
      });
    } catch (err) {
      packets = undefined;
      log(`packet capture: not available (${(err as Error).message}); tcp_timeline and NIC request logs stay empty`);
    }
  }

  // L4 flow logs + net_metrics from TCP tracepoints (counters kept in the kernel, read every flush)
  const tcpFlows = cfg.flowLog
    ? new TcpFlowLog({
        host: cfg.host,
        native: tracer.native as unknown as TcpFlowNative,
        namer: pipeline.flowNamer(),
        toWallUs: (ns) => clock.toWallUs(ns),
        intervalSec: cfg.flowLogIntervalSec,
        ignorePorts: cfg.ignorePorts,
        sink: { l4: (rows) => writer.push('l4_flow_log', rows), net: (rows) => writer.push('net_metrics', rows) },
        log,
      })
    : undefined;
  if (tcpFlows) {
    try {
      log(tcpFlows.start());
    } catch (err) {
      log(`TCP flows: not available (${(err as Error).message}); l4_flow_log and net_metrics stay empty`);
    }
  }

  let storeReady = await connectStore(writer, cfg);
  if (packets) {
    log(packets.start()); // sockets open only now, just before the drain timer starts: nothing fills their rings meanwhile
  }
  log(
    `capturing on ${cfg.host} (payload ${cfg.captureBytes} B per syscall; ignoring ports ${cfg.ignorePorts.join(',') || 'none'})`
  );
  process.stdout.write('flowlens-agent: ready\n');

  const drain = () => {
    // bounded work per tick so timers and exports keep running under load
    for (let i = 0; i < 16; i++) {
      const batch = tracer.drain();
      if (!batch) {
        break;
      }
      pipeline.processBatch(batch);
    }
    packets?.drain();
  };
  const monoNowNs = () => Number(process.hrtime.bigint());
  const drainTimer = setInterval(drain, cfg.drainIntervalMs);
  const flushTimer = setInterval(async () => {
    // the flow table first, then the ring: every exec/connect/data event of those flows is then
    // decoded before their rows are named (a curl that connected and exited within one drain tick)
    const flows = tcpFlows?.read();
    drain();
    pipeline.sweep(monoNowNs(), Math.floor(Date.now() / 1000));
    if (flows) {
      tcpFlows!.apply(flows, monoNowNs(), Math.floor(Date.now() / 1000));
    }
    packets?.sweep();
    tagger?.flush();
    // the writer sends each table's batch itself when it is full or flushIntervalMs old
  }, cfg.flushIntervalMs);
  // new Go programs are found by a periodic scan of running processes
  const goTlsTimer = goTls?.available ? setInterval(() => goTls.scan(), 5000) : undefined;
  const storeTimer = setInterval(async () => {
    if (!storeReady) {
      storeReady = await connectStore(writer, cfg, true);
    }
    clock.resync();
    packets?.rescan();
  }, 5000);
  let finalTracerStats: ReturnType<SocketTracer['stats']> | undefined;
  const loopDelay = new EventLoopDelay();
  const statusLine = () => {
    const t = finalTracerStats ?? tracer.stats();
    const w = writer.stats();
    const c = pipeline.counters;
    const mem = process.memoryUsage();
    return (
      `rss ${Math.round(mem.rss / 2 ** 20)} MB (heap ${Math.round(mem.heapUsed / 2 ** 20)} MB, buffers ${Math.round(mem.arrayBuffers / 2 ** 20)} MB); ` +
      `events ${c.events}, request logs ${c.requestLogs}, connections ${pipeline.conns.size}, ` +
      `unparseable connections ${c.unparseableConnections}${c.unparseableConnections ? ` (last: ${pipeline.step.lastFailure})` : ''}; ` +
      `written l7_flow_log ${w.l7_flow_log?.written ?? 0}, app_metrics ${w.app_metrics?.written ?? 0}; ` +
      `drops: kernel ring ${t.ringDrops}, export ${writer.dropText()}, malformed ${c.malformedRecords}, unbound TLS ${pipeline.tlsUnbound}; ` +
      `queued ${writer.queuedRows()} rows ${Math.ceil(writer.queuedBytes() / 1024)} KiB${writer.healthy ? '' : ` (clickhouse: ${writer.error})`}; ${writer.statusText()}; ` +
      `${loopDelay.statusText()}; ${parserEvictionsText()}` +
      (profiler
        ? `; ${profiler.statusText()}; written profile_samples ${w.profile_samples?.written ?? 0}, dropped ${w.profile_samples?.dropped ?? 0}`
        : '') +
      (tcpFlows ? `; ${tcpFlows.statusLine()}` : '') +
      (kube ? `; ${kube.statusText()}, written process_tags ${w.process_tags?.written ?? 0}` : '') +
      (packets ? `; ${packets.statusLine()}, written tcp_timeline ${w.tcp_timeline?.written ?? 0}` : '') +
      `; ${tablesText([...pipeline.tableStats(), ...(packets ? [packets.flows.stats()] : []), ...(tcpFlows ? [tcpFlows.stats()] : []), ...(profiler?.tableStats() ?? [])])}`
    );
  };
  const statusTimer = cfg.statusIntervalMs ? setInterval(() => log(statusLine()), cfg.statusIntervalMs) : undefined;

  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) {
      return;
    }
    stopping = true;
    log(`${why}: flushing`);
    clearInterval(drainTimer);
    clearInterval(flushTimer);
    clearInterval(storeTimer);
    if (profileTimer) {
      clearInterval(profileTimer);
    }
    if (goTlsTimer) {
      clearInterval(goTlsTimer);
    }
    if (statusTimer) {
      clearInterval(statusTimer);
    }
    drain();
    tcpFlows?.poll(monoNowNs(), Math.floor(Date.now() / 1000));
    tcpFlows?.stop();
    finalTracerStats = tracer.stats();
    tracer.stop();
    profiler?.stop(); // the last interval's rows, before the final flush
    packets?.stop();
    pipeline.finish();
    tagger?.flush();
    kube?.stop();
    lifecycle.stop(why);
    if (!storeReady) {
      storeReady = await connectStore(writer, cfg, true); // last try; the closing line reports any loss
    }
    // a few tries so a brief outage does not lose the last rows
    for (let i = 0; i < 5 && writer.queuedRows() > 0 && storeReady; i++) {
      await writer.flush();
      if (writer.queuedRows() > 0) {
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    const lost = writer.queuedRows();
    log(`stopped. ${statusLine()}${lost ? `; ${lost} rows could not be written` : ''}`);
    await writer.close();
    process.exit(lost ? 1 : 0);
  };
  process.on('SIGINT', () => void stop('interrupted'));
  process.on('SIGTERM', () => void stop('terminated'));
  if (args.durationSec) {
    setTimeout(() => void stop(`ran for ${args.durationSec} s`), args.durationSec * 1000);
  }
  return -1; // keep running
}

main().then(
  (code) => {
    if (code >= 0) {
      process.exit(code);
    }
  },
  (err) => {
    log(`internal error: ${(err as Error).stack ?? err}`);
    process.exit(70);
  }
);
