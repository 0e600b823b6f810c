import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { PodIndex, indexPodList, indexReplicaSets } from '../../../src/agent/tags/kubePods';
import { KubeSource } from '../../../src/agent/tags/kubeSource';
import { fixture, podNamed, recordedClusterIps } from './kubeFixtures';

test('kubelet pod list (composed, no kubelet runs here): workloads through ReplicaSets (Deployment), StatefulSet, DaemonSet, Job; containers by id', () => {
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

test('kubelet pod list (composed): a deleted pod and its IP reused, the address names the new pod while the old one is terminating and after it failed', () => {
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

/** One line per pod: what the agent tags its processes and peers with. */
const summary = (idx: PodIndex): string[] =>
  [...idx.byUid.values()]
    .map(
      (p) =>
        `${p.namespace}/${p.name} ${p.workloadKind}/${p.workloadName} on ${p.node} ${p.ip}` +
        `${p.hostNetwork ? ' host-network' : ''}${p.live ? '' : ' not live'}`
    )
    .sort();

test('API server (recorded): workloads through ReplicaSets (Deployment), StatefulSet, DaemonSet, Job; labels; containers by id', () => {
  const owners = indexReplicaSets(fixture('apiserver-replicasets.recorded.json'));
  assert.deepEqual([...owners].map(([rs, o]) => `${rs} ${o.kind}/${o.name}`).sort(), [
    'shop/cart-5f6d7c8b9a Deployment/cart',
    'shop/checkout-7d9f8b6c5d Deployment/checkout',
    'shop/search-6b7c8d9e5f Deployment/search',
    'web/frontend-85f6c9d7b8 Deployment/frontend',
  ]);
  const idx = indexPodList(fixture('apiserver-pods-node-a.recorded.json'), owners);
  assert.deepEqual(summary(idx), [
    'batch/report-28871040-h5z2m Job/report-28871040 on node-a 10.244.1.31',
    'monitoring/node-exporter-q8v7r DaemonSet/node-exporter on node-a 10.0.0.10 host-network',
    'shop/cart-5f6d7c8b9a-old11 Deployment/cart on node-a 10.244.1.40 not live',
    'shop/checkout-7d9f8b6c5d-x2k4q Deployment/checkout on node-a 10.244.1.17',
    'shop/orders-db-0 StatefulSet/orders-db on node-a 10.244.1.23',
    'shop/search-6b7c8d9e5f-new22 Deployment/search on node-a 10.244.1.40',
  ]);
  assert.deepEqual(
    summary(indexPodList(fixture('apiserver-pods-node-a.recorded.json'))),
    summary(idx),
    'without the ReplicaSet list, the pod-template-hash label names the same Deployments'
  );
  assert.deepEqual(podNamed(idx, 'shop/checkout-7d9f8b6c5d-x2k4q').labels, [
    ['app', 'checkout'],
    ['pod-template-hash', '7d9f8b6c5d'],
    ['team', 'payments'],
  ]);
  assert.deepEqual(podNamed(idx, 'shop/orders-db-0').labels, [
    ['app', 'orders-db'],
    ['statefulset.kubernetes.io/pod-name', 'orders-db-0'],
  ]);
  assert.deepEqual(podNamed(idx, 'batch/report-28871040-h5z2m').labels, [
    ['batch.kubernetes.io/job-name', 'report-28871040'],
  ]);
  assert.deepEqual(
    [...idx.byContainerId].map(([id, c]) => `${id.slice(0, 4)} ${c.name} ${c.runtime} ${c.pod.name}`).sort(),
    [
      '1111 cart containerd cart-5f6d7c8b9a-old11',
      '2222 search containerd search-6b7c8d9e5f-new22',
      '9999 report containerd report-28871040-h5z2m',
      'aaaa checkout containerd checkout-7d9f8b6c5d-x2k4q',
      'bbbb postgres containerd orders-db-0',
      'cccc exporter containerd orders-db-0',
      'dddd node-exporter containerd node-exporter-q8v7r',
    ]
  );
  assert.equal(idx.byIp.get('10.0.0.10'), undefined, "a host-network pod's address is the node's, not the pod's");
  assert.equal(idx.byIp.get('10.244.1.17')!.workloadName, 'checkout');
  assert.equal(idx.byIp.get('10.244.1.23')!.workloadKind, 'StatefulSet');
});

test('API server (recorded): a pod deleted and its IP reused, while terminating, after it failed and once removed', () => {
  const owners = indexReplicaSets(fixture('apiserver-replicasets.recorded.json'));
  const stages = ['apiserver-pods-node-a', 'apiserver-pods-node-a-failed', 'apiserver-pods-node-a-removed'];
  const [deleting, failed, removed] = stages.map((s) => indexPodList(fixture(`${s}.recorded.json`), owners));
  for (const [stage, idx] of [
    ['deleting', deleting],
    ['failed', failed],
  ] as const) {
    const old = podNamed(idx, 'shop/cart-5f6d7c8b9a-old11');
    assert.deepEqual([old.ip, old.live, old.workloadName], ['10.244.1.40', false, 'cart'], stage);
    assert.equal(idx.byIp.get('10.244.1.40')!.name, 'search-6b7c8d9e5f-new22', `${stage}: the live pod holds the IP`);
    assert.equal(
      idx.byContainerId.get('1'.repeat(64))!.pod.workloadName,
      'cart',
      `${stage}: the old pod's processes keep their pod`
    );
  }
  // the API server lists by name (the old pod first); a kubelet in its own order: the same holder
  const reversed = fixture('apiserver-pods-node-a.recorded.json') as { items: unknown[] };
  const idx = indexPodList({ ...reversed, items: [...reversed.items].reverse() }, owners);
  assert.equal(idx.byIp.get('10.244.1.40')!.name, 'search-6b7c8d9e5f-new22', 'listed after the new pod');
  assert.equal(removed.byUid.size, 5);
  assert.equal(
    [...removed.byUid.values()].some((p) => p.name === 'cart-5f6d7c8b9a-old11'),
    false,
    'confirmed deleted: not listed'
  );
  assert.equal(removed.byContainerId.has('1'.repeat(64)), false);
  assert.equal(removed.byIp.get('10.244.1.40')!.workloadName, 'search');
});

test('API server (recorded): a ReplicaSet names its Deployment even when the pod has no pod-template-hash label; CRI-O container ids', () => {
  const alone = podNamed(indexPodList(fixture('apiserver-pods-node-b.recorded.json')), 'web/frontend-85f6c9d7b8-abcde');
  assert.deepEqual([alone.workloadKind, alone.workloadName], ['ReplicaSet', 'frontend-85f6c9d7b8']);
  const told = indexPodList(
    fixture('apiserver-pods-node-b.recorded.json'),
    indexReplicaSets(fixture('apiserver-replicasets.recorded.json'))
  );
  assert.deepEqual(summary(told), ['web/frontend-85f6c9d7b8-abcde Deployment/frontend on node-b 10.244.2.5']);
  assert.deepEqual(podNamed(told, 'web/frontend-85f6c9d7b8-abcde').labels, [['app', 'frontend']]);
  const c = told.byContainerId.get('3'.repeat(64))!;
  assert.deepEqual([c.name, c.runtime, c.pod.name], ['frontend', 'cri-o', 'frontend-85f6c9d7b8-abcde']);
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

test('kube source: kubelet down, an HTTP server replaying the recorded API server answers; neither: a clear status line and no pods', async (t) => {
  const answers: Record<string, unknown> = {
    '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b': fixture('apiserver-pods-node-b.recorded.json'),
    '/apis/apps/v1/replicasets': fixture('apiserver-replicasets.recorded.json'),
    '/api/v1/services': fixture('apiserver-services.recorded.json'),
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
  assert.equal(podNamed(src.index!, 'web/frontend-85f6c9d7b8-abcde').workloadName, 'frontend');
  assert.match(
    src.statusText(),
    /^kubernetes: 1 pods from API server http:\/\/127\.0\.0\.1:\d+, 0 s old, 4 service IPs$/
  );
  assert.deepEqual(seen, [
    '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b ',
    '/apis/apps/v1/replicasets ',
    '/api/v1/services ',
  ]);
  // the dual-stack Service's addresses, allocated by the API server in the ranges it was given
  const frontend = recordedClusterIps('web/frontend');
  assert.equal(frontend.length, 2);
  assert.match(frontend[0], /^10\.96\.\d+\.\d+$/);
  assert.match(frontend[1], /^fd00:10:96::[0-9a-f]{1,4}$/);
  assert.deepEqual(recordedClusterIps('shop/orders-db'), ['None']);
  assert.deepEqual(
    [...src.index!.servicesByIp].map(([ip, s]) => `${ip} ${s.namespace}/${s.name}`),
    [
      '10.96.0.1 default/kubernetes',
      '10.96.12.40 shop/checkout',
      `${frontend[0]} web/frontend`,
      `${frontend[1]} web/frontend`,
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
