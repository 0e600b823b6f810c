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
// serialization of the lists. The kubelet's read-only /pods serves the same v1 PodList type, so the node's
// list is recorded as the API server's list filtered by node.
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

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowlens-kube-'));
const children = [];
function log(...a) {
  console.log('[record-kube]', ...a);
}
function start(cmd, args, name) {
  const out = fs.openSync(path.join(dir, `${name}.log`), 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
  children.push(child);
  child.on('exit', (code) => code && log(`${name} exited ${code}: see ${dir}/${name}.log`));
  return child;
}
function stopAll() {
  for (const c of children) {
    c.kill('SIGTERM');
  }
}
process.on('exit', stopAll);

let ca;
function request(method, url, body, token = ADMIN_TOKEN, contentType = 'application/json') {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${BASE}${url}`,
      {
        method,
        ca,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body ? { 'content-type': contentType } : {}),
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
          resolve(text ? JSON.parse(text) : {});
        });
      }
    );
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}
const create = (url, body) => request('POST', url, body);
/** Status as a kubelet writes it: a merge patch of the status subresource. */
const setStatus = (ns, name, status) =>
  request('PATCH', `/api/v1/namespaces/${ns}/pods/${name}/status`, { status }, ADMIN_TOKEN, 'application/merge-patch+json');

async function until(what, fn, ms = 120000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) {
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
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await setStatus(ns, name, {
    phase: 'Running',
    hostIP,
    hostIPs: [{ ip: hostIP }],
    podIP: ip,
    podIPs: [{ ip }],
    startTime: now,
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
    containerStatuses: containers.map((c) => ({
      name: c.name,
      image: c.image,
      imageID: `${c.image}@sha256:${hex(c.id[0] === 'f' ? 'e' : 'f')}`,
      containerID: `${runtime}://${c.id}`,
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: now } },
    })),
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
      '--advertise-address=127.0.0.1',
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
  await runPod('shop', 'cart-5f6d7c8b9a-old11', {
    node: 'node-a',
    labels: { app: 'cart', 'pod-template-hash': '5f6d7c8b9a' },
    owners: [owner(cartRs, 'ReplicaSet', 'apps/v1')],
    containers: [{ name: 'cart', image: 'shop/cart:1.0', id: hex('1') }],
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
  const save = async (name, url) => {
    const body = await request('GET', url, undefined, AGENT_TOKEN);
    fs.writeFileSync(path.join(FIXTURES, name), JSON.stringify(body, null, 2) + '\n');
    log(`${name}: ${url} (${(body.items || []).length} items)`);
  };
  await save('apiserver-pods-node-a.recorded.json', '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a');
  await save('apiserver-pods-node-b.recorded.json', '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b');
  await save('apiserver-replicasets.recorded.json', '/apis/apps/v1/replicasets');
  await save('apiserver-services.recorded.json', '/api/v1/services');
  // the kubelet stops the deleted pod's containers and reports it failed; it is still listed until confirmed
  await setStatus('shop', 'cart-5f6d7c8b9a-old11', {
    phase: 'Failed',
    conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }],
  });
  await save('apiserver-pods-node-a-failed.recorded.json', '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a');
  // its kubelet confirms (grace 0): the API server removes it
  await request('DELETE', '/api/v1/namespaces/shop/pods/cart-5f6d7c8b9a-old11', {
    kind: 'DeleteOptions',
    apiVersion: 'v1',
    gracePeriodSeconds: 0,
  });
  await save('apiserver-pods-node-a-removed.recorded.json', '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a');
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
  const src = new KubeSource({
    kubeletUrl: '',
    apiServerUrl: BASE,
    tokenFile: path.join(dir, 'token'),
    caFile,
    nodeName: 'node-b',
    refreshSec: 60,
  });
  await src.refresh();
  const fe = [...(src.index ? src.index.byUid.values() : [])].find((p) => p.name === 'frontend-85f6c9d7b8-abcde');
  log(`KubeSource live: ${src.statusText()}; frontend pod: ${fe && `${fe.workloadKind}/${fe.workloadName}`}`);
  if (!fe || fe.workloadKind !== 'Deployment' || fe.workloadName !== 'frontend') {
    throw new Error('KubeSource did not name the frontend pod by its Deployment');
  }
  fs.writeFileSync(
    path.join(FIXTURES, 'RECORDED.md'),
    `The \`*.recorded.json\` files are the answers of a real kube-apiserver ${version.gitVersion} (etcd v3.7.0)` +
      ` to the agent's own requests (its token, RBAC \`flowlens-agent\`), recorded by \`record-kube.js\` on` +
      ` ${new Date().toISOString().slice(0, 10)}; see that script for what it played of the kubelet and controllers.\n`
  );
}

main().then(
  () => {
    stopAll();
    process.exit(0);
  },
  (err) => {
    console.error('[record-kube]', err);
    stopAll();
    process.exit(1);
  }
);
