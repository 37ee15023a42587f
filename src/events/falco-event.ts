import type { Priority } from './priority.js';

/**
 * A value of Falco's `output_fields`. Integers beyond 2^53 (such as `evt.time` in nanoseconds) are
 * kept exactly as `bigint`; `null` means Falco could not resolve the field (`<NA>` in text).
 */
export type FieldValue = string | number | bigint | boolean | null;

/** The one normalised alert every source produces, whatever transport it came over. */
export interface FalcoEvent {
  /** RFC 3339 UTC with Falco's nanosecond digits, as Falco sent it. */
  time: string;
  /** The same instant in nanoseconds since the epoch, exact. */
  timeNs: bigint;
  priority: Priority;
  rule: string;
  output: string;
  /** `syscall`, `k8s_audit`, `internal`, a plugin source; `syscall` when an old Falco left it out. */
  source: string;
  /** Falco's host name (the node name in Helm deployments); empty when an old Falco left it out. */
  hostname: string;
  tags: string[];
  outputFields: Record<string, FieldValue>;
}

export function eventTimeMs(event: FalcoEvent): number {
  return Number(event.timeNs / 1_000_000n);
}

function stringField(event: FalcoEvent, name: string): string | undefined {
  const value = event.outputFields[name];
  if (value === null || value === undefined) return undefined;
  const text = String(value);
  return text === '' || text === '<NA>' ? undefined : text;
}

/** The 12-character container id Falco reports, `host` for host processes, or undefined. */
export function containerId(event: FalcoEvent): string | undefined {
  return stringField(event, 'container.id');
}

export function containerFullId(event: FalcoEvent): string | undefined {
  return stringField(event, 'container.full_id');
}

export function namespaceName(event: FalcoEvent): string | undefined {
  return stringField(event, 'k8s.ns.name') ?? stringField(event, 'k8smeta.ns.name');
}

export function podName(event: FalcoEvent): string | undefined {
  return stringField(event, 'k8s.pod.name') ?? stringField(event, 'k8smeta.pod.name');
}

export function podUid(event: FalcoEvent): string | undefined {
  return stringField(event, 'k8s.pod.uid') ?? stringField(event, 'k8smeta.pod.uid');
}

/** Falco marks host processes with the container id `host`. */
export function isHostEvent(event: FalcoEvent): boolean {
  return containerId(event) === 'host';
}

export function isContainerEvent(event: FalcoEvent): boolean {
  const id = containerId(event);
  return id !== undefined && id !== 'host';
}

/** Falco's own health events (`Falco internal: …`), which are not detections. */
export function isInternalEvent(event: FalcoEvent): boolean {
  return event.source === 'internal' || event.rule.startsWith('Falco internal:');
}
