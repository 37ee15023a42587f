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

/** A dedup fingerprint: the parts joined into one key, `∅` standing for a missing one. */
export function fingerprint(alert: EventAlert, names: readonly string[]): string {
  return joinParts(alert, names, MISSING_PART) as string;
}

/** A correlation's group key, or undefined when one of the parts is missing (the event is not grouped). */
export function groupKey(alert: EventAlert, names: readonly string[]): string | undefined {
  return joinParts(alert, names, undefined);
}

// Every event passes here at least twice (dedup, each correlation): a loop and one string, no arrays.
function joinParts(
  alert: EventAlert,
  names: readonly string[],
  missing: string | undefined,
): string | undefined {
  let key = '';
  for (let i = 0; i < names.length; i++) {
    const part = keyPart(alert, names[i] as string) ?? missing;
    if (part === undefined) return undefined;
    key = i === 0 ? part : `${key}${KEY_SEPARATOR}${part}`;
  }
  // Long keys (command lines) are hashed to keep every table that holds them small.
  return key.length <= MAX_PLAIN_KEY ? key : `sha1:${createHash('sha1').update(key).digest('base64')}`;
}
