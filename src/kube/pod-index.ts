// The node's pods, indexed the ways a Falco alert can point at them: by container id (Falco's 12-char
// `container.id` or the 64-char `container.full_id`), by namespace/name (for pod-sandbox processes, whose ids never
// appear in container statuses), and by uid.
//
// Deleted pods stay resolvable for a grace period because alerts routinely arrive after the pod is gone (a
// crash-looping or short-lived pod, a batched Falco output). Memory stays bounded: live entries are whatever the
// node runs (feed this from a watch restricted to the node), deleted entries are capped, oldest evicted first.

import type { ContainerLike } from './pod-security.js';
import type { OwnedPodLike, OwnedPodSpecLike } from './workload.js';

type Maybe<T> = T | null | undefined;

interface ContainerStateLike {
  terminated?: Maybe<{ containerID?: Maybe<string> }>;
}

export interface ContainerStatusLike {
  name?: Maybe<string>;
  containerID?: Maybe<string>;
  image?: Maybe<string>;
  state?: Maybe<ContainerStateLike>;
  lastState?: Maybe<ContainerStateLike>;
}

export interface PodStatusLike {
  containerStatuses?: Maybe<readonly ContainerStatusLike[]>;
  initContainerStatuses?: Maybe<readonly ContainerStatusLike[]>;
  ephemeralContainerStatuses?: Maybe<readonly ContainerStatusLike[]>;
}

interface ImagedContainerLike extends ContainerLike {
  image?: Maybe<string>;
}

export interface IndexablePodSpecLike extends OwnedPodSpecLike {
  containers?: Maybe<readonly ImagedContainerLike[]>;
  initContainers?: Maybe<readonly ImagedContainerLike[]>;
  ephemeralContainers?: Maybe<readonly ImagedContainerLike[]>;
}

/** What the index reads of a pod; `V1Pod` and raw watch JSON both fit. */
export interface IndexablePod extends OwnedPodLike {
  spec?: Maybe<IndexablePodSpecLike>;
  status?: Maybe<PodStatusLike>;
}

export interface IndexedPod {
  readonly pod: IndexablePod;
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  /** Set once the pod has been removed; the entry disappears deletedGraceMs later. */
  readonly deletedAtMs?: number;
}

export type ContainerKind = 'container' | 'init' | 'ephemeral';

export interface ContainerMatch {
  entry: IndexedPod;
  containerName: string;
  containerKind: ContainerKind;
  image?: string;
  /** The id belongs to the incarnation before the container's last restart. */
  previous: boolean;
}

export interface PodIndexOptions {
  /** How long a removed pod stays resolvable. Default 5 minutes. */
  deletedGraceMs?: number;
  /** Cap on removed pods kept for the grace period. Default 5000. */
  maxDeleted?: number;
  now?: () => number;
}

interface IdRef {
  key: string;
  fullId: string;
  uid: string;
  containerName: string;
  containerKind: ContainerKind;
  image?: string;
  previous: boolean;
  /** This id's answer, built at its first lookup: a ref belongs to one slot, so it never goes stale. */
  match?: ContainerMatch;
}

interface Slot {
  entry: IndexedPod;
  /** Update order, to prefer the most recent of several candidates. */
  seq: number;
  refs: IdRef[];
}

/** Falco's `container.id` length: the first 12 characters of the runtime's id. */
const SHORT_ID_LENGTH = 12;

const STATUS_LISTS = [
  ['containerStatuses', 'containers', 'container'],
  ['initContainerStatuses', 'initContainers', 'init'],
  ['ephemeralContainerStatuses', 'ephemeralContainers', 'ephemeral'],
] as const;

export class PodIndex {
  readonly #graceMs: number;
  readonly #maxDeleted: number;
  readonly #now: () => number;
  readonly #live = new Map<string, Slot>();
  // Insertion order is deletion order, which lets sweep() and eviction stop at the first entry to keep.
  readonly #deleted = new Map<string, Slot>();
  // Keyed by the 12-char prefix. A list, because two pods can share a prefix: 48 random bits make that
  // vanishingly rare on one node, but a wrong answer is worse than a lookup that prefers the live pod.
  readonly #ids = new Map<string, IdRef[]>();
  readonly #names = new Map<string, Set<string>>();
  #idCount = 0;
  #seq = 0;

