/**
 * What every chat destination shows of an alert, as plain fields: each destination only lays them out
 * and escapes them. Everything that came from a Falco event or the cluster (rule, output, pod and image
 * names, reasons that quote rule names, correlation titles) is marked untrusted; only Perch's own words
 * (labels, severity names, counts, PSS check ids, times) are plain strings.
 */
import {
  eventTags,
  eventTimeMs,
  type FalcoEvent,
  isHostEvent,
  outputFieldsOf,
  outputText,
  sourceKind,
} from '../../events/falco-event.js';
import { fieldValueText, NOT_AVAILABLE } from '../../events/field-value.js';
import { Priority, priorityName } from '../../events/priority.js';
import type { PodContext } from '../../kube/pod-context.js';
import type { Alert, DigestAlert, EventAlert, IncidentAlert } from '../../pipeline/alert.js';
import { digestSummary } from '../../pipeline/digest-summary.js';
import { alertPlace, failingChecks, listChecks } from '../alert-place.js';
import { escapeControlChars } from '../untrusted-text.js';
import type { TemplateValues } from './template.js';
import { joinText, type Text, untrusted } from './text.js';

/** falcosidekick's colours per priority, so Perch's messages look like the ones users know. */
export const SEVERITY_COLOURS: Readonly<Record<Priority, string>> = {
  [Priority.Emergency]: '#e20b0b',
  [Priority.Alert]: '#ff5400',
  [Priority.Critical]: '#ff5400',
  [Priority.Error]: '#e20b0b',
  [Priority.Warning]: '#ffc700',
  [Priority.Notice]: '#5bffb5',
  [Priority.Informational]: '#68c2ff',
  [Priority.Debug]: '#ccfff2',
};

/** One labelled value: the label is Perch's, the value usually not. */
export interface Fact {
  label: string;
  value: Text;
}

export interface AlertView {
  kind: Alert['kind'];
  id: string;
  priority: Priority;
  /** `Critical`. */
  severity: string;
  /** `#rrggbb`. */
  colour: string;
  /** `[CRITICAL] Terminal shell in container`, `[WARNING] DIGEST …`, `[CRITICAL] INCIDENT …`. */
  title: Text;
  /** digest: digestSummary; incident: event count and what ties the events together. */
  summary?: Text;
  why: Text[];
  /** `Output` for an event; `Last output` for digests and incidents (their latest event's). */
  outputLabel: string;
  output?: Text;
  where: Fact[];
  isolation: Fact[];
  posture: Fact[];
  /** An incident's events, oldest first, bounded; the last line says how many were left out. */
  timeline: Text[];
  /** RFC 3339 UTC (Falco's own, with its nanoseconds, for an event). */
  time: string;
  timeMs: number;
  variables: TemplateValues;
}

const MAX_TIMELINE_LINES = 10;
const MAX_LISTED_CHECKS = 6;
const MAX_LISTED_TAGS = 12;

// Falco's text output starts with "HH:MM:SS.nnnnnnnnn: Priority "; the message shows both already.
const OUTPUT_PREFIX = /^\d{2}:\d{2}:\d{2}\.\d+: \w+ /;
// Falco ≥ 0.41 appends the container plugin's fields to every output; the fields show them already.
const CONTAINER_SUFFIX = /\s+container_id=\S*( container_name=.*)? k8s_pod_name=\S* k8s_ns_name=\S*$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * An untrusted value made visible: control characters and invisible ones that can disguise text (bidi
 * overrides, zero-width spaces) as escapes, no half characters.
 */
function u(raw: string): Text {
  return [untrusted(escapeControlChars(raw).replace(LONE_SURROGATE, '\ufffd'))];
}

const present = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/** Where an event happened, as raw strings (escaped later, once, by `u`). */
interface Place {
  node?: string;
  namespace?: string;
  workload?: string;
  pod?: string;
  container?: string;
  image?: string;
  note?: string;
}

