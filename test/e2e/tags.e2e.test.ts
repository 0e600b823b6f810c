// Smart tags end to end: two "pods" on one node, each a process in its own network namespace (the
// netbed) and its own cgroup, created here and named as containerd names a pod's container under the
// kubelet's systemd driver (kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope, cgroup v2).
// The kubelet's read-only port answers the recorded pod list whose pod uids and container ids the
// cgroups carry. The real agent tags every process; rows at all four observation points must name
// both ends' containers and workloads, and the map query (through the built plugin binary) grouped
// by workload, container, namespace or a label must return the one expected edge.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { ChildProcess, spawn } from 'node:child_process';
import { createServer, Server } from 'node:http';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Netbed } from './netbed/netbed';
import {
  assertRoot,
  chQuery,
  CLICKHOUSE_URL,
  freeDatabase,
  requireClickHouse,
  ROOT,
  startAgent,
  AgentHandle,
} from './helpers';
import { buildShimAndPlugin, column, queryFrames, Shim, startShim } from '../../demo/traceView';

const DB = 'flowlens_e2e_tags';
const PORT = 18471; // and the bed's server address: the agent traces the whole machine, other tests' traffic too
const REQUESTS = 12;
const UNIFIED = '/sys/fs/cgroup/unified';
const FIXTURE = join(ROOT, 'test', 'agent', 'tags', 'fixtures', 'kubelet-pods-node-a.json');
const OUT = join(ROOT, 'build', 'e2e-tags');

interface PodEnd {
  uid: string;
  containerId: string;
  workload: string;
  container: string;
}
// from the recorded pod list: checkout (Deployment through its ReplicaSet) calls orders-db-0's postgres container (StatefulSet)
const CLIENT: PodEnd = {
  uid: '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b',
  containerId: 'a'.repeat(64),
  workload: 'checkout',
  container: 'checkout',
};
const SERVER: PodEnd = {
  uid: '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d',
  containerId: 'b'.repeat(64),
  workload: 'orders-db',
  container: 'postgres',
};

const root = join(UNIFIED, `flowlens-e2e-${process.pid}`);
const cgroupOf = (p: PodEnd) =>
  join(
    root,
    'kubepods.slice',
    'kubepods-besteffort.slice',
    `kubepods-besteffort-pod${p.uid.replace(/-/g, '_')}.slice`,
    `cri-containerd-${p.containerId}.scope`
  );

let bed: Netbed | undefined;
let kubelet: Server | undefined;
let agent: AgentHandle | undefined;
let shim: Shim | undefined;
let kubeletHits = 0;
let server: ChildProcess | undefined;
let fromSec = 0;
let toSec = 0;

/**
 * argv that moves itself into cgroup `cg`, then enters the host's network namespace and runs `argv`
 * (exec all along: the process named is the program). The move comes first: `ip netns exec` mounts
 * its own /sys, where the cgroup hierarchy is not.
 */
const inPod = (host: string, cg: string, argv: string[]) => [
  'sh',
  '-c',
  `echo $$ > ${cg}/cgroup.procs && exec "$@"`,
  'sh',
  ...bed!.nsArgv(host, argv),
];

function run(argv: string[]): Promise<{ status: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ status: code ?? -1, stderr }));
  });
}

