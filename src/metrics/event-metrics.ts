import { Counter, Histogram, type Registry, type RegistryContentType } from 'prom-client';
import type { MetricsConfig } from '../config/schema.js';
import {
  containerId,
  eventTags,
  type FalcoEvent,
  isHostEvent,
  namespaceName,
  podName,
  sourceKind,
} from '../events/falco-event.js';
import { priorityName, toFalcoNumber } from '../events/priority.js';
import type { Enrichment } from '../kube/pod-context.js';
import type { Alert, EventAlert } from '../pipeline/alert.js';
import { SeriesCap } from './series-cap.js';
import { type Tally, TallyCounter } from './tally-counter.js';

/** Joins label values into a table key; Kubernetes and Falco names cannot contain it. */
const KEY_SEPARATOR = '\u0000';

type EventLabel = MetricsConfig['eventLabels'][number];
/** The events' series by their label values, one level per label; the last level holds the series. */
type SeriesLevel = Map<string, SeriesLevel | Tally>;
/**
 * The series of one shared enrichment's events: by rule, then source, then priority × host-ness
 * (slotOf). Bounded per enrichment; an event beyond the bounds is found through the label tree.
 */
type EnrichmentSeries = Map<string, Map<string, (Tally | undefined)[]>>;
const MAX_RULES_PER_ENRICHMENT = 256;
const MAX_SOURCES_PER_RULE = 16;
/**
 * For the alerts of one shared enrichment with a pod context, the pod field a label needs: without
 * it the label comes from each event. Every other label is the pod's, or is kept apart in the table
 * (rule, source, priority, and host-ness for isolation). Typed over every label, so a new one must
 * be placed here.
 */
const POD_FIELD_NEEDED: Record<EventLabel, 'node' | 'container' | undefined> = {
  rule: undefined,
  priority: undefined,
  source: undefined,
  namespace: undefined,
  workload_kind: undefined,
  workload: undefined,
  runtime_class: undefined,
  isolation: undefined,
  pod: undefined,
  node: 'node',
  container: 'container',
};
const ALWAYS_KEPT: ReadonlySet<string> = new Set(['priority', 'source']);
const COMPAT_LABELS = [
  'rule',
  'priority',
  'hostname',
  'source',
  'k8s_ns_name',
  'k8s_pod_name',
  'tags',
] as const;
type CompatLabel = (typeof COMPAT_LABELS)[number];

/**
 * What Falco raised on this node, by where it happened, plus digests, incidents and the time an
 * alert spends inside Perch. Every labelled metric is capped (metrics.maxSeries).
 */
export class EventMetrics {
  private readonly events: TallyCounter<string>;
  private readonly compat?: TallyCounter<CompatLabel>;
  private readonly digests: Counter<'rule'>;
  private readonly digestedRepeats: Counter<'rule'>;
  private readonly incidents: Counter<'correlation' | 'priority'>;
  private readonly latency: Histogram<'kind'>;
  private readonly overflow: Counter<'metric'>;
  private readonly digestsCap: SeriesCap<'rule'>;
  /**
   * The series counted so far, found by their label values: no key joined, flattened and hashed for
   * every event. It holds only series the cap admitted, so it is bounded by metrics.maxSeries.
   */
  private readonly eventSeries: SeriesLevel = new Map();
  /**
   * The same series again, found from the enrichment a container's alerts share (frozen, built once
   * per container by the cluster cache): three lookups instead of one per label.
   */
  private readonly byEnrichment = new WeakMap<Enrichment, EnrichmentSeries>();
  /** The pod fields the configured labels need for the pod to decide them. */
  private readonly podFieldsNeeded: readonly ('node' | 'container')[];