function eventPlace(alert: EventAlert): Place {
  const place = alertPlace(alert);
  if (place.host) return { node: place.node, note: 'host process (not in a container)' };
  return {
    node: place.node,
    namespace: place.namespace,
    workload: place.workload ? `${place.workload.kind}/${place.workload.name}` : undefined,
    pod: place.pod,
    container: place.container,
    image: place.image,
    note: place.deleted
      ? 'the pod was deleted before the alert arrived'
      : place.unresolved
        ? 'pod not found in the cluster'
        : undefined,
  };
}

function placeFacts(place: Place): Fact[] {
  const facts: Fact[] = [];
  const add = (label: string, value: string | undefined) => {
    if (present(value)) facts.push({ label, value: u(value) });
  };
  add('Node', place.node);
  add('Namespace', place.namespace);
  add('Workload', place.workload);
  add('Pod', place.pod);
  add('Container', place.container);
  add('Image', place.image);
  if (place.note) facts.push({ label: 'Note', value: [place.note] });
  return facts;
}

function isolationFacts(pod: PodContext | undefined): Fact[] {
  if (!pod) return [];
  const facts: Fact[] = [];
  const runtime: Text = pod.runtimeClass ? u(pod.runtimeClass) : ['(default)'];
  facts.push({
    label: 'Runtime class',
    value: pod.missingRuntimeClass ? [...runtime, ' (missing)'] : runtime,
  });
  if (present(pod.handler)) facts.push({ label: 'Handler', value: u(pod.handler) });
  facts.push({ label: 'Isolation', value: [pod.isolation] });
  return facts;
}

function postureFacts(pod: PodContext | undefined): Fact[] {
  if (!pod) return [];
  const facts: Fact[] = [{ label: 'PSS level', value: [pod.posture.level] }];
  const checks = failingChecks(pod);
  if (checks.length > 0)
    facts.push({ label: 'PSS violations', value: [listChecks(checks, MAX_LISTED_CHECKS)] });
  return facts;
}

