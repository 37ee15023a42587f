import {
  containerFullId,
  containerId,
  type FalcoEvent,
  namespaceName,
  podName,
} from '../events/falco-event.js';
import { deepFreeze } from '../util/deep-freeze.js';
import { Subject } from '../util/rx.js';
import {
  classifyIsolation,
  DEFAULT_HANDLER_ISOLATION,
  type Isolation,
  type RuntimeClassLike,
} from './isolation.js';
import type { Enrichment, PodContext } from './pod-context.js';
import { type ContainerMatch, type IndexablePod, type IndexedPod, PodIndex } from './pod-index.js';
import { evaluatePodSecurity } from './pod-security.js';
import { type OwnerLookup, resolveWorkload } from './workload.js';

type Maybe<T> = T | null | undefined;

interface NamedObject {
  metadata?: Maybe<{
    name?: Maybe<string>;
    namespace?: Maybe<string>;
    labels?: Maybe<Record<string, string>>;
  }>;
}

interface OwnedObject extends NamedObject {
  metadata?: Maybe<{
    name?: Maybe<string>;
    namespace?: Maybe<string>;
    ownerReferences?: Maybe<
      readonly { kind?: Maybe<string>; name?: Maybe<string>; controller?: Maybe<boolean> }[]
    >;
  }>;
}

interface ContextPod extends IndexablePod {
  spec?: IndexablePod['spec'] & { runtimeClassName?: Maybe<string>; serviceAccountName?: Maybe<string> };
}

export interface ClusterStateOptions {
  nodeName?: string;
  labelAllowlist?: readonly string[];
  annotationAllowlist?: readonly string[];
  handlerIsolation?: Readonly<Record<string, Isolation>>;
  deletedGraceMs?: number;
  now?: () => number;
}

export type ClusterKind = 'pods' | 'runtimeclasses' | 'namespaces' | 'replicasets' | 'jobs';

const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
/** Container ids remembered with their answer; a node runs a few hundred containers. */
const MAX_KNOWN_CONTAINERS = 4096;

/**
 * Everything Perch knows about this node's slice of the cluster, fed by watches (or a dump for
 * replay), and the answer to "which pod is behind this alert?". Pod contexts are built once per
 * pod version and reused, because posture evaluation is far costlier than a map lookup.
 */
export class ClusterState {
  readonly pods: PodIndex;
  readonly runtimeClasses = new Map<string, RuntimeClassLike>();
  private readonly namespaceEnforce = new Map<string, string>();
  private readonly owners = new Map<string, { kind: string; name: string } | undefined>();
  private readonly contexts = new Map<string, CachedPod>();
  /**
   * The answer for a container id as alerts write it, for ids of live pods: every alert of a
   * container is then one lookup. Forgotten on every change to the cluster, so it never answers
   * what the index would not; a deleted pod's answer is not kept, as it ends with its grace period.
   */
  private readonly byContainer = new Map<string, Enrichment>();
  private version = 0;
  /** Ticks whenever something changed that could resolve a waiting alert. */
  readonly changes$ = new Subject<void>();
  private readonly handlerIsolation: Readonly<Record<string, Isolation>>;
  private readonly ownerLookup: OwnerLookup;

  constructor(private readonly options: ClusterStateOptions = {}) {
    this.pods = new PodIndex({ deletedGraceMs: options.deletedGraceMs, now: options.now });
    this.handlerIsolation = { ...DEFAULT_HANDLER_ISOLATION, ...options.handlerIsolation };
    this.ownerLookup = {
      replicaSetOwner: (ns, name) => this.owners.get(`ReplicaSet/${ns}/${name}`),
      jobOwner: (ns, name) => this.owners.get(`Job/${ns}/${name}`),
    };
  }

  upsert(kind: ClusterKind, object: unknown): void {
    this.apply(kind, object, false);
  }

  remove(kind: ClusterKind, object: unknown): void {
    this.apply(kind, object, true);
  }

  private apply(kind: ClusterKind, object: unknown, removed: boolean): void {
    this.byContainer.clear();
    const obj = object as NamedObject;
    const name = obj.metadata?.name ?? '';
    const ns = obj.metadata?.namespace ?? '';
    switch (kind) {
      case 'pods':
        if (removed) this.pods.remove(object as IndexablePod);
        else this.pods.upsert(object as IndexablePod);
        break;
      case 'runtimeclasses':
        if (removed) this.runtimeClasses.delete(name);
        else this.runtimeClasses.set(name, object as RuntimeClassLike);
        this.version += 1;
        break;
      case 'namespaces': {
        const level = obj.metadata?.labels?.[ENFORCE_LABEL];
        if (removed || level === undefined) this.namespaceEnforce.delete(name);
        else this.namespaceEnforce.set(name, level);
        this.version += 1;
        break;
      }
      case 'replicasets':
      case 'jobs': {
        const key = `${kind === 'jobs' ? 'Job' : 'ReplicaSet'}/${ns}/${name}`;
        if (removed) this.owners.delete(key);
        else this.owners.set(key, controllerOf(object as OwnedObject));
        this.version += 1;
        break;
      }
    }
    this.changes$.next();
  }

