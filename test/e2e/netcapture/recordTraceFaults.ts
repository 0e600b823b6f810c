// Records what the REAL agent captures of traces whose calls meet network faults, once, into
// pkg/plugin/testdata/tracefaults/: the trace query's network evidence and verdict are tested on these rows
// (pkg/plugin/tracefaults_integration_test.go) and the trace panel's browser test on the plugin binary's
// answers over them (test/frontend/record-trace-faults.js). Scenarios on the namespace test bed (client, server),
// curl or a small client in `client`, the servers in `server`, packet capture on both eth0:
//   8082 python http.server, 128 KiB responses with 5% loss at the client's input (the server retransmits), 20 requests
//   8081 the same without loss (the control), 10 requests
//   8087 a client whose first connects are refused by an nftables reset, then served (2 runs)
//   8088 a client whose first request is reset by an nftables reset, then served on a new connection (2 runs)
//   8080 a Node server: one keep-alive client making 3 requests with 200 ms of think time between them
// Needs root, eBPF, the built agent (scripts/build.sh agent) and the local ClickHouse. Run:
//   node build/agent/test/e2e/netcapture/recordTraceFaults.js [--out DIR] [--dump-only]
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Netbed } from '../netbed/netbed';
import { RETRYING_CLIENT, keepAliveClient, okServer } from '../netbed/clients';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, ROOT } from '../helpers';
import { dumpTables } from './dump';

const DB = 'flowlens_record_tracefaults';
const OUT = process.argv.includes('--out')
  ? process.argv[process.argv.indexOf('--out') + 1]
  : join(ROOT, 'pkg', 'plugin', 'testdata', 'tracefaults');
const ORDER: Record<string, string> = {
  l7_flow_log: 'time, start_time_us, observation_point',
  l4_flow_log: 'time, start_time_us, observation_point, client_port',
  tcp_timeline: 'time, flow_id, observation_point',
};

export const PORTS = { web: 8080, clean: 8081, lossy: 8082, refused: 8087, reset: 8088 };
const BODY = 128 * 1024;
const LOSS_PERCENT = 5;
const LOSSY_REQUESTS = 20;
const CLEAN_REQUESTS = 10;
const RETRY_RUNS = 2;
const REFUSED_ATTEMPTS = 3; // connects refused before the rule is lifted (at least)
const RETRY_PAUSE_MS = 200;
const THINK_MS = 200;

function dump(): Promise<Record<string, number>> {
  return dumpTables(DB, OUT, ORDER);
}

