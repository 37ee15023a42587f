/**
 * Where an alert happened and how exposed its pod was, as the sinks for people show it: the
 * console line and every chat message derive it here, so they name the same node, pod, workload
 * and container, and list the same failing checks.
 */
import {
  containerId,
  type FalcoEvent,
  isHostEvent,
  namespaceName,
  podName,
  resolvedFieldText,
} from '../events/falco-event.js';
import type { PodContext } from '../kube/pod-context.js';
import type { EventAlert } from '../pipeline/alert.js';

/** Raw strings from the event and the cluster: each sink escapes them for its own format. */
export interface AlertPlace {
  /** A process on the node itself, not in a container. */
  host: boolean;
  node?: string;
  namespace?: string;
  pod?: string;
  workload?: PodContext['workload'];
  container?: string;
  /** Falco's 12-character container id: what to look up when the cluster does not know the pod. */
  containerId?: string;
  image?: string;
  /** The pod was deleted before the alert was enriched (a late alert). */
  deleted: boolean;
  /** Falco named a pod or container that the cluster does not know. */
  unresolved: boolean;
}

export function alertPlace({ event, enrichment }: EventAlert): AlertPlace {
  const pod = enrichment.pod;
  const node = pod?.node ?? enrichment.node ?? (event.hostname || undefined);
  if (isHostEvent(event)) return { host: true, node, deleted: false, unresolved: false };
  const repository = fieldText(event, 'container.image.repository');
  const tag = fieldText(event, 'container.image.tag');
  return {
    host: false,
    node,
    namespace: pod?.namespace ?? namespaceName(event),
    pod: pod?.pod ?? podName(event),
    workload: pod?.workload,
    container: pod?.container?.name ?? fieldText(event, 'container.name') ?? containerId(event),
    containerId: containerId(event),
    image: pod?.container?.image ?? (repository ? `${repository}${tag ? `:${tag}` : ''}` : undefined),
    deleted: pod?.deleted === true,
    unresolved: enrichment.outcome === 'unresolved',
  };
}

/** A field Falco resolved, as text; undefined for missing, null, empty or `<NA>`. */
export function fieldText(event: FalcoEvent, name: string): string | undefined {
  return resolvedFieldText(event, name);
}

/** The checks that keep the pod below the next level up: baseline checks for a privileged pod. */
export function failingChecks(pod: PodContext): string[] {
  if (pod.posture.level === 'restricted') return [];
  const failing = pod.posture.level === 'privileged' ? 'baseline' : 'restricted';
  return [...new Set(pod.posture.violations.filter((v) => v.level === failing).map((v) => v.check))];
}

/** At most `max` check ids, then how many more: `privileged, hostPID (+3 more)`. */
export function listChecks(checks: readonly string[], max: number, separator = ', '): string {
  const listed = checks.slice(0, max).join(separator);
  return checks.length > max ? `${listed} (+${checks.length - max} more)` : listed;
}