  constructor(options: PodIndexOptions = {}) {
    this.#graceMs = Math.max(0, options.deletedGraceMs ?? 5 * 60_000);
    this.#maxDeleted = Math.max(0, options.maxDeleted ?? 5000);
    this.#now = options.now ?? Date.now;
  }

  /** Adds or replaces the pod with this uid; ids no longer in its status are dropped. */
  upsert(pod: IndexablePod): void {
    const uid = uidOf(pod);
    const existing = this.#live.get(uid) ?? this.#deleted.get(uid);
    if (existing) this.#unindex(existing);
    this.#deleted.delete(uid);
    const slot: Slot = { entry: entryOf(pod, uid), seq: ++this.#seq, refs: refsOf(pod, uid) };
    this.#index(slot);
    this.#live.set(uid, slot);
    this.sweep();
  }

  /** Marks the pod deleted; the delete event's final object replaces the last known one. */
  remove(pod: IndexablePod): void {
    const uid = uidOf(pod);
    const existing = this.#live.get(uid) ?? this.#deleted.get(uid);
    if (existing) this.#unindex(existing);
    this.#live.delete(uid);
    // A repeated delete keeps the first deletion time and, by updating in place, its position in the order.
    const deletedAtMs = existing?.entry.deletedAtMs ?? this.#now();
    const slot: Slot = {
      entry: { ...entryOf(pod, uid), deletedAtMs },
      seq: ++this.#seq,
      refs: refsOf(pod, uid),
    };
    this.#index(slot);
    this.#deleted.set(uid, slot);
    for (const [oldUid, old] of this.#deleted) {
      if (this.#deleted.size <= this.#maxDeleted) break;
      this.#drop(oldUid, old);
    }
    this.sweep();
  }

  sweep(): void {
    // Every lookup sweeps: with nothing deleted, not even an iterator is made.
    if (this.#deleted.size === 0) return;
    const now = this.#now();
    for (const [uid, slot] of this.#deleted) {
      if (!this.#expired(slot, now)) break;
      this.#drop(uid, slot);
    }
  }

  /** Falco's 12-char `container.id`, a longer prefix, the full id, or a `<runtime>://<id>` status value. */
  byContainerId(id: string): ContainerMatch | undefined {
    const bare = stripScheme(id);
    if (!bare || bare === 'host') return undefined;
    this.sweep();
    const now = this.#now();
    const refs = this.#ids.get(bare.length === SHORT_ID_LENGTH ? bare : bare.slice(0, SHORT_ID_LENGTH));
    if (!refs) return undefined;
    // Every alert comes through here: the best candidate is kept in locals, not a fresh object.
    let bestRef: IdRef | undefined;
    let bestSlot: Slot | undefined;
    let bestRank = -1;
    for (const ref of refs) {
      if (!ref.fullId.startsWith(bare)) continue;
      const slot = this.#slot(ref.uid, now);
      if (!slot) continue;
      // Live beats deleted, a current id beats a previous one, then the most recently updated pod wins.
      const rank = (slot.entry.deletedAtMs === undefined ? 2 : 0) + (ref.previous ? 0 : 1);
      if (!bestSlot || rank > bestRank || (rank === bestRank && slot.seq > bestSlot.seq)) {
        bestRef = ref;
        bestSlot = slot;
        bestRank = rank;
      }
    }
    if (!bestRef || !bestSlot) return undefined;
    bestRef.match ??= {
      entry: bestSlot.entry,
      containerName: bestRef.containerName,
      containerKind: bestRef.containerKind,
      ...(bestRef.image === undefined ? {} : { image: bestRef.image }),
      previous: bestRef.previous,
    };
    return bestRef.match;
  }

  /** Prefers the live pod; a name reused by a recreated pod (StatefulSet) otherwise yields the latest deleted one. */
  byPodName(namespace: string, name: string): IndexedPod | undefined {
    this.sweep();
    const now = this.#now();
    let best: Slot | undefined;
    for (const uid of this.#names.get(nameKey(namespace, name)) ?? []) {
      const slot = this.#slot(uid, now);
      if (!slot) continue;
      const live = slot.entry.deletedAtMs === undefined;
      const bestLive = best?.entry.deletedAtMs === undefined;
      if (!best || (live && !bestLive) || (live === bestLive && slot.seq > best.seq)) best = slot;
    }
    return best?.entry;
  }

  byUid(uid: string): IndexedPod | undefined {
    this.sweep();
    return this.#slot(uid, this.#now())?.entry;
  }

  /** Live (not deleted) pods. */
  pods(): IndexedPod[] {
    return [...this.#live.values()].map((slot) => slot.entry);
  }

  get size(): { live: number; deleted: number; containerIds: number } {
    this.sweep();
    return { live: this.#live.size, deleted: this.#deleted.size, containerIds: this.#idCount };
  }

  // sweep() stops at the first unexpired entry, so a wall clock stepping backwards can leave expired entries
  // behind it; lookups check expiry themselves so they never answer with one.
  #slot(uid: string, now: number): Slot | undefined {
    const live = this.#live.get(uid);
    if (live) return live;
    const deleted = this.#deleted.get(uid);
    return deleted && !this.#expired(deleted, now) ? deleted : undefined;
  }

  #expired(slot: Slot, now: number): boolean {
    const { deletedAtMs } = slot.entry;
    return deletedAtMs !== undefined && now - deletedAtMs >= this.#graceMs;
  }

  #drop(uid: string, slot: Slot): void {
    this.#unindex(slot);
    this.#deleted.delete(uid);
  }

  #index(slot: Slot): void {
    for (const ref of slot.refs) {
      const refs = this.#ids.get(ref.key);
      if (refs) refs.push(ref);
      else this.#ids.set(ref.key, [ref]);
    }
    this.#idCount += slot.refs.length;
    const key = nameKey(slot.entry.namespace, slot.entry.name);
    const uids = this.#names.get(key);
    if (uids) uids.add(slot.entry.uid);
    else this.#names.set(key, new Set([slot.entry.uid]));
  }

  #unindex(slot: Slot): void {
    for (const ref of slot.refs) {
      const remaining = this.#ids.get(ref.key)?.filter((other) => other !== ref) ?? [];
      if (remaining.length > 0) this.#ids.set(ref.key, remaining);
      else this.#ids.delete(ref.key);
    }
    this.#idCount -= slot.refs.length;
    const key = nameKey(slot.entry.namespace, slot.entry.name);
    const uids = this.#names.get(key);
    uids?.delete(slot.entry.uid);
    if (uids?.size === 0) this.#names.delete(key);
  }
}

// Pods from the API always have a uid; the fallback keeps hand-built objects from colliding on ''.
function uidOf(pod: IndexablePod): string {
  const meta = pod.metadata;
  return meta?.uid || nameKey(meta?.namespace ?? '', meta?.name ?? '');
}

function entryOf(pod: IndexablePod, uid: string): IndexedPod {
  return { pod, uid, namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '' };
}

function nameKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** `containerd://<id>`, `cri-o://<id>`, `docker://<id>` → `<id>`. */
function stripScheme(id: string): string {
  const at = id.indexOf('://');
  return at === -1 ? id : id.slice(at + 3);
}

function refsOf(pod: IndexablePod, uid: string): IdRef[] {
  const refs: IdRef[] = [];
  const seen = new Set<string>();
  const add = (rawId: Maybe<string>, previous: boolean, base: Omit<IdRef, 'key' | 'fullId' | 'previous'>) => {
    const fullId = rawId ? stripScheme(rawId) : '';
    if (!fullId || seen.has(fullId)) return;
    seen.add(fullId);
    // Every field in one literal, `match` included: a spread then extended (and `match` set later)
    // would give each ref hidden classes of its own in V8, on every pod update.
    refs.push({
      key: fullId.slice(0, SHORT_ID_LENGTH),
      fullId,
      uid: base.uid,
      containerName: base.containerName,
      containerKind: base.containerKind,
      ...(base.image === undefined ? {} : { image: base.image }),
      previous,
      match: undefined,
    });
  };
  for (const [statusField, specField, containerKind] of STATUS_LISTS) {
    for (const status of pod.status?.[statusField] ?? []) {
      const containerName = status.name ?? '';
      // The status image is what actually runs (tag resolved by the runtime); the spec is the fallback.
      const image =
        status.image || pod.spec?.[specField]?.find((c) => c.name === containerName)?.image || undefined;
      const base = { uid, containerName, containerKind, ...(image ? { image } : {}) };
      // Current ids first, so an id listed as both current and previous counts as current.
      add(status.containerID, false, base);
      add(status.state?.terminated?.containerID, false, base);
      add(status.lastState?.terminated?.containerID, true, base);
    }
  }
  return refs;
}