async function main(): Promise<void> {
  if (process.argv.includes('--dump-only')) {
    const counts = await dump();
    const file = join(OUT, 'recording.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), rows: counts }, null, 2) + '\n');
    console.log(`[record-tracefaults] dumped ${JSON.stringify(counts)} rows to ${OUT}`);
    return;
  }
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  const bed = Netbed.create(['client', 'server']);
  const startedAt = new Date();
  try {
    const dir = mkdtempSync(join(tmpdir(), 'flowlens-tracefaults-'));
    writeFileSync(join(dir, 'mid'), Buffer.alloc(BODY, 'x'));
    writeFileSync(join(dir, 'small'), Buffer.alloc(1000, 'y'));
    for (const port of [PORTS.clean, PORTS.lossy, PORTS.refused, PORTS.reset]) {
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
    bed.spawn('server', [process.execPath, '-e', okServer(PORTS.web), bed.ip('server')]);
    await bed.waitForListen('server', PORTS.web);
    // one MSS per packet at the server's NIC (no GSO super-packets), no tail-loss probes: each loss is a
    // retransmission the timeline sees; 128 KiB fit the 256 packets a timeline row keeps
    bed.exec('server', ['ip', 'link', 'set', 'eth0', 'gso_max_segs', '1']);
    bed.exec('server', ['sysctl', '-q', '-w', 'net.ipv4.tcp_early_retrans=0']);
    bed.addLoss('client', LOSS_PERCENT, { sport: PORTS.lossy });
    const services = [
      { name: 'web', port: PORTS.web },
      { name: 'files-clean', port: PORTS.clean },
      { name: 'files-lossy', port: PORTS.lossy },
      { name: 'flaky', port: PORTS.refused },
      { name: 'resetter', port: PORTS.reset },
    ];
    const agent = await startAgent({
      database: DB,
      flushIntervalMs: 200,
      statusIntervalMs: 0,
      flowLogIntervalSec: 60,
      profiling: { enabled: false },
      services,
      network: {
        capture: { netns: [bed.host('client').ns, bed.host('server').ns], hostNamespace: false, interfaces: ['eth0'] },
      },
    });
    const nstat = (counter = 'TcpRetransSegs') =>
      Number(new RegExp(`${counter}\\s+(\\d+)`).exec(bed.exec('server', ['nstat', '-az', counter]).stdout)![1]);
    const curl = (port: number, path: string) =>
      bed.execAsync('client', [
        'curl',
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code} %{time_total}',
        '--max-time',
        '30',
        `http://${bed.ip('server')}:${port}${path}`,
      ]);
    const retransBefore = nstat();
    const failBefore = nstat('TcpExtTCPRetransFail');
    const lossy: string[] = [];
    for (let i = 0; i < LOSSY_REQUESTS; i++) {
      const r = await curl(PORTS.lossy, `/mid?n=${i}`);
      lossy.push(r.stdout);
    }
    const kernelRetrans = nstat() - retransBefore;
    // resends the device refused after the capture had seen them (a veth whose peer's backlog was full, under
    // load): on the wire for the server's NIC, failed for its socket (tcp_retransmit_skb with an error)
    const kernelRetransFail = nstat('TcpExtTCPRetransFail') - failBefore;
    const clean: string[] = [];
    for (let i = 0; i < CLEAN_REQUESTS; i++) {
      clean.push((await curl(PORTS.clean, `/mid?n=${i}`)).stdout);
    }
    // a fault lifted once the client has met it `min` times: the client retries every RETRY_PAUSE_MS
    const retried = async (port: number, on: 'syn' | 'data', min: number, path: string) => {
      const rule = bed.addReset('server', { port, on });
      const run = bed.execAsync('client', [
        'python3',
        '-c',
        RETRYING_CLIENT,
        bed.ip('server'),
        String(port),
        path,
        String(RETRY_PAUSE_MS),
      ]);
      for (let i = 0; bed.nftCounter('server', 'input', rule) < min; i++) {
        assert.ok(i < 500, `the client met the ${on} reset on ${port} fewer than ${min} times in 10 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      bed.removeNftRule('server', 'input', rule);
      const r = await run;
      assert.equal(r.status, 0, r.stderr);
      const [fails, code] = r.stdout.trim().split(' ');
      return { fails: Number(fails), code: Number(code) };
    };
    const refused: Array<{ fails: number; code: number }> = [];
    const reset: Array<{ fails: number; code: number }> = [];
    for (let i = 0; i < RETRY_RUNS; i++) {
      refused.push(await retried(PORTS.refused, 'syn', REFUSED_ATTEMPTS, `/small?run=${i}`));
      reset.push(await retried(PORTS.reset, 'data', 1, `/small?run=${i}`));
    }
    const think = await bed.execAsync('client', [
      process.execPath,
      '-e',
      keepAliveClient(PORTS.web, THINK_MS, '/think'),
      bed.ip('server'),
    ]);
    assert.equal(think.status, 0, think.stderr);
    assert.deepEqual(
      [...lossy, ...clean].map((x) => x.split(' ')[0]),
      Array(LOSSY_REQUESTS + CLEAN_REQUESTS).fill('200'),
      `curl: ${lossy.join(', ')} | ${clean.join(', ')}`
    );
    // every request at its 4 observation points, and every flow's timeline at both NICs
    const want = {
      l7: (LOSSY_REQUESTS + CLEAN_REQUESTS + 2 * RETRY_RUNS + 3) * 4,
      timelines: 2 * (LOSSY_REQUESTS + CLEAN_REQUESTS + 2 * RETRY_RUNS),
    };
    for (let i = 0; ; i++) {
      const [{ l7 }] = await chQuery<{ l7: string }>(`SELECT count() AS l7 FROM ${DB}.l7_flow_log`);
      const [{ tl }] = await chQuery<{ tl: string }>(`SELECT count() AS tl FROM ${DB}.tcp_timeline`);
      if (Number(l7) >= want.l7 && Number(tl) >= want.timelines) {
        break;
      }
      assert.ok(i < 120, `waited 30 s for ${want.l7} request logs (${l7}) and ${want.timelines} timelines (${tl})`);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(await agent.stop(), 0, agent.output());
    const stoppedAt = new Date();
    // what the packet capture lost (its stop line): a live check may miss at a NIC only what was dropped
    const drops = /capture drops: kernel (\d+), ring freezes \d+, user space (\d+)/.exec(agent.output());
    assert.ok(drops, `no capture drops in the agent's stop line:\n${agent.output()}`);
    const captureDrops = Number(drops[1]) + Number(drops[2]);
    const counts = await dump();
    const hosts = Object.fromEntries(['client', 'server'].map((h) => [h, { ip: bed.ip(h), netns: bed.host(h).ns }]));
    writeFileSync(
      join(OUT, 'recording.json'),
      JSON.stringify(
        {
          what: 'rows the real agent wrote for the trace network-fault scenarios of test/e2e/netcapture/recordTraceFaults.ts',
          recorded: { from: startedAt.toISOString(), to: stoppedAt.toISOString() },
          how: 'node build/agent/test/e2e/netcapture/recordTraceFaults.js (root, namespace test bed, real agent with packet capture on client and server eth0)',
          hosts,
          ports: PORTS,
          services,
          scenarios: {
            bodyBytes: BODY,
            lossPercent: LOSS_PERCENT,
            lossyRequests: LOSSY_REQUESTS,
            cleanRequests: CLEAN_REQUESTS,
            thinkMs: THINK_MS,
            retryPauseMs: RETRY_PAUSE_MS,
            refused,
            reset,
          },
          curl: { lossy, clean },
          kernel: { serverTcpRetransSegs: kernelRetrans, serverTcpRetransFail: kernelRetransFail },
          captureDrops,
          rows: counts,
        },
        null,
        2
      ) + '\n'
    );
    console.log(
      `[record-tracefaults] wrote ${JSON.stringify(counts)} rows to ${OUT}; kernel TcpRetransSegs ${kernelRetrans}, TCPRetransFail ${kernelRetransFail}; capture drops ${captureDrops}; refused ${JSON.stringify(refused)} reset ${JSON.stringify(reset)}`
    );
  } finally {
    bed.destroy();
  }
}

main().catch((err) => {
  console.error('[record-tracefaults]', err);
  process.exit(1);
});
