// The Kubernetes answers of test/agent/tags/fixtures/: `*.recorded.json` from a real kube-apiserver
// (record-kube.js, see RECORDED.md), `kubelet-*.json` composed (no kubelet runs here). A recording's uids,
// allocated cluster IPs and times change with each recording: tests look things up by name.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PodIndex, PodTags } from '../../../src/agent/tags/kubePods';

export const FIXTURES = join(__dirname, '..', '..', '..', '..', '..', 'test', 'agent', 'tags', 'fixtures');

export const fixture = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

/** The pod named `namespace/name` in an index. */
export function podNamed(index: PodIndex, namespacedName: string): PodTags {
  const pod = [...index.byUid.values()].find((p) => `${p.namespace}/${p.name}` === namespacedName);
  assert.ok(pod, `${namespacedName} is listed`);
  return pod;
}

/** The cluster IPs a recorded Service (`namespace/name`) was given, in the API server's order. */
export function recordedClusterIps(namespacedName: string): string[] {
  const list = fixture('apiserver-services.recorded.json') as {
    items: Array<{ metadata: { namespace: string; name: string }; spec: { clusterIPs?: string[] } }>;
  };
  const svc = list.items.find((s) => `${s.metadata.namespace}/${s.metadata.name}` === namespacedName);
  assert.ok(svc, `${namespacedName} is recorded`);
  return svc.spec.clusterIPs ?? [];
}
