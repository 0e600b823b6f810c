// The pods of this node, from the kubelet's read-only pod list (GET /pods) or the API server's
// (GET /api/v1/pods?fieldSelector=spec.nodeName=<node>): both answer a v1 PodList. Indexed by pod
// uid (a process's cgroup names its pod), by container id and by pod IP (a peer's address names
// its pod). The answer is foreign JSON: every field is checked for its type before use.

export type WorkloadKind =
  'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob' | 'ReplicationController' | 'Pod' | '';

export interface PodTags {
  uid: string;
  name: string;
  namespace: string;
  node: string;
  ip: string;
  workloadKind: WorkloadKind;
  workloadName: string;
  /** pod labels, sorted by key */
  labels: Array<[string, string]>;
  /** running, not being deleted: the pod that owns its IP now */
  live: boolean;
  /** creation time in ms since epoch (0 unknown): of two pods with one IP, the newer one holds it */
  createdMs: number;
  hostNetwork: boolean;
}

export interface ContainerTags {
  name: string;
  runtime: string;
  pod: PodTags;
}

export interface PodIndex {
  byUid: Map<string, PodTags>;
  byContainerId: Map<string, ContainerTags>;
  byIp: Map<string, PodTags>;
  /** Kubernetes Services by cluster IP (from the API server only: the kubelet lists no Services) */
  servicesByIp: Map<string, KubeService>;
}

export interface KubeService {
  namespace: string;
  name: string;
}

/** Bounds on one answer: a node runs at most a few hundred pods (110 by default). */
const MAX_PODS = 5000;
const MAX_LABELS = 64;
const MAX_STR = 1024;

const str = (v: unknown): string => (typeof v === 'string' && v.length <= MAX_STR ? v : '');
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const WORKLOAD_KINDS = new Set(['ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController']);

/**
 * The workload that owns a pod. A ReplicaSet made by a Deployment is named `<deployment>-<pod-template-hash>`
 * and its pods carry that hash as a label: the Deployment is its name without the suffix. A ReplicaSet
 * whose owner the API server told (`rsOwners`: "ns/name" -> owner) is resolved through it instead.
 */
export function workloadOf(
  meta: Record<string, unknown>,
  labels: Map<string, string>,
  rsOwners?: Map<string, { kind: string; name: string }>
): { kind: WorkloadKind; name: string } {
  const owners = arr(meta.ownerReferences).map(obj);
  const owner = owners.find((o) => o.controller === true) ?? owners[0];
  const kind = str(owner?.kind);
  const name = str(owner?.name);
  if (!owner || !WORKLOAD_KINDS.has(kind) || !name) {
    return { kind: 'Pod', name: str(meta.name) };
  }
  if (kind === 'ReplicaSet') {
    const told = rsOwners?.get(`${str(meta.namespace)}/${name}`);
    if (told) {
      return told.kind === 'Deployment' ? { kind: 'Deployment', name: told.name } : { kind: 'ReplicaSet', name };
    }
    const hash = labels.get('pod-template-hash');
    if (hash && name.length > hash.length + 1 && name.endsWith(`-${hash}`)) {
      return { kind: 'Deployment', name: name.slice(0, name.length - hash.length - 1) };
    }
  }
  return { kind: kind as WorkloadKind, name };
}

/** `containerd://<id>`, `cri-o://<id>`, `docker://<id>` -> runtime and id. */
function splitContainerId(v: string): [string, string] | undefined {
  const at = v.indexOf('://');
  if (at <= 0) {
    return undefined;
  }
  const id = v.slice(at + 3);
  return /^[0-9a-f]{64}$/.test(id) ? [v.slice(0, at), id] : undefined;
}

function timeMs(v: unknown): number {
  const t = Date.parse(str(v));
  return Number.isFinite(t) ? t : 0;
}

