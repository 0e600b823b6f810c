import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProcCgroup } from '../../../src/agent/tags/cgroupPath';

const ID_A = 'a3f1c9e4b7d2086f5e1a9c3b7d4e2f08162a4c6e8b0d2f4a6c8e0b2d4f6a8c0e';
const UID = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const UID_ = UID.replace(/-/g, '_');
/** this machine's own /proc/self/cgroup (hybrid: v1 controllers beside the unified hierarchy) */
const HYBRID_V1 =
  '9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n4:memory:/process_api/b03c313e68aed84eecf243d6ef450f14\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n';

const cases: Array<[string, string, { containerId: string; runtime: string; podUid: string; systemdUnit: string }]> = [
  [
    'containerd under the kubelet, systemd cgroup driver, cgroup v2',
    `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID_A}.scope\n`,
    { containerId: ID_A, runtime: 'containerd', podUid: UID, systemdUnit: '' },
  ],
  [
    'containerd under the kubelet, cgroupfs driver, cgroup v1 (runtime told by the kubelet)',
    `12:memory:/kubepods/burstable/pod${UID}/${ID_A}\n11:cpu,cpuacct:/kubepods/burstable/pod${UID}/${ID_A}\n0::/\n`,
    { containerId: ID_A, runtime: '', podUid: UID, systemdUnit: '' },
  ],
  [
    'a Guaranteed pod (no QoS slice), CRI-O',
    `0::/kubepods.slice/kubepods-pod${UID_}.slice/crio-${ID_A}.scope\n`,
    { containerId: ID_A, runtime: 'cri-o', podUid: UID, systemdUnit: '' },
  ],
  [
    "CRI-O's conmon beside the container: in the pod, not the container",
    `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-conmon-${ID_A}.scope\n`,
    { containerId: '', runtime: '', podUid: UID, systemdUnit: `crio-conmon-${ID_A}.scope` },
  ],
  [
    'Docker, systemd driver',
    `0::/system.slice/docker-${ID_A}.scope\n`,
    { containerId: ID_A, runtime: 'docker', podUid: '', systemdUnit: '' },
  ],
  [
    'Docker, cgroupfs driver, v1 hybrid',
    `${HYBRID_V1.replace('5:devices:/', `5:devices:/docker/${ID_A}`)}0::/\n`,
    { containerId: ID_A, runtime: 'docker', podUid: '', systemdUnit: '' },
  ],
  [
    'podman, rootful, the container/ sub-cgroup',
    `0::/machine.slice/libpod-${ID_A}.scope/container\n`,
    { containerId: ID_A, runtime: 'podman', podUid: '', systemdUnit: '' },
  ],
  [
    'podman, rootless',
    `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID_A}.scope\n`,
    { containerId: ID_A, runtime: 'podman', podUid: '', systemdUnit: '' },
  ],
  [
    'a systemd service',
    '0::/system.slice/nginx.service\n',
    { containerId: '', runtime: '', podUid: '', systemdUnit: 'nginx.service' },
  ],
  [
    'a login session',
    '0::/user.slice/user-1000.slice/session-3.scope\n',
    { containerId: '', runtime: '', podUid: '', systemdUnit: 'session-3.scope' },
  ],
  [
    "this machine's hybrid mount: a 32-hex sandbox id is no container",
    `${HYBRID_V1}0::/\n`,
    { containerId: '', runtime: '', podUid: '', systemdUnit: '' },
  ],
  [
    'the kubelet with Docker through cri-dockerd',
    `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/docker-${ID_A}.scope\n`,
    { containerId: ID_A, runtime: 'docker', podUid: UID, systemdUnit: '' },
  ],
];

for (const [name, text, want] of cases) {
  test(`cgroup path: ${name}`, () => {
    const got = parseProcCgroup(text);
    assert.deepEqual(
      { containerId: got.containerId, runtime: got.runtime, podUid: got.podUid, systemdUnit: got.systemdUnit },
      want
    );
  });
}

test('cgroup path: hostile text (names chosen by whoever made the cgroups) is parsed in linear time and bounded', () => {
  const long = `0::/${'a'.repeat(5000)}/cri-containerd-${ID_A}.scope\n`;
  assert.equal(parseProcCgroup(long).containerId, '', 'a line longer than PATH_MAX is not the kernel’s');
  const nearMiss = `0::/${`cri-containerd-${'a'.repeat(63)}g.scope/`.repeat(40)}\n`;
  const many = `1:x:/${'docker-'.repeat(500)}\n`.repeat(10_000);
  const t0 = process.hrtime.bigint();
  assert.equal(parseProcCgroup(nearMiss).containerId, '');
  assert.equal(parseProcCgroup(many).containerId, '', 'at most 64 lines are read');
  assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 < 200);
  assert.deepEqual(parseProcCgroup('garbage without colons'), {
    path: '',
    containerId: '',
    runtime: '',
    podUid: '',
    systemdUnit: '',
  });
});
