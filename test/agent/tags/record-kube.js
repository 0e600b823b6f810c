#!/usr/bin/env node
// Records what a REAL Kubernetes API server answers the agent (kube-apiserver v1.37.2 over etcd v3.7.0, built
// by build-kube.sh) into test/agent/tags/fixtures/*.recorded.json, and checks the agent's KubeSource live
// against it (HTTPS with the server's CA, a bearer token, RBAC limited to what the README asks).
//
// No kubelet, scheduler or controller manager runs here (no container runtime): the recorder plays their
// parts through the API as they do — binds pods to nodes (spec.nodeName), creates the ReplicaSet a
// Deployment controller would (owned by the Deployment), writes pod status through the status subresource as
// a kubelet does (phase, IPs, container ids). Everything else is the API server's own: uids, resource
// versions, timestamps, defaulting, graceful deletion of a bound pod (deletionTimestamp), cluster IPs
// checked and allocated by its allocator (dual-stack), the `kubernetes` Service it makes itself, and the
// serialization of the lists. No kubelet answer is recorded (the kubelet-*.json fixtures stay composed): a
// node's pods are the API server's list filtered by node, the v1 PodList type a kubelet's /pods serves too.
//
// Usage: test/agent/tags/build-kube.sh && npm run build:agent && node test/agent/tags/record-kube.js
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const https = require('https');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'build', 'kube');
const FIXTURES = path.join(__dirname, 'fixtures');
const PORT = 16443;
const BASE = `https://127.0.0.1:${PORT}`;
const ADMIN_TOKEN = 'recorder-admin-token';
const AGENT_TOKEN = 'flowlens-agent-token';
const NODE_A = '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a';
const NODE_B = '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowlens-kube-'));
const children = [];
function log(...a) {
  console.log('[record-kube]', ...a);
}
function start(cmd, args, name) {
  const out = fs.openSync(path.join(dir, `${name}.log`), 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
  child.label = name;
  children.push(child);
  child.on('exit', (code, signal) => {
    child.exited = true;
    if (code) {
      log(`${name} exited ${code}${signal ? ` (${signal})` : ''}: see ${dir}/${name}.log`);
    }
  });
  return child;
}
/** Stops the servers (apiserver before etcd) and waits for each to exit; SIGKILL after 15 s. */
async function stopAll() {
  for (const c of [...children].reverse()) {
    if (c.exited) {
      continue;
    }
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 15000);
    await gone;
    clearTimeout(timer);
  }
}
// last resort when the recorder itself dies: no server outlives it
process.on('exit', () => children.forEach((c) => c.exited || c.kill('SIGKILL')));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: stopping the servers; logs kept in ${dir}`);
    stopAll().then(() => process.exit(1));
  });
}
/** A server that exited ends the wait for it at once. */
function alive() {
  const dead = children.find((c) => c.exited);
  if (dead) {
    throw Object.assign(new Error(`${dead.label} exited: see ${dir}/${dead.label}.log`), { fatal: true });
  }
}

let ca;
function request(method, url, body, token = ADMIN_TOKEN, contentType = 'application/json') {
  const data = body ? JSON.stringify(body) : '';
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${BASE}${url}`,
      {
        method,
        ca,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          // a chunked body got a bare "400 Bad Request" (connection: close) from the server: send its length
          ...(data ? { 'content-type': contentType, 'content-length': Buffer.byteLength(data) } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode >= 300) {
            reject(new Error(`${method} ${url}: HTTP ${res.statusCode} ${text.slice(0, 400)}`));
            return;
          }
          // /readyz answers plain text
          if (!/json/.test(res.headers['content-type'] || '')) {
            resolve(text);
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch (err) {
            reject(err);
          }
        });
      }
    );
    req.on('error', reject);
    req.end(data || undefined);
  });
}
const create = (url, body) => request('POST', url, body);
/** Status as a kubelet writes it: a merge patch of the status subresource. */
const setStatus = (ns, name, status) =>
  request(
    'PATCH',
    `/api/v1/namespaces/${ns}/pods/${name}/status`,
    { status },
    ADMIN_TOKEN,
    'application/merge-patch+json'
  );