  /**
   * The enrichment for an alert, or undefined when it names a pod the cache does not know (yet).
   * Alerts from one container share one frozen Enrichment, built at its first alert: a storm
   * from one pod allocates nothing here.
   */
  resolve(event: FalcoEvent): Enrichment | undefined {
    const shortId = containerId(event);
    // Falco marks host processes with the container id `host`.
    if (shortId === 'host')
      return { outcome: 'host', node: this.options.nodeName ?? (event.hostname || undefined) };
    const id = containerFullId(event) ?? shortId;
    if (id) {
      const known = this.byContainer.get(id);
      if (known) return known;
    }
    const match = id ? this.pods.byContainerId(id) : undefined;
    if (id && match) {
      const enrichment = this.enrichmentFor(match.entry, match);
      if (match.entry.deletedAtMs === undefined) {
        if (this.byContainer.size >= MAX_KNOWN_CONTAINERS) this.byContainer.clear();
        this.byContainer.set(id, enrichment);
      }
      return enrichment;
    }
    const ns = namespaceName(event);
    const name = podName(event);
    const entry = ns && name ? this.pods.byPodName(ns, name) : undefined;
    if (entry) return this.enrichmentFor(entry);
    if (!id && !(ns && name)) return { outcome: 'not_applicable' };
    return undefined;
  }

  /** The context of every live pod on this node (posture gauges are built from these). */
  podContexts(): PodContext[] {
    return this.pods.pods().map((entry) => this.enrichmentFor(entry).pod as PodContext);
  }

  /** Keyed by the index's own objects: a container match or a pod entry is replaced, never mutated. */
  private enrichmentFor(entry: IndexedPod, match?: ContainerMatch): Enrichment {
    let cached = this.contexts.get(entry.uid);
    if (!cached || cached.version !== this.version || cached.pod !== entry.pod) {
      if (this.contexts.size > this.pods.size.live + this.pods.size.deleted + 64) this.contexts.clear();
      cached = {
        version: this.version,
        pod: entry.pod,
        context: deepFreeze(this.buildContext(entry.pod as ContextPod)),
        enrichments: new Map(),
      };
      this.contexts.set(entry.uid, cached);
    }
    const key = match ?? entry;
    let enrichment = cached.enrichments.get(key);
    if (!enrichment) {
      // A pod's containers and past incarnations are few; the bound only guards against churn.
      if (cached.enrichments.size >= 64) cached.enrichments.clear();
      enrichment = Object.freeze({
        outcome: match ? 'container_id' : 'pod_name',
        pod: Object.freeze(derivedContext(cached.context, entry, match)),
      });
      cached.enrichments.set(key, enrichment);
    }
    return enrichment;
  }

  private buildContext(pod: ContextPod): PodContext {
    const meta = pod.metadata ?? {};
    const namespace = meta.namespace ?? '';
    const isolation = classifyIsolation(
      pod.spec?.runtimeClassName,
      this.runtimeClasses,
      this.handlerIsolation,
    );
    const posture = evaluatePodSecurity(pod);
    const enforce = this.namespaceEnforce.get(namespace);
    const workload = resolveWorkload(pod, this.ownerLookup);
    return {
      namespace,
      pod: meta.name ?? '',
      uid: meta.uid ?? '',
      ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
      labels: pick(meta.labels, this.options.labelAllowlist),
      annotations: pick(meta.annotations, this.options.annotationAllowlist),
      workload: { kind: workload.kind, name: workload.name },
      ...(pod.spec?.serviceAccountName ? { serviceAccount: pod.spec.serviceAccountName } : {}),
      ...(isolation.runtimeClass ? { runtimeClass: isolation.runtimeClass } : {}),
      ...(isolation.handler !== undefined ? { handler: isolation.handler } : {}),
      isolation: isolation.isolation,
      ...(isolation.missingRuntimeClass ? { missingRuntimeClass: true } : {}),
      posture: {
        level: posture.level,
        violations: posture.violations,
        ...(enforce ? { namespaceEnforce: enforce } : {}),
      },
    };
  }
}

interface CachedPod {
  version: number;
  pod: IndexablePod;
  context: PodContext;
  enrichments: Map<ContainerMatch | IndexedPod, Enrichment>;
}

function derivedContext(base: PodContext, entry: IndexedPod, match: ContainerMatch | undefined): PodContext {
  const deleted = entry.deletedAtMs !== undefined ? { deleted: true } : {};
  if (!match) return { ...base, ...deleted };
  const container = Object.freeze({
    name: match.containerName,
    kind: match.containerKind,
    ...(match.image ? { image: match.image } : {}),
    ...(match.previous ? { previous: true } : {}),
  });
  return { ...base, ...deleted, container };
}

function controllerOf(object: OwnedObject): { kind: string; name: string } | undefined {
  const owner = object.metadata?.ownerReferences?.find((o) => o.controller === true);
  return owner?.kind && owner.name ? { kind: owner.kind, name: owner.name } : undefined;
}

function pick(
  source: Maybe<Readonly<Record<string, string>>>,
  allow: readonly string[] | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!source || !allow) return out;
  for (const key of allow) {
    const value = source[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}
