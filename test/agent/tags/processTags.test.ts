import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ProcessTable } from '../../../src/agent/conntrack/processTable';
import { indexPodList, indexServices } from '../../../src/agent/tags/kubePods';
import { KubeSource } from '../../../src/agent/tags/kubeSource';
import {
  ProcessTagger,
  ProcessTagsRow,
  serviceName,
  startTimeOfStat,
  uidInside,
} from '../../../src/agent/tags/processTags';
import { fixture, recordedClusterIps } from './kubeFixtures';

const CHECKOUT_ID = 'a'.repeat(64);
const CHECKOUT_UID = '6f1c2a3b_4d5e_4f60_8a7b_9c0d1e2f3a4b';
const proc = mkdtempSync(join(tmpdir(), 'flowlens-tags-'));
const PASSWD = 'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n';

function fakeProc(pid: number, comm: string, cgroup: string, uid: number, cmdline: string[]): void {
  const d = join(proc, String(pid));
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'comm'), comm + '\n');
  writeFileSync(join(d, 'cgroup'), cgroup);
  writeFileSync(join(d, 'cmdline'), cmdline.join('\0') + '\0');
  writeFileSync(
    join(d, 'status'),
    `Name:\t${comm}\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`
  );
  // comm with a space and a parenthesis: field 22 is counted from the last ')'
  writeFileSync(
    join(d, 'stat'),
    `${pid} (${comm} x) S 1 ${pid} ${pid} 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`
  );
  symlinkSync(`/usr/bin/${comm}`, join(d, 'exe'));
}

fakeProc(
  100,
  'checkout',
  `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${CHECKOUT_UID}.slice/cri-containerd-${CHECKOUT_ID}.scope\n`,
  33,
  ['/usr/bin/checkout', '--port', '8080']
);
fakeProc(101, 'nginx', '0::/system.slice/nginx.service\n', 0, ['nginx: master process']);
fakeProc(102, 'podman-app', `0::/machine.slice/libpod-${'9'.repeat(64)}.scope/container\n`, 1234, ['app']);
// a container's users are its image's (/proc/<pid>/root/etc/passwd), its uid mapped through its user namespace:
// the containerd one runs as uid 33, "app" in its image (www-data on the host); the rootless podman one as host uid
// 1234, 234 inside (uid_map 0 1000 65536), "svc" in its image
function containerFiles(pid: number, passwd: string, uidMap = '         0          0 4294967295\n'): void {
  mkdirSync(join(proc, String(pid), 'root', 'etc'), { recursive: true });
  writeFileSync(join(proc, String(pid), 'root', 'etc', 'passwd'), passwd);
  writeFileSync(join(proc, String(pid), 'uid_map'), uidMap);
}
containerFiles(100, 'root:x:0:0:root:/root:/bin/sh\napp:x:33:33::/app:/bin/sh\n');
containerFiles(
  102,
  'root:x:0:0:root:/root:/bin/sh\nsvc:x:234:234::/srv:/bin/sh\n',
  '         0       1000      65536\n'
);

function tagger(kube?: KubeSource, rows: ProcessTagsRow[] = [], now = { s: 1_764_000_000 }, max = 100): ProcessTagger {
  return new ProcessTagger({
    host: 'node-a',
    procRoot: proc,
    maxProcesses: max,
    kube,
    sink: (r) => rows.push(...r),
    nowSec: () => now.s,
    passwd: PASSWD,
  });
}

test('stat field 22 (start time) is read past a comm holding spaces and parentheses', () => {
  assert.equal(startTimeOfStat(readFileSync(join(proc, '100', 'stat'), 'utf8')), 987654);
  assert.equal(startTimeOfStat('garbage'), 0);
});

test('a uid inside its user namespace, from uid_map', () => {
  assert.equal(uidInside(33, '         0          0 4294967295\n'), 33);
  assert.equal(uidInside(1234, '         0       1000      65536\n'), 234);
  assert.equal(uidInside(1000, '0 1000 1\n1 100000 65536\n'), 0);
  assert.equal(uidInside(100005, '0 1000 1\n1 100000 65536\n'), 6);
  assert.equal(uidInside(5, '0 1000 1\n1 100000 65536\n'), -1);
  assert.equal(uidInside(5, 'garbage'), -1);
});

test('the service rule in one place: configured, else workload, else container name, else process', () => {
  const pod = indexPodList(fixture('kubelet-pods-node-a.json')).byUid.get('6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b');
  assert.equal(serviceName('billing', 'checkout', { containerName: 'checkout-c', runtime: '', pod }), 'billing');
  assert.equal(serviceName(undefined, 'proc', { containerName: 'checkout-c', runtime: '', pod }), 'checkout');
  assert.equal(serviceName(undefined, 'proc', { containerName: 'checkout-c', runtime: '' }), 'checkout-c');
  assert.equal(serviceName(undefined, 'proc'), 'proc');
});

