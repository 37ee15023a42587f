import { createHash } from 'node:crypto';
import { containerId, podName } from '../events/falco-event.js';
import type { EventAlert } from '../pipeline/alert.js';
import { alertNamespace, alertWorkload, fieldText } from './alert-facts.js';

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
      return event.source;
    case 'namespace':
      return alertNamespace(alert);
    case 'pod': {
      const ns = alertNamespace(alert);
      const pod = enrichment.pod?.pod ?? podName(event);
      return pod ? `${ns ?? ''}/${pod}` : undefined;
    }
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

/** The parts joined into one key; long keys (command lines) are hashed to keep memory flat. */
export function joinKey(parts: readonly (string | undefined)[]): string {
  const key = parts.map((p) => p ?? '∅').join('\u001f');
  return key.length <= MAX_PLAIN_KEY ? key : `sha1:${createHash('sha1').update(key).digest('base64')}`;
}
