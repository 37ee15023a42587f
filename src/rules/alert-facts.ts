import {
  eventTags,
  fieldOf,
  isHostEvent,
  namespaceName,
  outputFieldsOf,
  outputText,
  podName,
  sourceKind,
} from '../events/falco-event.js';
import { type FieldValue, fieldValueText, NOT_AVAILABLE } from '../events/field-value.js';
import { priorityName } from '../events/priority.js';
import { setOwn } from '../events/set-own.js';
import type { PodContext } from '../kube/pod-context.js';
import type { EventAlert } from '../pipeline/alert.js';
import { rememberEach } from '../util/remember-answers.js';

/**
 * An output field as text, the way rules compare it: as Falco's text prints it, a list as `(a,b)`;
 * null when Falco could not resolve it.
 */
export function fieldText(alert: EventAlert, name: string): string | null | undefined {
  const value = fieldOf(alert.event, name);
  if (value === undefined) return undefined;
  const text = fieldValueText(value);
  return text === NOT_AVAILABLE ? null : text;
}

export function alertNamespace(alert: EventAlert): string | undefined {
  return alert.enrichment.pod?.namespace ?? namespaceName(alert.event);
}

// ClusterState shares one context among all alerts of a container, so strings derived from it are
// kept with it instead of being built again for every alert by every dedup key and correlation.
const podRefOf = rememberEach((context: PodContext) => `${context.namespace}/${context.pod}`);

/** `kind/name` in lower-case kind, as rules, keys and messages write workloads: `deployment/payments`. */
export const workloadRef: (workload: PodContext['workload']) => string = rememberEach(
  (workload) => `${workload.kind.toLowerCase()}/${workload.name}`,
);

export function alertWorkload(alert: EventAlert): string | undefined {
  const workload = alert.enrichment.pod?.workload;
  return workload ? workloadRef(workload) : undefined;
}

/** `namespace/pod`, from the cluster or Falco's k8s fields (just `pod` without a namespace). */
export function alertPod(alert: EventAlert): string | undefined {
  const context = alert.enrichment.pod;
  if (context) return podRefOf(context);
  const pod = podName(alert.event);
  if (pod === undefined) return undefined;
  const namespace = namespaceName(alert.event);
  return namespace === undefined ? pod : `${namespace}/${pod}`;
}

export function alertIsolation(alert: EventAlert): string | undefined {
  return isHostEvent(alert.event) ? 'host' : alert.enrichment.pod?.isolation;
}

/**
 * What a CEL expression sees. Plain data only, built per evaluation; integers beyond 2^53 become
 * strings since CEL has no such numbers.
 */
export function celContext(alert: EventAlert): Record<string, unknown> {
  const { event, enrichment } = alert;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(outputFieldsOf(event))) setOwn(fields, k, celValue(v));
  const pod = enrichment.pod;
  return {
    event: {
      rule: event.rule,
      priority: priorityName(alert.priority),
      severity: alert.priority,
      // Derived where Falco left them out: an expression reads every one without has().
      source: sourceKind(event),
      hostname: event.hostname ?? '',
      tags: eventTags(event),
      output: outputText(event),
      fields,
    },
    pod: pod
      ? {
          namespace: pod.namespace,
          name: pod.pod,
          labels: pod.labels,
          annotations: pod.annotations,
          workload: { kind: pod.workload.kind, name: pod.workload.name },
          serviceAccount: pod.serviceAccount ?? '',
          runtimeClass: pod.runtimeClass ?? '',
          handler: pod.handler ?? '',
          isolation: pod.isolation,
          pss: pod.posture.level,
          violations: pod.posture.violations.map((v) => v.check),
          container: pod.container?.name ?? '',
          image: pod.container?.image ?? '',
        }
      : {},
    host: isHostEvent(event),
  };
}

/** CEL has no integers beyond 2^53: those become strings, in lists too. */
function celValue(value: FieldValue): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'bigint' ? v.toString() : v));
  return value;
}
