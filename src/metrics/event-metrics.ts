import { Counter, Histogram, type Registry, type RegistryContentType } from 'prom-client';
import type { MetricsConfig } from '../config/schema.js';
import { containerId, isHostEvent, namespaceName, podName } from '../events/falco-event.js';
import { priorityName, toFalcoNumber } from '../events/priority.js';
import type { Alert, EventAlert } from '../pipeline/alert.js';
import { SeriesCap } from './series-cap.js';

type EventLabel = MetricsConfig['eventLabels'][number];
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
  private readonly events: Counter<string>;
  private readonly eventsCap: SeriesCap<string>;
  private readonly compat?: Counter<CompatLabel>;
  private readonly compatCap?: SeriesCap<CompatLabel>;
  private readonly digests: Counter<'rule'>;
  private readonly digestedRepeats: Counter<'rule'>;
  private readonly incidents: Counter<'correlation' | 'priority'>;
  private readonly latency: Histogram<'kind'>;
  private readonly overflow: Counter<'metric'>;
  private readonly digestsCap: SeriesCap<'rule'>;

  constructor(
    private readonly config: MetricsConfig,
    registry: Registry<RegistryContentType>,
  ) {
    const registers = [registry];
    this.overflow = new Counter({
      name: 'perch_metric_series_overflow_total',
      help: 'Observations folded into the _overflow series because a metric reached metrics.maxSeries.',
      labelNames: ['metric'],
      registers,
    });
    this.events = new Counter({
      name: 'perch_falco_events_total',
      help: 'Falco events received, by rule, Falco priority and where they happened (labels set by metrics.eventLabels).',
      labelNames: config.eventLabels,
      registers,
    });
    this.eventsCap = new SeriesCap(config.maxSeries, ALWAYS_KEPT, () =>
      this.overflow.inc({ metric: 'perch_falco_events_total' }),
    );
    if (config.falcoExporterCompat) {
      this.compat = new Counter({
        name: 'falco_events',
        help: "Falco events as falco-exporter counted them; priority is Falco's number: 0 = Emergency … 7 = Debug.",
        labelNames: COMPAT_LABELS,
        registers,
      });
      this.compatCap = new SeriesCap<CompatLabel>(config.maxSeries, new Set(['priority', 'source']), () =>
        this.overflow.inc({ metric: 'falco_events' }),
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
    const values = {} as Record<EventLabel, string>;
    for (const label of this.config.eventLabels) values[label] = eventLabel(alert, label);
    this.events.inc(this.eventsCap.labels(values));
    if (this.compat && this.compatCap) {
      const { event } = alert;
      this.compat.inc(
        this.compatCap.labels({
          rule: event.rule,
          priority: String(toFalcoNumber(event.priority)),
          hostname: event.hostname,
          source: event.source,
          k8s_ns_name: namespaceName(event) ?? '',
          k8s_pod_name: podName(event) ?? '',
          // falco-exporter's exact form: ",a,b,".
          tags: `,${event.tags.join(',')},`,
        }),
      );
    }
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

function eventLabel(alert: EventAlert, label: EventLabel): string {
  const { event, enrichment } = alert;
  const pod = enrichment.pod;
  switch (label) {
    case 'rule':
      return event.rule;
    case 'priority':
      return priorityName(event.priority);
    case 'source':
      return event.source;
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
      return pod?.node ?? enrichment.node ?? event.hostname;
    case 'pod':
      return pod?.pod ?? podName(event) ?? '';
    case 'container':
      return pod?.container?.name ?? containerId(event) ?? '';
  }
}