async function until(what, fn, ms = 120000) {
  const end = Date.now() + ms;
  for (;;) {
    alive();
    try {
      return await fn();
    } catch (err) {
      if (err.fatal || Date.now() > end) {
        throw new Error(`${what}: ${err.message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

const owner = (obj, kind, apiVersion) => ({
  apiVersion,
  kind,
  name: obj.metadata.name,
  uid: obj.metadata.uid,
  controller: true,
  blockOwnerDeletion: true,
});
const hex = (c) => c.repeat(64);

/** A container's status as its kubelet writes it; ready while running. */
const containerStatus = (c, runtime, state) => ({
  name: c.name,
  image: c.image,
  imageID: `${c.image}@sha256:${hex(c.id[0] === 'f' ? 'e' : 'f')}`,
  containerID: `${runtime}://${c.id}`,
  ready: !!state.running,
  started: !!state.running,
  restartCount: 0,
  state,
});
/** Seconds precision, as the API server stores times. */
const stamp = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** A pod bound to `node` and running, as the scheduler and the kubelet leave it. */
async function runPod(ns, name, { node, labels, owners, containers, ip, hostIP, hostNetwork = false, runtime }) {
  const pod = await create(`/api/v1/namespaces/${ns}/pods`, {
    metadata: { name, labels, ownerReferences: owners },
    spec: {
      nodeName: node,
      hostNetwork,
      containers: containers.map((c) => ({ name: c.name, image: c.image })),
    },
  });
  const now = stamp();
  await setStatus(ns, name, {
    phase: 'Running',
    hostIP,
    hostIPs: [{ ip: hostIP }],
    podIP: ip,
    podIPs: [{ ip }],
    startTime: now,
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
    containerStatuses: containers.map((c) => containerStatus(c, runtime, { running: { startedAt: now } })),
  });
  return pod;
}

async function main() {
  for (const b of ['kube-apiserver', 'etcd']) {
    if (!fs.existsSync(path.join(BIN, b))) {
      throw new Error(`${BIN}/${b} missing: run test/agent/tags/build-kube.sh`);
    }
  }
  execFileSync('openssl', ['genrsa', '-out', path.join(dir, 'sa.key'), '2048'], { stdio: 'ignore' });
  execFileSync('openssl', ['rsa', '-in', path.join(dir, 'sa.key'), '-pubout', '-out', path.join(dir, 'sa.pub')], {
    stdio: 'ignore',
  });
  fs.writeFileSync(
    path.join(dir, 'tokens.csv'),
    `${ADMIN_TOKEN},recorder,1,"system:masters"\n${AGENT_TOKEN},flowlens-agent,2\n`
  );
  start(path.join(BIN, 'etcd'), [path.join(dir, 'etcd')], 'etcd');
  start(
    path.join(BIN, 'kube-apiserver'),
    [
      '--etcd-servers=http://127.0.0.1:23790',
      `--secure-port=${PORT}`,
      '--bind-address=127.0.0.1',
      // the control plane's address in the `kubernetes` Service's endpoints (it refuses a loopback one); it
      // listens on loopback only
      '--advertise-address=10.0.0.1',
      `--cert-dir=${path.join(dir, 'certs')}`,
      '--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112',
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      // the ServiceAccount admission plugin waits for a controller manager to create each namespace's account
      '--disable-admission-plugins=ServiceAccount',
    ],
    'kube-apiserver'
  );
  const caFile = path.join(dir, 'certs', 'apiserver.crt');
  await until('the API server', async () => {
    ca = fs.readFileSync(caFile);
    const ready = await request('GET', '/readyz');
    return ready;
  });
  const version = await request('GET', '/version');
  log(`kube-apiserver ${version.gitVersion} ready (${dir})`);
  // the API server makes the default namespace and the `kubernetes` Service itself, shortly after it is ready
  await until('the kubernetes Service', () => request('GET', '/api/v1/namespaces/default/services/kubernetes'));

  // the agent's rights: what the README's RBAC names, nothing more
  await create('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    metadata: { name: 'flowlens-agent' },
    rules: [
      { apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list'] },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list'] },
    ],
  });
  await create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: 'flowlens-agent' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flowlens-agent' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'flowlens-agent' }],
  });
  for (const ns of ['shop', 'web', 'monitoring', 'batch']) {
    await create('/api/v1/namespaces', { metadata: { name: ns } });
  }
  const template = (app) => ({
    selector: { matchLabels: { app } },
    template: { metadata: { labels: { app } }, spec: { containers: [{ name: app, image: `${app}:1` }] } },
  });

  // node-a: a Deployment's pod (through its ReplicaSet), a StatefulSet's with a sidecar, a DaemonSet's on
  // the host network, a CronJob's Job
  const checkout = await create('/apis/apps/v1/namespaces/shop/deployments', {
    metadata: { name: 'checkout' },
    spec: template('checkout'),
  });
  const checkoutRs = await create('/apis/apps/v1/namespaces/shop/replicasets', {
    metadata: {
      name: 'checkout-7d9f8b6c5d',
      labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' },
      ownerReferences: [owner(checkout, 'Deployment', 'apps/v1')],
    },
    spec: template('checkout'),
  });
  await runPod('shop', 'checkout-7d9f8b6c5d-x2k4q', {
    node: 'node-a',
    labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d', team: 'payments' },
    owners: [owner(checkoutRs, 'ReplicaSet', 'apps/v1')],
    containers: [{ name: 'checkout', image: 'shop/checkout:2.4', id: hex('a') }],
    ip: '10.244.1.17',
    hostIP: '10.0.0.10',
    runtime: 'containerd',
  });
  const ordersDb = await create('/apis/apps/v1/namespaces/shop/statefulsets', {
    metadata: { name: 'orders-db' },
    spec: { ...template('orders-db'), serviceName: 'orders-db' },
  });
  await runPod('shop', 'orders-db-0', {
    node: 'node-a',
    labels: { app: 'orders-db', 'statefulset.kubernetes.io/pod-name': 'orders-db-0' },
    owners: [owner(ordersDb, 'StatefulSet', 'apps/v1')],
    containers: [
      { name: 'postgres', image: 'postgres:16', id: hex('b') },
      { name: 'exporter', image: 'postgres-exporter:0.15', id: hex('c') },
    ],
    ip: '10.244.1.23',
    hostIP: '10.0.0.10',
    runtime: 'containerd',
  });
  const nodeExporter = await create('/apis/apps/v1/namespaces/monitoring/daemonsets', {
    metadata: { name: 'node-exporter' },
    spec: template('node-exporter'),
  });
  await runPod('monitoring', 'node-exporter-q8v7r', {
    node: 'node-a',
    labels: { app: 'node-exporter' },
    owners: [owner(nodeExporter, 'DaemonSet', 'apps/v1')],
    containers: [{ name: 'node-exporter', image: 'node-exporter:1.8', id: hex('d') }],
    ip: '10.0.0.10',
    hostIP: '10.0.0.10',
    hostNetwork: true,
    runtime: 'containerd',
  });
  const report = await create('/apis/batch/v1/namespaces/batch/jobs', {
    metadata: { name: 'report-28871040' },
    spec: {
      template: {
        metadata: { labels: { job: 'report' } },
        spec: { restartPolicy: 'Never', containers: [{ name: 'report', image: 'report:1' }] },
      },
    },
  });
  await runPod('batch', 'report-28871040-h5z2m', {
    node: 'node-a',
    labels: { 'batch.kubernetes.io/job-name': 'report-28871040' },
    owners: [owner(report, 'Job', 'batch/v1')],
    containers: [{ name: 'report', image: 'report:1', id: hex('9') }],
    ip: '10.244.1.31',
    hostIP: '10.0.0.10',
    runtime: 'containerd',
  });

  // a pod deleted while its processes still run, and a new pod given its IP
  const cart = await create('/apis/apps/v1/namespaces/shop/deployments', {
    metadata: { name: 'cart' },
    spec: template('cart'),
  });
  const cartRs = await create('/apis/apps/v1/namespaces/shop/replicasets', {
    metadata: { name: 'cart-5f6d7c8b9a', ownerReferences: [owner(cart, 'Deployment', 'apps/v1')] },
    spec: template('cart'),
  });
  const cartContainers = [{ name: 'cart', image: 'shop/cart:1.0', id: hex('1') }];
  await runPod('shop', 'cart-5f6d7c8b9a-old11', {
    node: 'node-a',
    labels: { app: 'cart', 'pod-template-hash': '5f6d7c8b9a' },
    owners: [owner(cartRs, 'ReplicaSet', 'apps/v1')],
    containers: cartContainers,
    ip: '10.244.1.40',
    hostIP: '10.0.0.10',
    runtime: 'containerd',
  });
  // a bound pod is deleted gracefully: the API server keeps it, marked, until its kubelet confirms
  await request('DELETE', '/api/v1/namespaces/shop/pods/cart-5f6d7c8b9a-old11', {
    kind: 'DeleteOptions',
    apiVersion: 'v1',
    gracePeriodSeconds: 30,
  });
  const search = await create('/apis/apps/v1/namespaces/shop/deployments', {
    metadata: { name: 'search' },
    spec: template('search'),
  });
  const searchRs = await create('/apis/apps/v1/namespaces/shop/replicasets', {
    metadata: { name: 'search-6b7c8d9e5f', ownerReferences: [owner(search, 'Deployment', 'apps/v1')] },
    spec: template('search'),
  });
  await runPod('shop', 'search-6b7c8d9e5f-new22', {
    node: 'node-a',
    labels: { app: 'search', 'pod-template-hash': '6b7c8d9e5f' },
    owners: [owner(searchRs, 'ReplicaSet', 'apps/v1')],
    containers: [{ name: 'search', image: 'shop/search:3.1', id: hex('2') }],
    ip: '10.244.1.40',
    hostIP: '10.0.0.10',
    runtime: 'containerd',
  });

  // node-b: a Deployment's pod without the pod-template-hash label (only its ReplicaSet names the
  // Deployment), run by CRI-O
  const frontend = await create('/apis/apps/v1/namespaces/web/deployments', {
    metadata: { name: 'frontend' },
    spec: template('frontend'),
  });
  const frontendRs = await create('/apis/apps/v1/namespaces/web/replicasets', {
    metadata: { name: 'frontend-85f6c9d7b8', ownerReferences: [owner(frontend, 'Deployment', 'apps/v1')] },
    spec: template('frontend'),
  });
  await runPod('web', 'frontend-85f6c9d7b8-abcde', {
    node: 'node-b',
    labels: { app: 'frontend' },
    owners: [owner(frontendRs, 'ReplicaSet', 'apps/v1')],
    containers: [{ name: 'frontend', image: 'nginx:1.27', id: hex('3') }],
    ip: '10.244.2.5',
    hostIP: '10.0.0.11',
    runtime: 'cri-o',
  });

  // Services: cluster IPs checked and allocated by the API server (one asked for, one dual-stack, one headless)
  const port = (p) => ({ ports: [{ port: p, targetPort: p }] });
  await create('/api/v1/namespaces/shop/services', {
    metadata: { name: 'checkout' },
    spec: { selector: { app: 'checkout' }, clusterIP: '10.96.12.40', ...port(8080) },
  });
  await create('/api/v1/namespaces/web/services', {
    metadata: { name: 'frontend' },
    spec: { selector: { app: 'frontend' }, ipFamilyPolicy: 'RequireDualStack', ...port(80) },
  });
  await create('/api/v1/namespaces/shop/services', {
    metadata: { name: 'orders-db' },
    spec: { selector: { app: 'orders-db' }, clusterIP: 'None', ...port(5432) },
  });

  // what the agent asks, with the agent's own token: the URLs of src/agent/tags/kubeSource.ts
  // written only once all is recorded and checked: a failed run leaves the committed recordings alone
  const saved = [];
  const save = async (name, url, what) => {
    // the RBAC authorizer learns the new binding from a watch: the first request may come before it
    const body = await until(`${url} with the agent's token`, () => request('GET', url, undefined, AGENT_TOKEN), 10000);
    const items = (body.items || []).map((i) => `${i.metadata.namespace}/${i.metadata.name}`);
    saved.push({ name, url, what, items, body });
    log(`${name}: ${url} (${items.length} items, written at the end)`);
  };
  await save(
    'apiserver-pods-node-a.recorded.json',
    NODE_A,
    "node-a's pods; cart's old pod deleted (graceful, 30 s) but still running, search's new pod given its IP"
  );
  await save('apiserver-pods-node-b.recorded.json', NODE_B, "node-b's pod (CRI-O, no pod-template-hash label)");
  await save(
    'apiserver-replicasets.recorded.json',
    '/apis/apps/v1/replicasets',
    'all ReplicaSets, owned by their Deployments'
  );
  await save(
    'apiserver-services.recorded.json',
    '/api/v1/services',
    'all Services: asked-for, dual-stack, headless, `kubernetes`'
  );
  // the kubelet stops the deleted pod's containers (SIGTERM, exit 143) and reports it failed; it is still
  // listed until the kubelet confirms
  const stopped = stamp();
  await setStatus('shop', 'cart-5f6d7c8b9a-old11', {
    phase: 'Failed',
    conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: stopped }],
    containerStatuses: cartContainers.map((c) =>
      containerStatus(c, 'containerd', {
        terminated: {
          exitCode: 143,
          reason: 'Error',
          startedAt: stopped,
          finishedAt: stopped,
          containerID: `containerd://${c.id}`,
        },
      })
    ),
  });
  await save(
    'apiserver-pods-node-a-failed.recorded.json',
    NODE_A,
    "node-a's pods after the kubelet reported the deleted pod Failed (still listed)"
  );
  // its kubelet confirms (grace 0): the API server removes it
  await request('DELETE', '/api/v1/namespaces/shop/pods/cart-5f6d7c8b9a-old11', {
    kind: 'DeleteOptions',
    apiVersion: 'v1',
    gracePeriodSeconds: 0,
  });
  await save(
    'apiserver-pods-node-a-removed.recorded.json',
    NODE_A,
    "node-a's pods after the kubelet confirmed the deletion (grace 0): the old pod is gone"
  );
  let denied = '';
  try {
    await request('GET', '/api/v1/secrets', undefined, AGENT_TOKEN);
  } catch (err) {
    denied = err.message;
  }
  if (!/HTTP 403/.test(denied)) {
    throw new Error(`the agent's token must not read secrets: ${denied || 'it did'}`);
  }

  // the agent's KubeSource live against the real server: HTTPS, its CA, a token file
  const { KubeSource } = require(path.join(ROOT, 'build', 'agent', 'src', 'agent', 'tags', 'kubeSource.js'));
  fs.writeFileSync(path.join(dir, 'token'), `${AGENT_TOKEN}\n`);
  const { indexPodList, indexReplicaSets } = require(
    path.join(ROOT, 'build', 'agent', 'src', 'agent', 'tags', 'kubePods.js')
  );
  const summary = (idx) =>
    [...idx.byUid.values()]
      .map((p) => `${p.namespace}/${p.name} ${p.workloadKind}/${p.workloadName} ${p.ip} ${p.live}`)
      .sort();
  const recorded = (name) => saved.find((s) => s.name === name).body;
  const owners = indexReplicaSets(recorded('apiserver-replicasets.recorded.json'));
  // each node as the agent sees it live = as the tests see its recording (node-a: after the deletion)
  for (const [node, name] of [
    ['node-b', 'apiserver-pods-node-b.recorded.json'],
    ['node-a', 'apiserver-pods-node-a-removed.recorded.json'],
  ]) {
    const src = new KubeSource({
      kubeletUrl: '',
      apiServerUrl: BASE,
      tokenFile: path.join(dir, 'token'),
      caFile,
      nodeName: node,
      refreshSec: 60,
    });
    await src.refresh();
    log(`KubeSource live, ${node}: ${src.statusText()}`);
    const live = src.index ? summary(src.index) : [];
    const want = summary(indexPodList(recorded(name), owners));
    if (JSON.stringify(live) !== JSON.stringify(want) || src.index.servicesByIp.size !== 4) {
      throw new Error(`KubeSource live on ${node}:\n${live.join('\n')}\nthe recording:\n${want.join('\n')}`);
    }
    log(live.join('; '));
  }
  const frontendPod = 'web/frontend-85f6c9d7b8-abcde Deployment/frontend 10.244.2.5 true';
  if (!summary(indexPodList(recorded('apiserver-pods-node-b.recorded.json'), owners)).includes(frontendPod)) {
    throw new Error(`node-b's recording lacks ${frontendPod}`);
  }
  for (const { name, body } of saved) {
    fs.writeFileSync(path.join(FIXTURES, name), JSON.stringify(body, null, 2) + '\n');
  }
  writeRecordedMd(version, saved);
}