test('process tags from /proc: command line, executable, user, container; the pod once the kubelet lists it; one dimension row each', async () => {
  const kube = new KubeSource({
    kubeletUrl: 'http://127.0.0.1:1',
    apiServerUrl: '',
    tokenFile: '',
    caFile: '',
    nodeName: 'node-a',
    refreshSec: 60,
  });
  const rows: ProcessTagsRow[] = [];
  const now = { s: 1_764_000_000 };
  const t = tagger(kube, rows, now);
  const table = new ProcessTable([{ name: 'web', process: 'nginx' }], proc, 100, t);
  assert.equal(table.service(100), 'checkout', 'no pod list yet: the process name');
  assert.equal(table.service(101), 'web');
  assert.equal(table.service(102), 'podman-app');
  t.flush();
  assert.deepEqual(
    rows.map((r) => [
      r.pid,
      r.process,
      r.cmdline,
      r.exe,
      r.user,
      r.container_id.slice(0, 4),
      r.container_runtime,
      r.systemd_unit,
      r.pod_uid,
      r.pod_name,
      r.service,
      r.start_time,
    ]),
    [
      [
        100,
        'checkout',
        '/usr/bin/checkout --port 8080',
        '/usr/bin/checkout',
        'app',
        'aaaa',
        'containerd',
        '',
        '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b',
        '',
        'checkout',
        987654,
      ],
      [101, 'nginx', 'nginx: master process', '/usr/bin/nginx', 'root', '', '', 'nginx.service', '', '', 'web', 987654],
      [102, 'podman-app', 'app', '/usr/bin/podman-app', 'svc', '9999', 'podman', '', '', '', 'podman-app', 987654],
    ]
  );
  rows.length = 0;
  table.service(100);
  t.flush();
  assert.equal(rows.length, 0, 'named again: no new row');
  // the kubelet answers now (a recorded pod list): the pod's workload names the service, and a new row says so
  kube.index = indexPodList(fixture('kubelet-pods-node-a.json'));
  assert.equal(table.service(100), 'checkout');
  t.flush();
  assert.deepEqual(
    rows.map((r) => [
      r.pid,
      r.pod_name,
      r.pod_namespace,
      r.workload_kind,
      r.workload_name,
      r.container_name,
      r.node,
      r.pod_ip,
      r.label_keys.join(','),
      r.label_values.join(','),
    ]),
    [
      [
        100,
        'checkout-7d9f8b6c5d-x2k4q',
        'shop',
        'Deployment',
        'checkout',
        'checkout',
        'node-a',
        '10.244.1.17',
        'app,pod-template-hash,team',
        'checkout,7d9f8b6c5d,payments',
      ],
    ]
  );
  rows.length = 0;
  now.s += 3600;
  table.service(100);
  t.flush();
  assert.equal(rows.length, 1, 'hourly while it is named, so any hour of data finds it');
  rows.length = 0;
  const byPort = new ProcessTable([{ name: 'billing', port: 8080 }], proc, 100, t);
  assert.equal(byPort.service(100, 8080), 'billing');
  assert.equal(byPort.service(100, 8080), 'billing');
  t.flush();
  assert.deepEqual(
    rows.map((r) => [r.pid, r.service]),
    [[100, 'billing']],
    'a new service name: a new row (metrics join the dimension by service)'
  );
  // a peer address held by a pod (the deleted pod's IP reused): named by the live pod's workload
  assert.equal(table.remoteService('10.244.1.40', 80, true), 'search');
  assert.equal(table.remoteService('10.0.0.11', 9100, true), '10.0.0.11', 'a host-network address names no pod');
  assert.equal(table.remoteService('10.244.1.40', 80, false), 'search');
  // a cluster IP (the client's peer before kube-proxy's NAT) names its Kubernetes Service
  kube.index.servicesByIp = indexServices(fixture('apiserver-services.recorded.json'));
  assert.equal(table.remoteService('10.96.12.40', 80, true), 'checkout');
  for (const ip of recordedClusterIps('web/frontend')) {
    assert.equal(table.remoteService(ip, 80, true), 'frontend', `${ip}, allocated by the API server`);
  }
  assert.equal(table.remoteService('10.96.99.99', 80, true), '10.96.99.99');
});

test('bounded: the least recently tagged process is forgotten, an exec reads its tags again', () => {
  const t = tagger(undefined, [], undefined, 2);
  t.tags(100);
  t.tags(101);
  t.tags(102);
  assert.deepEqual(t.stats(), [
    { name: 'process tags', size: 2, max: 2, evicted: 1 },
    // one passwd read per container (the containerd and the podman one), the host process none
    { name: 'container users', size: 2, max: 512, evicted: 0 },
  ]);
  const before = t.tags(102);
  writeFileSync(join(proc, '102', 'cmdline'), 'app\0--new\0');
  assert.equal(t.tags(102), before, 'cached');
  const table = new ProcessTable([], proc, 100, t);
  table.onExec(102, 'podman-app');
  assert.equal(t.tags(102).cmdline, 'app --new');
  assert.equal(t.tags(999).cmdline, '', 'a process gone: empty tags, counted');
  assert.ok(t.unreadable >= 4);
});
