import { isHostEvent, namespaceName } from '../events/falco-event.js';
import { priorityName } from '../events/priority.js';
import type { EventAlert } from '../pipeline/alert.js';

/** An output field as text, the way rules compare it; null when Falco could not resolve it. */
export function fieldText(alert: EventAlert, name: string): string | null | undefined {
  const value = alert.event.outputFields[name];
  if (value === undefined) return undefined;
  if (value === null || value === '<NA>') return null;
  return String(value);
}

export function alertNamespace(alert: EventAlert): string | undefined {
  return alert.enrichment.pod?.namespace ?? namespaceName(alert.event);
}

export function alertWorkload(alert: EventAlert): string | undefined {
  const workload = alert.enrichment.pod?.workload;
  return workload ? `${workload.kind.toLowerCase()}/${workload.name}` : undefined;
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
  for (const [k, v] of Object.entries(event.outputFields))
    fields[k] = typeof v === 'bigint' ? v.toString() : v;
  const pod = enrichment.pod;
  return {
    event: {
      rule: event.rule,
      priority: priorityName(alert.priority),
      severity: alert.priority,
      source: event.source,
      hostname: event.hostname,
      tags: event.tags,
      output: event.output,
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
