// Records what the REAL agent captures of the network scenarios of tcpFlows.e2e and networkProfile.e2e,
// once, into pkg/plugin/testdata/netcapture/: the Go datasource's network queries (flow_log, net_metrics,
// netprofile) are tested on these rows (pkg/plugin/network_integration_test.go) and the Network Profile
// panel's browser test on the plugin binary's answers over them (test/frontend/record-netprofile.js).
// Scenarios on the namespace test bed (client, gw, server):
//   8081 clean 1 MB transfers (3)         8082 the same with 5% receive-side loss (3)
//   8083 a SYN answered by an nftables reset (3 attempts)   8084 the first data segment reset (1)
//   8085 a reader that stops for 1 s (zero window)          8080 a Node server: one keep-alive client
//   making 3 requests with 200 ms of think time between them, and 5 requests through a 50 ms toxiproxy
//   hop on gw (gw:8090 -> server:8080)
// Needs root, eBPF, the built agent (scripts/build.sh agent) and the local ClickHouse. Run:
//   node build/agent/test/e2e/netcapture/recordNetCapture.js [--out DIR] [--dump-only]
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Netbed } from '../netbed/netbed';
import { SLOW_READER, keepAliveClient, okServer } from '../netbed/clients';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, ROOT } from '../helpers';
import { dumpTables } from './dump';

const DB = 'flowlens_record_netcapture';
const OUT = process.argv.includes('--out')
  ? process.argv[process.argv.indexOf('--out') + 1]
  : join(ROOT, 'pkg', 'plugin', 'testdata', 'netcapture');
const TABLES = ['l4_flow_log', 'net_metrics', 'tcp_timeline', 'l7_flow_log', 'app_metrics'];
const ORDER: Record<string, string> = {
  l4_flow_log: 'time, start_time_us, observation_point, client_port',
  net_metrics: 'time, server_port, observation_point, client_service',
  tcp_timeline: 'time, flow_id, observation_point',
  l7_flow_log: 'time, start_time_us, observation_point',
  app_metrics: 'time, server_service, client_service, observation_point, endpoint',
};

export const PORTS = { web: 8080, clean: 8081, lossy: 8082, refused: 8083, reset: 8084, slowReader: 8085, proxy: 8090 };
const BIG = 1_000_000;
const THINK_MS = 200;
const PROXY_MS = 50;
const LOSS_PERCENT = 5;
const REFUSED_ATTEMPTS = 3;

const WEB_SERVER = okServer(PORTS.web);

// one keep-alive connection, three requests, the client thinking THINK_MS between them
const THINKING_CLIENT = keepAliveClient(PORTS.web, THINK_MS, '/think');

/** Writes each table's rows (dump.ts). */
function dump(): Promise<Record<string, number>> {
  return dumpTables(DB, OUT, Object.fromEntries(TABLES.map((t) => [t, ORDER[t]])));
}

