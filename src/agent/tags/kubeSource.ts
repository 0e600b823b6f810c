// Keeps this node's pod index fresh from the kubelet's read-only port or the API server, and says
// in the status line where its pods come from. Neither reachable (no Kubernetes, a kubelet without
// its read-only port): processes keep their process and container tags, and the line says why.
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { PodIndex, indexPodList, indexReplicaSets, indexServices } from './kubePods';

export interface KubernetesConfig {
  /** the kubelet's read-only endpoint, e.g. http://127.0.0.1:10255 ('' none) */
  kubeletUrl: string;
  /** the API server, e.g. https://kubernetes.default.svc ('' none); asked when the kubelet is not */
  apiServerUrl: string;
  /** bearer token file for the API server (a service account's) */
  tokenFile: string;
  /** CA bundle for the API server's certificate */
  caFile: string;
  /** this node's name (the API server's pods are filtered by it) */
  nodeName: string;
  /** seconds between two pod lists */
  refreshSec: number;
}

/** An answer larger than this is not a node's pod list. */
const MAX_BODY = 64 << 20;
const TIMEOUT_MS = 5000;

export function getJson(url: string, headers: Record<string, string> = {}, ca?: Buffer): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.get(
      u,
      { headers: { accept: 'application/json', ...headers }, timeout: TIMEOUT_MS, ...(ca ? { ca } : {}) },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (b: Buffer) => {
          size += b.length;
          if (size > MAX_BODY) {
            req.destroy(new Error(`answer larger than ${MAX_BODY} bytes`));
            return;
          }
          chunks.push(b);
        });
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(new Error(`not JSON: ${(err as Error).message}`));
          }
        });
        res.on('error', reject);
      }
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

export class KubeSource {
  index?: PodIndex;
  private source = '';
  private error = '';
  private servicesError = '';
  private fetchedAtMs = 0;
  private timer?: NodeJS.Timeout;
  /** called after each successful refresh (cached tags of pods that changed are resolved again) */
  onRefresh?: () => void;

  constructor(private readonly cfg: KubernetesConfig) {}

  get configured(): boolean {
    return !!(this.cfg.kubeletUrl || this.cfg.apiServerUrl);
  }

  /** One refresh now, then every refreshSec; resolves after the first (whatever its outcome). */
  async start(): Promise<void> {
    if (!this.configured) {
      return;
    }
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.cfg.refreshSec * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async refresh(): Promise<void> {
    const errors: string[] = [];
    if (this.cfg.kubeletUrl) {
      try {
        this.index = indexPodList(await getJson(`${this.cfg.kubeletUrl.replace(/\/$/, '')}/pods`));
        await this.addServices();
        this.done(`kubelet ${this.cfg.kubeletUrl}`);
        return;
      } catch (err) {
        errors.push(`kubelet ${this.cfg.kubeletUrl}: ${(err as Error).message}`);
      }
    }
    if (this.cfg.apiServerUrl) {
      try {
        const { base, headers, ca } = this.apiServer();
        const node = this.cfg.nodeName
          ? `?fieldSelector=${encodeURIComponent(`spec.nodeName=${this.cfg.nodeName}`)}`
          : '';
        const pods = await getJson(`${base}/api/v1/pods${node}`, headers, ca);
        // ReplicaSet owners name the Deployment even when a pod lacks its pod-template-hash label
        let owners;
        try {
          owners = indexReplicaSets(await getJson(`${base}/apis/apps/v1/replicasets`, headers, ca));
        } catch {
          /* no right to list ReplicaSets: Deployments are told by the pods' hash label */
        }
        this.index = indexPodList(pods, owners);
        await this.addServices();
        this.done(`API server ${this.cfg.apiServerUrl}`);
        return;
      } catch (err) {
        errors.push(`API server ${this.cfg.apiServerUrl}: ${(err as Error).message}`);
      }
    }
    this.error = errors.join('; ');
  }

  private apiServer(): { base: string; headers: Record<string, string>; ca?: Buffer } {
    const token = this.cfg.tokenFile ? readFileSync(this.cfg.tokenFile, 'utf8').trim() : '';
    return {
      base: this.cfg.apiServerUrl.replace(/\/$/, ''),
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ca: this.cfg.caFile ? readFileSync(this.cfg.caFile) : undefined,
    };
  }

  /** Services by cluster IP, when the API server is configured (a peer's cluster IP names its Service). */
  private async addServices(): Promise<void> {
    if (!this.cfg.apiServerUrl || !this.index) {
      return;
    }
    try {
      const { base, headers, ca } = this.apiServer();
      this.index.servicesByIp = indexServices(await getJson(`${base}/api/v1/services`, headers, ca));
      this.servicesError = '';
    } catch (err) {
      this.servicesError = `services from API server ${this.cfg.apiServerUrl}: ${(err as Error).message}`;
    }
  }

  private done(source: string): void {
    this.source = source;
    this.error = '';
    this.fetchedAtMs = Date.now();
    this.onRefresh?.();
  }

  statusText(nowMs = Date.now()): string {
    if (!this.configured) {
      return 'kubernetes: not configured (process and container tags only)';
    }
    const pods = this.index
      ? `${this.index.byUid.size} pods from ${this.source}, ${Math.round((nowMs - this.fetchedAtMs) / 1000)} s old`
      : 'no pods yet';
    const services = this.index?.servicesByIp.size ? `, ${this.index.servicesByIp.size} service IPs` : '';
    const errors = [this.error, this.servicesError].filter(Boolean).join('; ');
    return `kubernetes: ${pods}${services}${errors ? ` (unreachable: ${errors})` : ''}`;
  }
}
