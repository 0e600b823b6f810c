// Container id, runtime, Kubernetes pod uid and systemd unit of a process, from the text of
// /proc/<pid>/cgroup. The text is written by the kernel but the path names are chosen by whoever
// created the cgroups: every line and component is bounded and matched by anchored patterns without
// nested repetition, so parsing is linear in the text's length.

export type ContainerRuntime = 'containerd' | 'cri-o' | 'docker' | 'podman' | '';

export interface CgroupTags {
  /** the cgroup path the tags come from (the v2 line when it names a container, else a v1 line) */
  path: string;
  /** 64 hex digits, '' when the process runs in no container */
  containerId: string;
  runtime: ContainerRuntime;
  /** Kubernetes pod uid (dashed form), '' outside a pod */
  podUid: string;
  /** systemd unit (nginx.service, session-3.scope) when the process runs in one, not in a container */
  systemdUnit: string;
}

/** The kernel limits a cgroup path to PATH_MAX; a longer line is not one it wrote. */
const MAX_LINE = 4096;
const MAX_LINES = 64;

/** `<runtime prefix>-<64 hex>.scope` (systemd driver), e.g. cri-containerd-<id>.scope, docker-<id>.scope */
const SCOPE_RE = /^(cri-containerd|crio|docker|libpod)-([0-9a-f]{64})\.scope$/;
/** a bare 64-hex component (cgroupfs driver: /docker/<id>, /kubepods/besteffort/pod<uid>/<id>) */
const BARE_ID_RE = /^[0-9a-f]{64}$/;
/** the pod's own cgroup: `pod<uid>` (cgroupfs) or `kubepods[-<qos>]-pod<uid with _>.slice` (systemd) */
const POD_RE =
  /^(?:pod|kubepods(?:-besteffort|-burstable)?-pod)([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;
const UNIT_RE = /^[A-Za-z0-9:_.@\\-]{1,255}\.(service|scope)$/;

const RUNTIME_OF_PREFIX: Record<string, ContainerRuntime> = {
  'cri-containerd': 'containerd',
  crio: 'cri-o',
  docker: 'docker',
  libpod: 'podman',
};

/** Tags of one cgroup path (one line's path field). */
export function tagsOfCgroupPath(path: string): CgroupTags {
  const out: CgroupTags = { path, containerId: '', runtime: '', podUid: '', systemdUnit: '' };
  let parentOfBare = '';
  for (const part of path.split('/')) {
    if (part === '') {
      continue;
    }
    const scope = SCOPE_RE.exec(part);
    if (scope) {
      out.containerId = scope[2];
      out.runtime = RUNTIME_OF_PREFIX[scope[1]];
      continue;
    }
    if (BARE_ID_RE.test(part) && !out.containerId) {
      out.containerId = part;
      // /docker/<id> is Docker's cgroupfs layout; under a pod the runtime is told by the kubelet
      out.runtime = parentOfBare === 'docker' ? 'docker' : '';
      continue;
    }
    const pod = POD_RE.exec(part);
    if (pod) {
      out.podUid = pod[1].replace(/_/g, '-');
    } else if (UNIT_RE.test(part)) {
      out.systemdUnit = part;
    }
    parentOfBare = part;
  }
  if (out.containerId) {
    out.systemdUnit = '';
  }
  return out;
}

/**
 * Tags of a process from its /proc/<pid>/cgroup text: the unified (v2, `0::`) line when it names a
 * container or pod, else the first v1 line that does (hybrid hosts: a runtime may have placed the
 * process in v1 hierarchies only), else the v2 line's systemd unit.
 */
export function parseProcCgroup(text: string): CgroupTags {
  let unified: CgroupTags | undefined;
  let firstV1: CgroupTags | undefined;
  let start = 0;
  for (let n = 0; n < MAX_LINES && start < text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end < 0) {
      end = text.length;
    }
    const line = end - start <= MAX_LINE ? text.slice(start, end) : '';
    start = end + 1;
    // hierarchy-ID:controller-list:cgroup-path (the path may itself hold ':')
    const c1 = line.indexOf(':');
    const c2 = c1 < 0 ? -1 : line.indexOf(':', c1 + 1);
    if (c2 < 0) {
      continue;
    }
    const t = tagsOfCgroupPath(line.slice(c2 + 1));
    if (line.startsWith('0::')) {
      unified = t;
    } else if (!firstV1 && (t.containerId || t.podUid)) {
      firstV1 = t;
    }
  }
  if (unified && (unified.containerId || unified.podUid)) {
    return unified;
  }
  return firstV1 ?? unified ?? { path: '', containerId: '', runtime: '', podUid: '', systemdUnit: '' };
}