/** The Go modules a binary was built from (`go version -m`), and its sha256: what was recorded from. */
function built(bin, mod) {
  const file = path.join(BIN, bin);
  let version = 'unknown (no go toolchain to read its build info)';
  try {
    const info = execFileSync('go', ['version', '-m', file], { encoding: 'utf8' });
    const dep = info.split('\n').find((l) => l.trim().split(/\s+/)[1] === mod);
    const go = info.split('\n')[0].split(': ')[1];
    version = dep ? `${mod} ${dep.trim().split(/\s+/)[2]}, ${go}` : version;
  } catch {
    /* keep unknown */
  }
  const sha = require('crypto').createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  return `\`build/kube/${bin}\`: ${version}; sha256 ${sha}`;
}

function writeRecordedMd(version, saved) {
  const lines = [
    '# Recorded Kubernetes API server answers',
    '',
    `The \`*.recorded.json\` files here are the answers of a real kube-apiserver over a real etcd to the agent's`,
    "own requests (the URLs of src/agent/tags/kubeSource.ts, the agent's bearer token, bound to the ClusterRole",
    '`flowlens-agent`: get/list pods, services, replicasets; its token is refused secrets), each answer parsed',
    'and saved pretty-printed with nothing removed. uids, resourceVersions and timestamps are as the server',
    'made them: tests look pods up by name.',
    '',
    `- Recorded on ${new Date().toISOString().slice(0, 10)} with \`npm run build:agent && node test/agent/tags/record-kube.js\`,`,
    '  from the binaries in `build/kube/` (as `test/agent/tags/build-kube.sh` builds them: these module versions)',
    `- ${built('kube-apiserver', 'k8s.io/kubernetes')} (its /version says \`${version.gitVersion}\`: built`,
    '  with `go build`, without the release ldflags)',
    `- ${built('etcd', 'go.etcd.io/etcd/server/v3')} (one member, embed package)`,
    '',
    'No kubelet, scheduler or controller manager runs here (no container runtime): record-kube.js plays their',
    'parts through the API as they do (binds pods to nodes, creates the ReplicaSets a Deployment controller',
    'would, writes pod status through the status subresource as a kubelet does). The kubelet fixtures',
    '(`kubelet-*.json`) remain composed by hand, in the same v1 PodList type.',
    '',
    '| file | request | what | items |',
    '| --- | --- | --- | --- |',
    ...saved.map((s) => `| ${s.name} | \`GET ${s.url}\` | ${s.what} | ${s.items.join(', ')} |`),
    '',
  ];
  fs.writeFileSync(path.join(FIXTURES, 'RECORDED.md'), lines.join('\n'));
}

main().then(
  async () => {
    await stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  },
  async (err) => {
    console.error('[record-kube]', err);
    await stopAll();
    console.error(`[record-kube] logs kept in ${dir}`);
    process.exit(1);
  }
);
