import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { indexPodList, indexReplicaSets } from '../../../src/agent/tags/kubePods';
import { KubeSource } from '../../../src/agent/tags/kubeSource';

const FIXTURES = join(__dirname, '..', '..', '..', '..', '..', 'test', 'agent', 'tags', 'fixtures');
const fixture = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

test('kubelet pod list: workloads through ReplicaSets (Deployment), StatefulSet, DaemonSet, Job; containers by id', () => {
  const idx = indexPodList(fixture('kubelet-pods-node-a.json'));
  assert.equal(idx.byUid.size, 6);
  const w = (uid: string) => {
    const p = idx.byUid.get(uid)!;
    return `${p.namespace}/${p.name} ${p.workloadKind}/${p.workloadName} on ${p.node}`;
  };
  assert.equal(
    w('6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b'),
    'shop/checkout-7d9f8b6c5d-x2k4q Deployment/checkout on node-a'
  );
  assert.equal(w('0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d'), 'shop/orders-db-0 StatefulSet/orders-db on node-a');
  assert.equal(
    w('9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b'),
    'monitoring/node-exporter-q8v7r DaemonSet/node-exporter on node-a'
  );
  assert.equal(w('5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a'), 'batch/report-28871040-h5z2m Job/report-28871040 on node-a');
  const exporter = idx.byContainerId.get('c'.repeat(64))!;
  assert.deepEqual([exporter.name, exporter.runtime, exporter.pod.name], ['exporter', 'containerd', 'orders-db-0']);
  assert.deepEqual(idx.byUid.get('6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b')!.labels, [
    ['app', 'checkout'],
    ['pod-template-hash', '7d9f8b6c5d'],
    ['team', 'payments'],
  ]);
  assert.equal(idx.byIp.get('10.0.0.11'), undefined, "a host-network pod's address is the node's, not the pod's");
  assert.equal(idx.byIp.get('10.244.1.17')!.workloadName, 'checkout');
});

test('a deleted pod and its IP reused: the address names the new pod while the old one is terminating and after it failed', () => {
  const during = indexPodList(fixture('kubelet-pods-node-a.json'));
  assert.equal(during.byIp.get('10.244.1.40')!.name, 'search-6b7c8d9e5f-new22');
  assert.equal(
    during.byUid.get('7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d')!.workloadName,
    'cart',
    'its processes, still running, keep their pod'
  );
  const after = indexPodList(fixture('kubelet-pods-node-a-after-delete.json'));
  assert.equal(
    after.byIp.get('10.244.1.40')!.workloadName,
    'search',
    'listed after the failed pod, the live one still holds the IP'
  );
  assert.equal(after.byUid.has('9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b'), false);
});

test('API server: a ReplicaSet names its Deployment even when the pod has no pod-template-hash label; CRI-O container ids', () => {
  const alone = indexPodList(fixture('apiserver-pods-node-b.json'));
  assert.deepEqual(
    [
      alone.byUid.get('2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f')!.workloadKind,
      alone.byUid.get('2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f')!.workloadName,
    ],
    ['ReplicaSet', 'frontend-85f6c9d7b8']
  );
  const told = indexPodList(
    fixture('apiserver-pods-node-b.json'),
    indexReplicaSets(fixture('apiserver-replicasets.json'))
  );
  const p = told.byUid.get('2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f')!;
  assert.deepEqual([p.workloadKind, p.workloadName, p.node], ['Deployment', 'frontend', 'node-b']);
  assert.equal(told.byContainerId.get('2'.repeat(64))!.runtime, 'cri-o');
});

test('hostile pod list: wrong types are ignored field by field, an oversized list is refused', () => {
  const idx = indexPodList({
    items: [
      {
        metadata: { uid: 'u1', name: 7, labels: { a: { x: 1 }, b: 'ok' }, ownerReferences: 'x' },
        status: { podIP: ['1.2.3.4'], containerStatuses: [{ containerID: 'containerd://zz' }] },
      },
      null,
      'x',
    ],
  });
  const p = idx.byUid.get('u1')!;
  assert.deepEqual([p.name, p.workloadKind, p.ip, p.labels], ['', 'Pod', '', [['b', 'ok']]]);
  assert.equal(idx.byContainerId.size, 0);
  assert.throws(() => indexPodList({ items: new Array(5001).fill({}) }), /5001 pods/);
  assert.equal(indexPodList('not a list').byUid.size, 0);
});

test('kube source: kubelet down, API server answering the recorded pods; neither: a clear status line and no pods', async (t) => {
  const answers: Record<string, unknown> = {
    '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b': fixture('apiserver-pods-node-b.json'),
    '/apis/apps/v1/replicasets': fixture('apiserver-replicasets.json'),
    '/api/v1/services': fixture('apiserver-services.json'),
  };
  const seen: string[] = [];
  const api = createServer((req, res) => {
    seen.push(`${req.url} ${req.headers.authorization ?? ''}`);
    const body = answers[req.url ?? ''];
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { kind: 'Status', code: 404 }));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  t.after(() => api.close());
  const port = (api.address() as { port: number }).port;
  const src = new KubeSource({
    kubeletUrl: 'http://127.0.0.1:1',
    apiServerUrl: `http://127.0.0.1:${port}`,
    tokenFile: '',
    caFile: '',
    nodeName: 'node-b',
    refreshSec: 60,
  });
  await src.refresh();
  assert.equal(src.index?.byUid.get('2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f')?.workloadName, 'frontend');
  assert.match(
    src.statusText(),
    /^kubernetes: 1 pods from API server http:\/\/127\.0\.0\.1:\d+, 0 s old, 4 service IPs$/
  );
  assert.deepEqual(seen, [
    '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b ',
    '/apis/apps/v1/replicasets ',
    '/api/v1/services ',
  ]);
  assert.deepEqual(
    [...src.index!.servicesByIp].map(([ip, s]) => `${ip} ${s.namespace}/${s.name}`),
    [
      '10.96.0.1 default/kubernetes',
      '10.96.12.40 shop/checkout',
      '10.96.30.7 web/frontend',
      'fd00:10:96::1e07 web/frontend',
    ],
    'a headless Service (clusterIP None) has no address to name'
  );
  const none = new KubeSource({
    kubeletUrl: 'http://127.0.0.1:1',
    apiServerUrl: '',
    tokenFile: '',
    caFile: '',
    nodeName: 'n',
    refreshSec: 60,
  });
  await none.refresh();
  assert.equal(none.index, undefined);
  assert.equal(
    none.statusText(),
    'kubernetes: no pods yet (unreachable: kubelet http://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1)'
  );
  assert.equal(
    new KubeSource({
      kubeletUrl: '',
      apiServerUrl: '',
      tokenFile: '',
      caFile: '',
      nodeName: 'n',
      refreshSec: 60,
    }).statusText(),
    'kubernetes: not configured (process and container tags only)'
  );
});