  constructor(
    private readonly config: MetricsConfig,
    registry: Registry<RegistryContentType>,
  ) {
    const registers = [registry];
    this.podFieldsNeeded = config.eventLabels.flatMap((label) => POD_FIELD_NEEDED[label] ?? []);
    this.overflow = new Counter({
      name: 'perch_metric_series_overflow_total',
      help: 'Observations folded into the _overflow series because a metric reached metrics.maxSeries.',
      labelNames: ['metric'],
      registers,
    });
    this.events = new TallyCounter(
      {
        name: 'perch_falco_events_total',
        help: 'Falco events received, by rule, Falco priority and where they happened (labels set by metrics.eventLabels).',
        labelNames: config.eventLabels,
        registers,
      },
      {
        maxSeries: config.maxSeries,
        keep: ALWAYS_KEPT,
        onOverflow: () => this.overflow.inc({ metric: 'perch_falco_events_total' }),
      },
    );
    if (config.falcoExporterCompat) {
      this.compat = new TallyCounter<CompatLabel>(
        {
          name: 'falco_events',
          help: "Falco events as falco-exporter counted them; priority is Falco's number: 0 = Emergency … 7 = Debug.",
          labelNames: COMPAT_LABELS,
          registers,
        },
        {
          maxSeries: config.maxSeries,
          keep: new Set(['priority', 'source']),
          onOverflow: () => this.overflow.inc({ metric: 'falco_events' }),
        },
      );
    }
    this.digests = new Counter({
      name: 'perch_digests_total',
      help: 'Digests sent: one per dedup window that had repeats.',
      labelNames: ['rule'],
      registers,
    });
    this.digestedRepeats = new Counter({
      name: 'perch_digested_events_total',
      help: 'Repeats collapsed into digests.',
      labelNames: ['rule'],
      registers,
    });
    this.digestsCap = new SeriesCap(config.maxSeries, new Set(), () =>
      this.overflow.inc({ metric: 'perch_digests_total' }),
    );
    this.incidents = new Counter({
      name: 'perch_incidents_total',
      help: 'Incidents raised by correlation rules.',
      labelNames: ['correlation', 'priority'],
      registers,
    });
    this.latency = new Histogram({
      name: 'perch_pipeline_latency_seconds',
      help: 'Time from receipt to hand-over to the sinks.',
      labelNames: ['kind'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
  }

  /** Every event that entered the pipeline, once, with its cluster context. */
  observeEvent(alert: EventAlert): void {
    const slots = this.slotsOf(alert);
    const at = slots === undefined ? 0 : slotOf(alert.event);
    const tally = slots?.[at];
    if (tally !== undefined) tally.pending += 1;
    else {
      if (!this.countKnownEvent(alert)) this.countNewEvent(alert);
      // A series folded into the overflow has none: such events keep taking the long way.
      if (slots !== undefined) slots[at] = this.seriesOf(alert);
    }
    if (this.compat) this.observeCompat(this.compat, alert);
  }

  /** Where the series of this event's rule and source are kept for its enrichment, when it decides the labels. */
  private slotsOf({ enrichment, event }: EventAlert): (Tally | undefined)[] | undefined {
    const pod = enrichment.pod;
    // Only a shared, unchanging enrichment: one built for a single alert would only fill the table.
    if (pod === undefined || !Object.isFrozen(enrichment) || !Object.isFrozen(pod)) return undefined;
    for (const field of this.podFieldsNeeded) if (pod[field] === undefined) return undefined;
    let rules = this.byEnrichment.get(enrichment);
    if (rules === undefined) {
      rules = new Map();
      this.byEnrichment.set(enrichment, rules);
    }
    let sources = rules.get(event.rule);
    if (sources === undefined) {
      if (rules.size >= MAX_RULES_PER_ENRICHMENT) return undefined;
      sources = new Map();
      rules.set(event.rule, sources);
    }
    const source = sourceKind(event);
    let slots = sources.get(source);
    if (slots === undefined) {
      if (sources.size >= MAX_SOURCES_PER_RULE) return undefined;
      slots = [];
      sources.set(source, slots);
    }
    return slots;
  }

  private countKnownEvent(alert: EventAlert): boolean {
    const series = this.seriesOf(alert);
    if (series === undefined) return false;
    series.pending += 1;
    return true;
  }

  /** The event's series in the label tree, once counted there (not folded into the overflow). */
  private seriesOf(alert: EventAlert): Tally | undefined {
    const labels = this.config.eventLabels;
    const last = labels.length - 1;
    let level = this.eventSeries;
    for (let i = 0; i <= last; i++) {
      const next = level.get(eventLabel(alert, labels[i] as EventLabel));
      if (next === undefined) return undefined;
      if (i === last) return next as Tally;
      level = next as SeriesLevel;
    }
    return undefined;
  }

  private countNewEvent(alert: EventAlert): void {
    const labels = this.config.eventLabels;
    const values = {} as Record<EventLabel, string>;
    for (const label of labels) values[label] = eventLabel(alert, label);
    const key = labels.map((label) => values[label]).join(KEY_SEPARATOR);
    if (!this.events.incKnown(key)) this.events.incNew(key, values);
    const series = this.events.known(key);
    if (series === undefined || labels.length === 0) return;
    let level = this.eventSeries;
    for (let i = 0; i < labels.length - 1; i++) {
      const value = values[labels[i] as EventLabel];
      let next = level.get(value) as SeriesLevel | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    level.set(values[labels[labels.length - 1] as EventLabel], series);
  }

  private observeCompat(compat: TallyCounter<CompatLabel>, { event }: EventAlert): void {
    const values: Record<CompatLabel, string> = {
      rule: event.rule,
      priority: String(toFalcoNumber(event.priority)),
      hostname: event.hostname ?? '',
      source: sourceKind(event),
      k8s_ns_name: namespaceName(event) ?? '',
      k8s_pod_name: podName(event) ?? '',
      // falco-exporter's exact form: ",a,b,".
      tags: `,${eventTags(event).join(',')},`,
    };
    const key = COMPAT_LABELS.map((label) => values[label]).join(KEY_SEPARATOR);
    if (!compat.incKnown(key)) compat.incNew(key, values);
  }

  /** What went to the people's sinks. */
  observeSent(alert: Alert, nowMs: number): void {
    if (alert.kind === 'digest') {
      const labels = this.digestsCap.labels({ rule: alert.rule });
      this.digests.inc(labels);
      this.digestedRepeats.inc(labels, alert.count);
    } else if (alert.kind === 'incident') {
      this.incidents.inc({ correlation: alert.correlation, priority: priorityName(alert.priority) });
    } else {
      this.latency.observe({ kind: alert.kind }, Math.max(0, nowMs - alert.receivedAtMs) / 1000);
    }
  }
}

/** An event's place among its rule and source's series: its priority, and whether it is the host's. */
function slotOf(event: FalcoEvent): number {
  return event.priority * 2 + (isHostEvent(event) ? 1 : 0);
}

function eventLabel(alert: EventAlert, label: EventLabel): string {
  const { event, enrichment } = alert;
  const pod = enrichment.pod;
  switch (label) {
    case 'rule':
      return event.rule;
    case 'priority':
      return priorityName(event.priority);
    case 'source':
      return sourceKind(event);
    case 'namespace':
      return pod?.namespace ?? namespaceName(event) ?? '';
    case 'workload_kind':
      return pod?.workload.kind ?? (isHostEvent(event) ? 'Host' : '');
    case 'workload':
      return pod?.workload.name ?? '';
    case 'runtime_class':
      return pod?.runtimeClass ?? '';
    case 'isolation':
      return isHostEvent(event) ? 'host' : (pod?.isolation ?? '');
    case 'node':
      return pod?.node ?? enrichment.node ?? event.hostname ?? '';
    case 'pod':
      return pod?.pod ?? podName(event) ?? '';
    case 'container':
      return pod?.container?.name ?? containerId(event) ?? '';
  }
}
