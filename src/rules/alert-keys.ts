import { createHash } from 'node:crypto';
import { containerId, sourceKind } from '../events/falco-event.js';
import type { EventAlert } from '../pipeline/alert.js';
import { alertNamespace, alertPod, alertWorkload, fieldText } from './alert-facts.js';

/** Names that dedup keys and correlation group-by accept besides output field names. */
export const KEY_NAMES = [
  'rule',
  'workload',
  'namespace',
  'pod',
  'container',
  'node',
  'priority',
  'source',
] as const;

/**
 * One part of a fingerprint or group key. `workload` falls back to the pod, then the container,
 * then the node, so that alerts without Kubernetes context still group sensibly.
 */
export function keyPart(alert: EventAlert, name: string): string | undefined {
  const { event, enrichment } = alert;
  switch (name) {
    case 'rule':
      return event.rule;
    case 'priority':
      return String(alert.priority);
    case 'source':
      return sourceKind(event);
    case 'namespace':
      return alertNamespace(alert);
    case 'pod':
      return alertPod(alert) || undefined;
    case 'container':
      return containerId(event);
    case 'node':
      return enrichment.pod?.node ?? enrichment.node ?? (event.hostname || undefined);
    case 'workload':
      return (
        alertWorkload(alert) ??
        keyPart(alert, 'pod') ??
        keyPart(alert, 'container') ??
        `node/${keyPart(alert, 'node') ?? ''}`
      );
    default:
      return fieldText(alert, name) ?? undefined;
  }
}

const MAX_PLAIN_KEY = 256;
const KEY_SEPARATOR = '\u001f';
const MISSING_PART = '∅';
/** Distinct keys one joiner remembers before it starts afresh: keys of command lines or pids are unbounded. */
export const MAX_REMEMBERED_KEYS = 4096;

/** Each level of a joiner's tree is keyed by one part; the last level holds the joined keys. */
type Level = Map<string, Level | string>;

/**
 * The keys of one list of names (a dedup key, a correlation's group-by), each joined once and then
 * found again by its parts. Every event passes here at least twice (dedup, each correlation), and
 * the key is looked up in a table at once: one string per key means no string built, flattened and
 * hashed for every event, and a table lookup that finds the very string it holds.
 */
export class KeyJoiner {
  private root: Level = new Map();
  private remembered = 0;

  /** `missing` stands for a part the alert does not have; undefined leaves such an alert without a key. */
  constructor(
    readonly names: readonly string[],
    private readonly missing: string | undefined,
    private readonly maxRemembered = MAX_REMEMBERED_KEYS,
  ) {}

  key(alert: EventAlert): string | undefined {
    const { names } = this;
    const last = names.length - 1;
    // No names: every alert has the one empty key (the schema asks for at least one name).
    if (last < 0) return '';
    let level = this.root;
    for (let i = 0; i <= last; i++) {
      const part = keyPart(alert, names[i] as string) ?? this.missing;
      if (part === undefined) return undefined;
      const next = level.get(part);
      if (next === undefined) return this.remember(alert);
      if (i === last) return next as string;
      level = next as Level;
    }
    return undefined;
  }

  private remember(alert: EventAlert): string | undefined {
    if (this.remembered >= this.maxRemembered) {
      this.root = new Map();
      this.remembered = 0;
    }
    const parts: string[] = [];
    for (const name of this.names) {
      const part = keyPart(alert, name) ?? this.missing;
      if (part === undefined) return undefined;
      parts.push(part);
    }
    const key = joinParts(parts);
    let level = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i] as string;
      let next = level.get(part) as Level | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(part, next);
      }
      level = next;
    }
    level.set(parts[parts.length - 1] as string, key);
    this.remembered += 1;
    return key;
  }
}

// The rules pass the same few lists of names for every event: one joiner per list.
const fingerprints = new WeakMap<readonly string[], KeyJoiner>();

/** A dedup fingerprint: the parts joined into one key, `∅` standing for a missing one. */
export function fingerprint(alert: EventAlert, names: readonly string[]): string {
  let joiner = fingerprints.get(names);
  if (joiner === undefined) {
    joiner = new KeyJoiner(names, MISSING_PART);
    fingerprints.set(names, joiner);
  }
  return joiner.key(alert) as string;
}

/**
 * A correlation's group keys: undefined for an event without one of the parts (it is not grouped).
 * The correlation keeps it for all its events.
 */
export function groupKeys(names: readonly string[]): KeyJoiner {
  return new KeyJoiner(names, undefined);
}

function joinParts(parts: readonly string[]): string {
  const key = parts.join(KEY_SEPARATOR);
  // Long keys (command lines) are hashed to keep every table that holds them small.
  return key.length <= MAX_PLAIN_KEY ? key : `sha1:${createHash('sha1').update(key).digest('base64')}`;
}
