import { Counter, Gauge } from 'prom-client';
import type { PerchMetrics } from '../metrics/perch-metrics.js';

export type ReceivedOutcome = 'new' | 'duplicate' | 'joined';

/** The hub's own metrics, on the process's registry beside the pipeline's and the sinks'. */
export class HubMetrics {
  private readonly received: Counter<'outcome'>;
  private readonly acks: Counter<'outcome'>;
  readonly idsEvicted: Counter;
  private readonly changes: Counter<'change'>;
  private readonly leaderGauge: Gauge;
  private readonly refused: Counter;

  constructor(metrics: PerchMetrics, ids: () => number, inFlight: () => number) {
    const registers = [metrics.registry];
    this.received = new Counter({
      name: 'perch_hub_alerts_received_total',
      help: 'Alerts agents forwarded to the hub: new, duplicate (an id taken already: dropped), joined (sent again while the first copy was pending).',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.acks = new Counter({
      name: 'perch_hub_acknowledgements_total',
      help: 'Forwarded alerts answered: taken (the agent may forget it) or not_taken (ack timeout, standby, shutdown: the agent sends it again).',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.idsEvicted = new Counter({
      name: 'perch_hub_ids_evicted_total',
      help: 'Taken ids forgotten before their retention ran out because hub.maxIds was reached.',
      registers,
    });
    new Gauge({
      name: 'perch_hub_ids_held',
      help: 'Taken ids remembered to drop alerts sent again.',
      registers,
      collect() {
        this.set(ids());
      },
    });
    new Gauge({
      name: 'perch_hub_alerts_in_flight',
      help: 'Forwarded alerts the hub has not settled yet (their agents keep them meanwhile).',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    this.leaderGauge = new Gauge({
      name: 'perch_hub_leader',
      help: '1 while this replica leads (ready, takes alerts in, delivers), 0 while it is a standby.',
      registers,
    });
    this.leaderGauge.set(0);
    this.changes = new Counter({
      name: 'perch_hub_leadership_changes_total',
      help: 'Leadership changes of this replica: acquired, takeover (acquired from another holder: a failover), lost, released.',
      labelNames: ['change'] as const,
      registers,
    });
    this.refused = new Counter({
      name: 'perch_hub_unauthorized_requests_total',
      help: 'Requests refused with 401 because they lacked the bearer token hub.token asks for.',
      registers,
    });
    for (const outcome of ['new', 'duplicate', 'joined']) this.received.inc({ outcome }, 0);
    for (const outcome of ['taken', 'not_taken']) this.acks.inc({ outcome }, 0);
    for (const change of ['acquired', 'takeover', 'lost', 'released']) this.changes.inc({ change }, 0);
  }

  countReceived(outcome: ReceivedOutcome, count = 1): void {
    if (count > 0) this.received.inc({ outcome }, count);
  }

  countAcks(outcome: 'taken' | 'not_taken', count: number): void {
    if (count > 0) this.acks.inc({ outcome }, count);
  }

  unauthorized(): void {
    this.refused.inc();
  }

  leadership(change: 'acquired' | 'takeover' | 'lost' | 'released'): void {
    this.changes.inc({ change });
    this.leaderGauge.set(change === 'acquired' || change === 'takeover' ? 1 : 0);
  }
}
