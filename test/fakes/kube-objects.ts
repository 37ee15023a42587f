// Wire-form (JSON) Kubernetes objects as the fake stores and serves them.

import { randomUUID } from 'node:crypto';
import type { ResourceInfo } from './kube-resources.js';

export interface FakeMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

export interface FakeObject {
  apiVersion?: string;
  kind?: string;
  metadata: FakeMeta;
  [key: string]: unknown;
}

/**
 * What tests may pass to `upsert`: a plain object literal or a client-node model instance (`V1Pod` ...).
 * No index signature on purpose, so that class instances are assignable.
 */
export interface KubeObjectLike {
  metadata?: { name?: string; namespace?: string };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep copy through JSON, which is also what turns client-node `Date`s into wire strings. */
export function toWire(input: unknown): FakeObject {
  const parsed: unknown = JSON.parse(JSON.stringify(input));
  if (!isRecord(parsed)) throw new Error('fake kube api: an object is required');
  const metadata = parsed.metadata;
  if (!isRecord(metadata) || typeof metadata.name !== 'string' || metadata.name === '') {
    throw new Error('fake kube api: metadata.name is required');
  }
  return { ...parsed, metadata: { ...metadata } };
}

export function clone(obj: FakeObject): FakeObject {
  return toWire(obj);
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export function keyOf(obj: FakeObject): string {
  return objectKey(obj.metadata.namespace, obj.metadata.name ?? '');
}

/** Single GETs and watch events carry kind/apiVersion; list items do not. */
export function withTypeMeta(info: ResourceInfo, obj: FakeObject): FakeObject {
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  return { kind: info.kind, apiVersion: info.apiVersion, ...rest };
}

export function withoutTypeMeta(obj: FakeObject): FakeObject {
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

/** Stamps uid, creationTimestamp, resourceVersion and type metadata, as the apiserver does on write. */
export function prepareForStore(
  info: ResourceInfo,
  obj: FakeObject,
  existing: FakeObject | undefined,
  rv: number,
): FakeObject {
  const metadata: FakeMeta = { ...obj.metadata };
  metadata.uid = metadata.uid ?? existing?.metadata.uid ?? randomUUID();
  metadata.creationTimestamp =
    metadata.creationTimestamp ??
    existing?.metadata.creationTimestamp ??
    new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  metadata.resourceVersion = String(rv);
  return withTypeMeta(info, { ...obj, metadata });
}

/** Reads a dotted field path (`spec.nodeName`) as the string the apiserver compares field selectors with. */
export function fieldValue(obj: FakeObject, path: string): string {
  let current: unknown = obj;
  for (const part of path.split('.')) {
    if (!isRecord(current)) return '';
    current = current[part];
  }
  if (current === undefined || current === null) return '';
  if (typeof current === 'string') return current;
  if (typeof current === 'number' || typeof current === 'boolean') return String(current);
  return JSON.stringify(current);
}