before(async () => {
  assertRoot();
  if (!existsSync(join(UNIFIED, 'cgroup.procs'))) {
    throw new Error(`no cgroup v2 hierarchy at ${UNIFIED}: this test makes its containers' cgroups there`);
  }
  await requireClickHouse();
  await freeDatabase(DB);
  mkdirSync(OUT, { recursive: true });
  const builds = buildShimAndPlugin(OUT);
  for (const p of [CLIENT, SERVER]) {
    mkdirSync(cgroupOf(p), { recursive: true });
  }
  const podList = readFileSync(FIXTURE);
  kubelet = createServer((req, res) => {
    kubeletHits++;
    res.writeHead(req.url === '/pods' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(req.url === '/pods' ? podList : '{}');
  });
  await new Promise<void>((r) => kubelet!.listen(0, '127.0.0.1', r));
  const kubeletUrl = `http://127.0.0.1:${(kubelet.address() as { port: number }).port}`;

  bed = Netbed.create(['client', 'server']);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    profiling: { enabled: false },
    kubernetes: { kubeletUrl, nodeName: 'node-a', refreshSec: 1 },
    network: {
      capture: { netns: [bed.host('client').ns, bed.host('server').ns], hostNamespace: false, interfaces: ['eth0'] },
    },
  });
  assert.match(agent.output(), new RegExp(`kubernetes: 6 pods from kubelet ${kubeletUrl}, \\d+ s old`));
  const argv = inPod('server', cgroupOf(SERVER), [
    'python3',
    '-m',
    'http.server',
    String(PORT),
    '--bind',
    bed.ip('server'),
  ]);
  server = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
  await bed.waitForListen('server', PORT);
  fromSec = Math.floor(Date.now() / 1000) - 1;
  // one connection per request (http.server answers HTTP/1.0); the client lives on a moment after its last request
  const client = `import urllib.request, time
for i in range(${REQUESTS}):
    assert urllib.request.urlopen('http://${bed.ip('server')}:${PORT}/?i=%d' % i).status == 200
time.sleep(1)`;
  const r = await run(inPod('client', cgroupOf(CLIENT), ['python3', '-c', client]));
  assert.equal(r.status, 0, r.stderr);
  toSec = Math.floor(Date.now() / 1000) + 2;
  // stop the agent once every request is stored at all four points (it flushes every 200 ms)
  const deadline = Date.now() + 15000;
  for (;;) {
    const [{ n }] = await chQuery<{ n: string }>(
      `SELECT count() AS n FROM ${DB}.l7_flow_log WHERE server_ip = '${bed!.ip('server')}' AND server_port = ${PORT}`
    );
    if (Number(n) >= REQUESTS * 4 || Date.now() > deadline) {
      break;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(await agent.stop(), 0, agent.output());
  const { shimBin, pluginBin } = await builds;
  shim = await startShim({
    shimBin,
    pluginBin,
    clickhouseUrl: CLICKHOUSE_URL,
    database: DB,
    dir: mkdtempSync(join(tmpdir(), 'flowlens-tags-shim-')),
  });
});

after(async () => {
  agent?.proc.kill('SIGKILL');
  server?.kill('SIGKILL');
  shim?.stop();
  kubelet?.close();
  bed?.destroy();
  // the cgroups, leaf first, once the processes killed with the bed have left them
  for (const p of [CLIENT, SERVER]) {
    let dir = cgroupOf(p);
    const until = Date.now() + 5000;
    while (existsSync(dir) && readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() !== '' && Date.now() < until) {
      await new Promise((res) => setTimeout(res, 50));
    }
    while (dir.startsWith(root) && existsSync(dir)) {
      try {
        rmdirSync(dir);
      } catch {
        break; // a sibling still there: removed with the other pod's chain
      }
      dir = join(dir, '..');
    }
  }
});

test('every request log row, at all four observation points, names both ends by their container and workload', async () => {
  // the dimension the agent wrote, joined here by (host, pid) independently of the datasource's join step
  const dims = await chQuery<{ host: string; pid: number; c: string; w: string; pod: string }>(
    `SELECT host, pid, argMax(container_id, time) AS c, argMax(workload_name, time) AS w, argMax(pod_uid, time) AS pod FROM ${DB}.process_tags GROUP BY host, pid`
  );
  const dim = new Map(dims.map((d) => [`${d.host}/${d.pid}`, `${d.c} ${d.w} ${d.pod}`]));
  const rows = await chQuery<{ obs: string; host: string; cp: number; sp: number; cs: string; ss: string }>(
    `SELECT observation_point AS obs, host, client_pid AS cp, server_pid AS sp, client_service AS cs, server_service AS ss FROM ${DB}.l7_flow_log WHERE server_ip = '${bed!.ip('server')}' AND server_port = ${PORT}`
  );
  const seen = new Map<string, number>();
  for (const r of rows) {
    const k = [
      r.obs,
      r.cs,
      r.ss,
      dim.get(`${r.host}/${r.cp}`) ?? `no tags for pid ${r.cp}`,
      dim.get(`${r.host}/${r.sp}`) ?? `no tags for pid ${r.sp}`,
    ].join(' | ');
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  const end = (p: PodEnd) => `${p.containerId} ${p.workload} ${p.uid}`;
  assert.deepEqual(
    [...seen].sort(),
    ['client_nic', 'client_process', 'server_nic', 'server_process'].map((obs) => [
      [obs, 'checkout', 'orders-db', end(CLIENT), end(SERVER)].join(' | '),
      REQUESTS,
    ])
  );
  const tags = await chQuery<Record<string, string>>(
    `SELECT container_runtime, container_name, pod_name, pod_namespace, workload_kind, node, arrayStringConcat(label_keys, ',') AS lk, service, cmdline
     FROM ${DB}.process_tags WHERE container_id IN ('${CLIENT.containerId}', '${SERVER.containerId}') GROUP BY container_runtime, container_name, pod_name, pod_namespace, workload_kind, node, lk, service, cmdline ORDER BY service`
  );
  for (const t of tags) {
    t.cmdline = t.cmdline.replace(/^\S*\/python3 /, 'python3 ').split('\n')[0];
  }
  assert.deepEqual(tags, [
    {
      container_runtime: 'containerd',
      container_name: 'checkout',
      pod_name: 'checkout-7d9f8b6c5d-x2k4q',
      pod_namespace: 'shop',
      workload_kind: 'Deployment',
      node: 'node-a',
      lk: 'app,pod-template-hash,team',
      service: 'checkout',
      cmdline: 'python3 -c import urllib.request, time',
    },
    {
      container_runtime: 'containerd',
      container_name: 'postgres',
      pod_name: 'orders-db-0',
      pod_namespace: 'shop',
      workload_kind: 'StatefulSet',
      node: 'node-a',
      lk: 'app,controller-revision-hash,statefulset.kubernetes.io/pod-name',
      service: 'orders-db',
      cmdline: `python3 -m http.server ${PORT} --bind ${bed!.ip('server')}`,
    },
  ]);
  assert.ok(kubeletHits >= 1);
});

/** One map query through the plugin binary: its edges as "source -> target requests". */
async function mapEdges(query: Record<string, unknown>): Promise<string[]> {
  const frames = await queryFrames(
    shim!.url,
    { fromMs: fromSec * 1000, toMs: toSec * 1000 },
    { queryType: 'map', ...query }
  );
  const edges = frames.find((f) => f.schema.name === 'edges');
  assert.ok(edges, `map ${JSON.stringify(query)}: no edges frame`);
  const col = (n: string) => column(edges, n);
  return (col('source') as string[]).map(
    (s, i) => `${s} -> ${(col('target') as string[])[i]} ${(col('detail__requests') as number[])[i]}`
  );
}

test('the map grouped by workload, container, namespace or pod label returns the expected edge; tag filters keep or drop it', async () => {
  // the agent traces the whole machine (other tests' traffic too): the pods' edges are picked by a tag filter
  const shop = { tags: { namespace: ['shop'] } };
  assert.deepEqual(
    await mapEdges({ service: 'orders-db' }),
    [`checkout -> orders-db ${REQUESTS}`],
    'services named by the rule: the workload'
  );
  assert.deepEqual(await mapEdges({ ...shop }), [`checkout -> orders-db ${REQUESTS}`]);
  assert.deepEqual(await mapEdges({ ...shop, group_by: 'workload' }), [`checkout -> orders-db ${REQUESTS}`]);
  assert.deepEqual(await mapEdges({ ...shop, group_by: 'container' }), [`checkout -> postgres ${REQUESTS}`]);
  assert.deepEqual(await mapEdges({ ...shop, groupBy: 'namespace' }), [`shop -> shop ${REQUESTS}`]);
  assert.deepEqual(
    await mapEdges({ ...shop, group_by: 'label.team' }),
    [`payments -> orders-db ${REQUESTS}`],
    'a pod without the label keeps its service name'
  );
  // every point counted: RED metrics come from the two processes' sockets (NIC request logs feed none)
  assert.deepEqual(await mapEdges({ ...shop, group_by: 'workload_kind', observation_point: 'all' }), [
    `Deployment -> StatefulSet ${REQUESTS * 2}`,
  ]);
  assert.deepEqual(await mapEdges({ group_by: 'pod', tags: { container: ['postgres'] } }), [
    `checkout-7d9f8b6c5d-x2k4q -> orders-db-0 ${REQUESTS}`,
  ]);
  assert.deepEqual(await mapEdges({ tags: { namespace: ['batch'] } }), []);
  assert.deepEqual(
    await mapEdges({ tags: { namespace: ['shop'], container_runtime: ['cri-o'] } }),
    [],
    'every filter must match'
  );
});

test("the editor's pickers: the tag names, and the values a tag took", async () => {
  const get = async (q: string) => {
    const res = await fetch(`${shim!.url}/api/datasources/uid/flowlens/resources/tag-values${q}`);
    assert.equal(res.status, 200, q);
    return (await res.json()) as { tags?: string[]; values?: string[] };
  };
  const names = (await get('')).tags!;
  assert.ok(
    ['workload', 'namespace', 'container', 'pod', 'label.<key>'].every((n) => names.includes(n)),
    names.join(', ')
  );
  const range = `&from=${fromSec * 1000}&to=${toSec * 1000}`;
  assert.deepEqual((await get(`?tag=workload${range}`)).values, ['checkout', 'orders-db']);
  assert.deepEqual((await get(`?tag=label.team${range}`)).values, ['payments']);
  assert.deepEqual((await get(`?tag=container_runtime${range}`)).values, ['containerd']);
});

test('RED filtered by a tag: the series of the server in that namespace, every request counted once', async () => {
  const res = await fetch(`${shim!.url}/api/ds/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      from: String(fromSec * 1000),
      to: String(toSec * 1000),
      queries: [
        {
          refId: 'A',
          datasource: { uid: 'flowlens' },
          queryType: 'red',
          metric: 'request_rate',
          intervalMs: 1000,
          tags: { namespace: ['shop'], 'label.app': ['orders-db'] },
        },
      ],
    }),
  });
  const body = (await res.json()) as {
    results?: Record<
      string,
      {
        error?: string;
        frames?: Array<{
          schema: { fields: Array<{ labels?: Record<string, string> }> };
          data: { values: unknown[][] };
        }>;
      }
    >;
  };
  const frames = body.results?.A?.frames ?? [];
  assert.equal(res.status, 200, body.results?.A?.error);
  // one-second buckets: the rates add up to the requests
  assert.deepEqual(
    frames.map((f) => [
      f.schema.fields[1].labels?.service,
      (f.data.values[1] as Array<number | null>).reduce((a: number, v) => a + (v ?? 0), 0),
    ]),
    [['orders-db', REQUESTS]]
  );
});