/** Indexes a PodList answer (kubelet or API server); `rsOwners` from the API server's ReplicaSet list. */
export function indexPodList(body: unknown, rsOwners?: Map<string, { kind: string; name: string }>): PodIndex {
  const index: PodIndex = { byUid: new Map(), byContainerId: new Map(), byIp: new Map(), servicesByIp: new Map() };
  const items = arr(obj(body).items);
  if (items.length > MAX_PODS) {
    throw new RangeError(`pod list holds ${items.length} pods, more than the ${MAX_PODS} a node can run`);
  }
  for (const item of items.map(obj)) {
    const meta = obj(item.metadata);
    const spec = obj(item.spec);
    const status = obj(item.status);
    const uid = str(meta.uid);
    if (!uid) {
      continue;
    }
    const labels = new Map<string, string>();
    for (const [k, v] of Object.entries(obj(meta.labels))) {
      if (labels.size < MAX_LABELS && k.length <= 317 && typeof v === 'string' && v.length <= 63) {
        labels.set(k, v);
      }
    }
    const w = workloadOf(meta, labels, rsOwners);
    const phase = str(status.phase);
    const pod: PodTags = {
      uid,
      name: str(meta.name),
      namespace: str(meta.namespace),
      node: str(spec.nodeName),
      ip: str(status.podIP),
      workloadKind: w.kind,
      workloadName: w.name,
      labels: [...labels].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
      live: (phase === 'Running' || phase === 'Pending') && meta.deletionTimestamp === undefined,
      createdMs: timeMs(meta.creationTimestamp),
      hostNetwork: spec.hostNetwork === true,
    };
    index.byUid.set(uid, pod);
    for (const cs of [...arr(status.containerStatuses), ...arr(status.initContainerStatuses)].map(obj)) {
      const split = splitContainerId(str(cs.containerID));
      if (split) {
        index.byContainerId.set(split[1], {
          name: str(cs.name),
          runtime: split[0] === 'cri-o' ? 'cri-o' : split[0],
          pod,
        });
      }
    }
    // a host-network pod's address is the node's: it names no pod
    if (pod.ip && !pod.hostNetwork) {
      const held = index.byIp.get(pod.ip);
      if (!held || holdsIpBefore(held, pod)) {
        index.byIp.set(pod.ip, pod);
      }
    }
  }
  return index;
}

/** Whether `b` holds an IP that `a` also reports: a live pod over a deleted or finished one, else the newer. */
function holdsIpBefore(a: PodTags, b: PodTags): boolean {
  if (a.live !== b.live) {
    return b.live;
  }
  return b.createdMs > a.createdMs;
}

/** ReplicaSet owners from the API server's ReplicaSetList ("ns/name" -> controller owner). */
export function indexReplicaSets(body: unknown): Map<string, { kind: string; name: string }> {
  const out = new Map<string, { kind: string; name: string }>();
  for (const item of arr(obj(body).items).slice(0, 50_000).map(obj)) {
    const meta = obj(item.metadata);
    const owner = arr(meta.ownerReferences)
      .map(obj)
      .find((o) => o.controller === true);
    if (owner && str(owner.kind) && str(owner.name)) {
      out.set(`${str(meta.namespace)}/${str(meta.name)}`, { kind: str(owner.kind), name: str(owner.name) });
    }
  }
  return out;
}

/** Services by cluster IP from the API server's ServiceList (headless Services, clusterIP None, have none). */
export function indexServices(body: unknown): Map<string, KubeService> {
  const out = new Map<string, KubeService>();
  for (const item of arr(obj(body).items).slice(0, 50_000).map(obj)) {
    const meta = obj(item.metadata);
    const spec = obj(item.spec);
    const svc = { namespace: str(meta.namespace), name: str(meta.name) };
    const ips = new Set([str(spec.clusterIP), ...arr(spec.clusterIPs).map(str)]);
    for (const ip of ips) {
      if (ip && ip !== 'None' && svc.name) {
        out.set(ip, svc);
      }
    }
  }
  return out;
}
