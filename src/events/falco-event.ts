import { rememberLast } from '../util/remember-answers.js';
import { type FieldValue, fieldValueText, NOT_AVAILABLE } from './field-value.js';
import type { Priority } from './priority.js';

export type { FieldScalar, FieldValue } from './field-value.js';

/**
 * One Falco alert, whatever transport it came over. What Falco wrote is kept as written: a key it
 * left out stays absent (older releases, `json_include_*_property: false`, internal events without
 * tags) and is never filled in with a default, so writing the alert back out gives Falco's alert
 * again. What Perch derives from it (the source kind, the node) comes from the functions below,
 * beside the alert, never written into it.
 */
export interface FalcoEvent {
  /** RFC 3339 UTC with Falco's nanosecond digits, as Falco sent it. */
  time: string;
  /** The same instant in nanoseconds since the epoch, exact. */
  timeNs: bigint;
  priority: Priority;
  rule: string;
  /** Absent with `json_include_output_property: false`. */
  output?: string;
  /** The output without its time and priority prefix; only with `json_include_message_property: true`. */
  message?: string;
  /** `syscall`, `k8s_audit`, `internal`, a plugin source; absent before Falco 0.30 (see sourceKind). */
  source?: string;
  /** Falco's host name (the node name in Helm deployments); absent before Falco 0.33. */
  hostname?: string;
  /** Absent before Falco 0.30, on internal events and with `json_include_tags_property: false`. */
  tags?: string[];
  /** Absent with `json_include_output_fields_property: false`. */
  outputFields?: Record<string, FieldValue>;
}

// Asked by dedup and correlation one after the other, and the BigInt division makes an object.
/** The event's time in whole milliseconds since the epoch. */
export const eventTimeMs: (event: FalcoEvent) => number = rememberLast((event) =>
  Number(event.timeNs / 1_000_000n),
);

const INTERNAL_RULE_PREFIX = 'Falco internal:';
const NO_TAGS: readonly string[] = Object.freeze([]);
// Without a prototype: a lookup of `constructor` or `__proto__` finds nothing here either.
const NO_FIELDS: Readonly<Record<string, FieldValue>> = Object.freeze(Object.create(null));

/**
 * The kind of source the alert came from, for rules, keys and metrics: Falco's `source` when it
 * wrote one; otherwise `internal` for Falco's own events and `syscall` for the rest, the only
 * kinds a Falco without `source` (before 0.30) could send.
 */
export function sourceKind(event: FalcoEvent): string {
  if (event.source) return event.source;
  return event.rule.startsWith(INTERNAL_RULE_PREFIX) ? 'internal' : 'syscall';
}

/** Falco's text line, or empty when Falco left it out. */
export function outputText(event: FalcoEvent): string {
  return event.output ?? '';
}

/** The rule's tags, or none when Falco left them out. */
export function eventTags(event: FalcoEvent): readonly string[] {
  return event.tags ?? NO_TAGS;
}

/** The output fields, or none when Falco left them out. */
export function outputFieldsOf(event: FalcoEvent): Readonly<Record<string, FieldValue>> {
  return event.outputFields ?? NO_FIELDS;
}

/** One output field as Falco wrote it; undefined when the alert does not have it. */
export function fieldOf(event: FalcoEvent, name: string): FieldValue | undefined {
  const fields = event.outputFields;
  return fields !== undefined && Object.hasOwn(fields, name) ? fields[name] : undefined;
}

/** A field Falco resolved, as text; undefined for missing, null, empty or `<NA>`. */
export function resolvedFieldText(event: FalcoEvent, name: string): string | undefined {
  const value = fieldOf(event, name);
  if (value === undefined) return undefined;
  const text = fieldValueText(value);
  return text === null || text === '' || text === NOT_AVAILABLE ? undefined : text;
}

/** The 12-character container id Falco reports, `host` for host processes, or undefined. */
export function containerId(event: FalcoEvent): string | undefined {
  return resolvedFieldText(event, 'container.id');
}

export function containerFullId(event: FalcoEvent): string | undefined {
  return resolvedFieldText(event, 'container.full_id');
}

export function namespaceName(event: FalcoEvent): string | undefined {
  return resolvedFieldText(event, 'k8s.ns.name') ?? resolvedFieldText(event, 'k8smeta.ns.name');
}

export function podName(event: FalcoEvent): string | undefined {
  return resolvedFieldText(event, 'k8s.pod.name') ?? resolvedFieldText(event, 'k8smeta.pod.name');
}

export function podUid(event: FalcoEvent): string | undefined {
  return resolvedFieldText(event, 'k8s.pod.uid') ?? resolvedFieldText(event, 'k8smeta.pod.uid');
}

// Asked several times in a row for each alert (rules, metrics, sinks), each a look into its fields.
/** Whether the process ran on the host itself: Falco's container id `host`. */
export const isHostEvent: (event: FalcoEvent) => boolean = rememberLast(
  (event) => containerId(event) === 'host',
);

export function isContainerEvent(event: FalcoEvent): boolean {
  const id = containerId(event);
  return id !== undefined && id !== 'host';
}

/** Falco's own health events (`Falco internal: …`), which are not detections. */
export function isInternalEvent(event: FalcoEvent): boolean {
  return sourceKind(event) === 'internal' || event.rule.startsWith(INTERNAL_RULE_PREFIX);
}