function eventOutput(event: FalcoEvent): Text | undefined {
  const output = outputText(event).replace(OUTPUT_PREFIX, '').replace(CONTAINER_SUFFIX, '').trim();
  if (output) return u(output);
  // json_include_output_property: false leaves only the fields.
  const fields = Object.entries(outputFieldsOf(event))
    .map(([name, value]) => `${name}=${fieldValueText(value) ?? NOT_AVAILABLE}`)
    .join(' ');
  return fields ? u(fields) : undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();
const clock = (ms: number) => iso(ms).slice(11, 23);

function timelineLines(alert: IncidentAlert): Text[] {
  const entries =
    alert.timeline.length > MAX_TIMELINE_LINES
      ? [...alert.timeline.slice(0, MAX_TIMELINE_LINES - 1), ...alert.timeline.slice(-1)]
      : alert.timeline;
  const lines: Text[] = entries.map((t) => [
    `${clock(t.timeMs)} ${priorityName(t.priority)} `,
    ...u(t.summary),
  ]);
  const left = alert.eventCount - entries.length;
  if (left > 0) lines.push([`… ${left} more event${left === 1 ? '' : 's'} not listed`]);
  return lines;
}

interface Parts {
  title: Text;
  summary?: Text;
  rule: string;
  place: Place;
  sample: EventAlert;
  count: number;
  timeMs: number;
  /** Falco's own time, with its nanoseconds: the most precise statement of when. */
  time?: string;
  timeline: Text[];
  extraFacts: Fact[];
}

function eventParts(alert: EventAlert, tag: string): Parts {
  return {
    title: [tag, ...u(alert.event.rule)],
    rule: alert.event.rule,
    place: eventPlace(alert),
    sample: alert,
    count: 1,
    timeMs: eventTimeMs(alert.event),
    time: alert.event.time,
    timeline: [],
    extraFacts: [],
  };
}

function digestParts(alert: DigestAlert, tag: string): Parts {
  const more = alert.podCount - alert.pods.length;
  const pods =
    alert.pods.length > 0 ? `${alert.pods.join(', ')}${more > 0 ? ` (+${more} more)` : ''}` : undefined;
  const samplePlace = eventPlace(alert.sample);
  return {
    title: [`${tag}DIGEST `, ...u(alert.rule), ` ×${alert.count}`],
    summary: u(digestSummary(alert)),
    rule: alert.rule,
    place: {
      node: samplePlace.node,
      namespace: alert.namespace ?? samplePlace.namespace,
      workload: alert.workload ? `${alert.workload.kind}/${alert.workload.name}` : samplePlace.workload,
      pod: pods ?? samplePlace.pod,
      container: samplePlace.container,
      image: samplePlace.image,
    },
    sample: alert.sample,
    count: alert.count,
    timeMs: alert.lastSeenMs,
    timeline: [],
    extraFacts: [],
  };
}

function incidentParts(alert: IncidentAlert, tag: string): Parts {
  const group = Object.entries(alert.group)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const span = `from ${iso(alert.firstSeenMs)} to ${iso(alert.lastSeenMs)}`;
  return {
    title: [`${tag}INCIDENT `, ...u(alert.title)],
    summary: [`${alert.eventCount} events ${span}`, ...(group ? [' for ', ...u(group)] : [])],
    rule: alert.sample.event.rule,
    place: eventPlace(alert.sample),
    sample: alert.sample,
    count: alert.eventCount,
    timeMs: alert.lastSeenMs,
    timeline: timelineLines(alert),
    extraFacts: [
      { label: 'Correlation', value: u(alert.correlation) },
      ...(group ? [{ label: 'Group', value: u(group) }] : []),
    ],
  };
}

function optional(value: string | undefined): Text {
  return present(value) ? u(value) : [];
}

export function alertView(alert: Alert): AlertView {
  const severity = priorityName(alert.priority);
  const tag = `[${severity.toUpperCase()}] `;
  const parts =
    alert.kind === 'event'
      ? eventParts(alert, tag)
      : alert.kind === 'digest'
        ? digestParts(alert, tag)
        : incidentParts(alert, tag);
  const pod = parts.sample.enrichment.pod;
  const why = alert.reasons.filter(present).map((r) => u(r));
  const output = eventOutput(parts.sample.event);
  const time = parts.time ?? iso(parts.timeMs);
  const checks = pod ? failingChecks(pod) : [];
  const tags = eventTags(parts.sample.event);
  const listedTags = tags.slice(0, MAX_LISTED_TAGS).join(', ') + (tags.length > MAX_LISTED_TAGS ? ', …' : '');
  return {
    kind: alert.kind,
    id: alert.id,
    priority: alert.priority,
    severity,
    colour: SEVERITY_COLOURS[alert.priority] ?? '#808080',
    title: parts.title,
    ...(parts.summary ? { summary: parts.summary } : {}),
    why,
    outputLabel: alert.kind === 'event' ? 'Output' : 'Last output',
    ...(output ? { output } : {}),
    where: [...placeFacts(parts.place), ...parts.extraFacts],
    isolation: isolationFacts(pod),
    posture: postureFacts(pod),
    timeline: parts.timeline,
    time,
    timeMs: parts.timeMs,
    variables: {
      title: parts.title,
      kind: [alert.kind],
      severity: [severity],
      rule: u(parts.rule),
      output: output ?? [],
      reasons: joinText(why, '; '),
      summary: parts.summary ?? [],
      count: [String(parts.count)],
      node: optional(parts.place.node),
      namespace: optional(parts.place.namespace),
      workload: optional(parts.place.workload),
      pod: optional(parts.place.pod),
      container: optional(parts.place.container),
      image: optional(parts.place.image),
      isolation: pod ? [pod.isolation] : isHostEvent(parts.sample.event) ? ['host'] : [],
      runtime_class: optional(pod?.runtimeClass),
      handler: optional(pod?.handler),
      pss_level: pod ? [pod.posture.level] : [],
      violations: checks.length > 0 ? [listChecks(checks, MAX_LISTED_CHECKS)] : [],
      timeline: joinText(parts.timeline, '\n'),
      time: [time],
      id: [alert.id],
      source: u(sourceKind(parts.sample.event)),
      tags: listedTags ? u(listedTags) : [],
    },
  };
}

/** Every fact in display order: where, then isolation, then posture. */
export function allFacts(view: AlertView): Fact[] {
  return [...view.where, ...view.isolation, ...view.posture];
}
