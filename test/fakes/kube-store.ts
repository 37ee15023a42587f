// Object storage with one global resourceVersion counter and a bounded per-resource event history
// (the apiserver's watch cache window).

import {
  clone,
  type FakeObject,
  type KubeObjectLike,
  keyOf,
  objectKey,
  prepareForStore,
  toWire,
} from './kube-objects.js';
import { ALL_RESOURCES, type ResourceInfo, type ResourceKey } from './kube-resources.js';

export type StoreEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  readonly type: StoreEventType;
  readonly rv: number;
  /** The new state; for DELETED the last state, stamped with the deletion RV. */
  readonly object: FakeObject;
  /** The state before this event (absent for ADDED). */
  readonly prev?: FakeObject;
}

export type HistoryResult =
  | { readonly ok: true; readonly events: readonly StoreEvent[] }
  | { readonly ok: false; readonly oldest: number };

interface ResourceState {
  readonly objects: Map<string, FakeObject>;
  history: StoreEvent[];
  /** Events with rv <= compactedRv are gone; a watch from an RV below it is "too old". */
  compactedRv: number;
}

export class KubeStore {
  private rv: number;
  private readonly states = new Map<ResourceKey, ResourceState>();

  constructor(
    private historyLimit: number,
    initialResourceVersion: number,
  ) {
    this.rv = initialResourceVersion;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  private state(info: ResourceInfo): ResourceState {
    let state = this.states.get(info.resource);
    if (!state) {
      state = { objects: new Map(), history: [], compactedRv: 0 };
      this.states.set(info.resource, state);
    }
    return state;
  }

  private record(state: ResourceState, event: StoreEvent): StoreEvent {
    state.history.push(event);
    this.trim(state, this.historyLimit);
    return event;
  }

  private trim(state: ResourceState, limit: number): void {
    const excess = state.history.length - limit;
    if (excess <= 0) return;
    const dropped = state.history.splice(0, excess);
    const last = dropped[dropped.length - 1];
    if (last) state.compactedRv = Math.max(state.compactedRv, last.rv);
  }

  upsert(info: ResourceInfo, input: KubeObjectLike): StoreEvent {
    const state = this.state(info);
    const wire = toWire(input);
    if (info.namespaced) wire.metadata.namespace = wire.metadata.namespace || 'default';
    else delete wire.metadata.namespace;
    const key = keyOf(wire);
    const prev = state.objects.get(key);
    const stored = prepareForStore(info, wire, prev, ++this.rv);
    state.objects.set(key, stored);
    return this.record(state, {
      type: prev ? 'MODIFIED' : 'ADDED',
      rv: this.rv,
      object: clone(stored),
      ...(prev ? { prev } : {}),
    });
  }

  remove(info: ResourceInfo, namespace: string | undefined, name: string): StoreEvent | undefined {
    const state = this.state(info);
    const key = objectKey(info.namespaced ? namespace || 'default' : undefined, name);
    const prev = state.objects.get(key);
    if (!prev) return undefined;
    state.objects.delete(key);
    const rv = ++this.rv;
    const object = { ...clone(prev), metadata: { ...prev.metadata, resourceVersion: String(rv) } };
    return this.record(state, { type: 'DELETED', rv, object, prev });
  }

  get(info: ResourceInfo, namespace: string | undefined, name: string): FakeObject | undefined {
    const obj = this.state(info).objects.get(objectKey(info.namespaced ? namespace : undefined, name));
    return obj ? clone(obj) : undefined;
  }

  /** All objects of a resource in etcd key order (namespace, then name). */
  list(info: ResourceInfo): FakeObject[] {
    return [...this.state(info).objects.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, obj]) => clone(obj));
  }

  /** Events after `rv`, or the compaction point when `rv` has left the window. */
  eventsSince(info: ResourceInfo, rv: number): HistoryResult {
    const state = this.state(info);
    if (rv < state.compactedRv) return { ok: false, oldest: state.compactedRv };
    return { ok: true, events: state.history.filter((event) => event.rv > rv) };
  }

  setHistoryLimit(limit: number): void {
    this.historyLimit = limit;
    for (const state of this.states.values()) this.trim(state, limit);
  }

  /** Drops the whole history: afterwards only a watch from the current RV (or newer) may resume. */
  compact(info?: ResourceInfo): void {
    const states = (info ? [info] : ALL_RESOURCES).map((i) => this.state(i));
    for (const state of states) {
      state.history = [];
      state.compactedRv = this.rv;
    }
  }
}