async function main(): Promise<void> {
  if (process.argv.includes('--dump-only')) {
    // the rows an earlier run left in the database, written again (no bed, no agent, no root)
    const counts = await dump();
    const file = join(OUT, 'recording.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), rows: counts }, null, 2) + '\n');
    console.log(`[record-netcapture] dumped ${JSON.stringify(counts)} rows to ${OUT}`);
    return;
  }
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  const bed = Netbed.create(['client', 'gw', 'server']);
  const startedAt = new Date();
  try {
    const dir = mkdtempSync(join(tmpdir(), 'flowlens-netcapture-'));
    writeFileSync(join(dir, 'big'), Buffer.alloc(BIG, 'x'));
    for (const port of [PORTS.clean, PORTS.lossy, PORTS.reset, PORTS.slowReader]) {
      bed.spawn('server', [
        'python3',
        '-m',
        'http.server',
        String(port),
        '--bind',
        bed.ip('server'),
        '--directory',
        dir,
      ]);
      await bed.waitForListen('server', port);
    }
    bed.spawn('server', [process.execPath, '-e', WEB_SERVER, bed.ip('server')]);
    await bed.waitForListen('server', PORTS.web);
    await bed.startProxy('gw', {
      listenPort: PORTS.proxy,
      upstream: `${bed.ip('server')}:${PORTS.web}`,
      latencyMs: PROXY_MS,
    });
    bed.exec('server', ['sysctl', '-q', '-w', 'net.ipv4.tcp_early_retrans=0']);
    bed.addLoss('client', LOSS_PERCENT, { sport: PORTS.lossy });
    bed.addReset('server', { port: PORTS.refused, on: 'syn' });
    bed.addReset('server', { port: PORTS.reset, on: 'data' });
    const services = [
      { name: 'web', port: PORTS.web },
      { name: 'files-clean', port: PORTS.clean },
      { name: 'files-lossy', port: PORTS.lossy },
      { name: 'refuser', port: PORTS.refused },
      { name: 'resetter', port: PORTS.reset },
      { name: 'files-slow', port: PORTS.slowReader },
      { name: 'slb', port: PORTS.proxy },
    ];
    const agent = await startAgent({
      database: DB,
      flushIntervalMs: 200,
      statusIntervalMs: 0,
      flowLogIntervalSec: 60,
      services,
      network: {
        capture: { netns: [bed.host('client').ns, bed.host('server').ns], hostNamespace: false, interfaces: ['eth0'] },
      },
    });
    const nstat = () =>
      Number(/TcpRetransSegs\s+(\d+)/.exec(bed.exec('server', ['nstat', '-az', 'TcpRetransSegs']).stdout)![1]);
    const curl = (port: number, path: string, host = 'server') =>
      bed.exec(
        'client',
        ['curl', '-s', '-o', '/dev/null', '--max-time', '30', `http://${bed.ip(host)}:${port}${path}`],
        { check: false }
      ).status;
    const retransBefore = nstat();
    const exits: Record<string, number[]> = { clean: [], lossy: [], refused: [], reset: [], proxy: [] };
    for (let i = 0; i < 3; i++) {
      exits.clean.push(curl(PORTS.clean, '/big'));
    }
    bed.exec('server', ['ip', 'link', 'set', 'eth0', 'gso_max_segs', '1']);
    for (let i = 0; i < 3; i++) {
      exits.lossy.push(curl(PORTS.lossy, '/big'));
    }
    for (let i = 0; i < REFUSED_ATTEMPTS; i++) {
      exits.refused.push(curl(PORTS.refused, '/'));
    }
    exits.reset.push(curl(PORTS.reset, '/'));
    const slow = bed.exec('client', ['python3', '-c', SLOW_READER, bed.ip('server'), String(PORTS.slowReader)], {
      check: false,
    });
    assert.equal(slow.stdout.trim(), String(BIG), `slow reader: ${slow.stderr}`);
    const kernelRetrans = nstat() - retransBefore;
    const think = await bed.execAsync('client', [process.execPath, '-e', THINKING_CLIENT, bed.ip('server')]);
    assert.equal(think.status, 0, think.stderr);
    for (let n = 1; n <= 5; n++) {
      exits.proxy.push(curl(PORTS.proxy, `/fast?n=${n}`, 'gw'));
    }
    assert.notEqual(exits.reset[0], 0, 'the reset transfer failed');
    exits.reset = [];
    assert.deepEqual(exits, {
      clean: [0, 0, 0],
      lossy: [0, 0, 0],
      refused: [7, 7, 7],
      reset: [],
      proxy: [0, 0, 0, 0, 0],
    });
    // every flow has closed: its l4 row (both ends where both exist) and its timeline rows at both NICs
    const want = { l4: 3 * 2 + 3 * 2 + REFUSED_ATTEMPTS + 1 + 2 + 2 + 5 * 4, timelines: 30 };
    for (let i = 0; ; i++) {
      const [{ l4 }] = await chQuery<{ l4: string }>(`SELECT count() AS l4 FROM ${DB}.l4_flow_log`);
      const [{ tl }] = await chQuery<{ tl: string }>(`SELECT count() AS tl FROM ${DB}.tcp_timeline`);
      if (Number(l4) >= want.l4 && Number(tl) >= want.timelines) {
        break;
      }
      assert.ok(i < 80, `waited 20 s for ${want.l4} flow logs (${l4}) and ${want.timelines} timelines (${tl})`);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(await agent.stop(), 0, agent.output());
    const stoppedAt = new Date();
    const counts = await dump();
    const hosts = Object.fromEntries(
      ['client', 'gw', 'server'].map((h) => [h, { ip: bed.ip(h), netns: bed.host(h).ns }])
    );
    writeFileSync(
      join(OUT, 'recording.json'),
      JSON.stringify(
        {
          what: 'rows the real agent wrote for the network scenarios of test/e2e/netcapture/recordNetCapture.ts',
          recorded: { from: startedAt.toISOString(), to: stoppedAt.toISOString() },
          how: 'node build/agent/test/e2e/netcapture/recordNetCapture.js (root, namespace test bed, real agent with packet capture on client and server eth0)',
          hosts,
          ports: PORTS,
          services,
          scenarios: {
            bigBytes: BIG,
            thinkMs: THINK_MS,
            proxyMs: PROXY_MS,
            lossPercent: LOSS_PERCENT,
            refusedAttempts: REFUSED_ATTEMPTS,
          },
          kernel: { serverTcpRetransSegs: kernelRetrans },
          rows: counts,
        },
        null,
        2
      ) + '\n'
    );
    console.log(
      `[record-netcapture] wrote ${JSON.stringify(counts)} rows to ${OUT}; kernel TcpRetransSegs ${kernelRetrans}`
    );
  } finally {
    bed.destroy();
  }
}

main().catch((err) => {
  console.error('[record-netcapture]', err);
  process.exit(1);
});
