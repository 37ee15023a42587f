import type { HubSinkConfig } from '../config/schema.js';
import { DeliverySink, type DeliverySinkDeps } from '../delivery/delivery-sink.js';
import type { Priority } from '../events/priority.js';
import type { EventAlert } from '../pipeline/alert.js';
import type { EventSink } from '../sinks/sink.js';
import { hubDestination } from './hub-destination.js';

/**
 * `{ type: hub, url }`: every event that passed the agent's rules goes to the hub, repeats included,
 * so that the hub deduplicates and correlates across nodes. Delivery (spool, retries, Retry-After,
 * circuit breaker, metrics) is the delivery engine's, as for any other destination.
 */
export class HubSink implements EventSink {
  readonly feed = 'events';
  readonly minPriority: Priority;
  private readonly delivery: DeliverySink;

  constructor(
    readonly id: string,
    config: HubSinkConfig,
    node: string,
    deps: DeliverySinkDeps,
  ) {
    this.minPriority = config.minPriority;
    this.delivery = new DeliverySink(
      id,
      config,
      hubDestination(config.url, node, config.token?.reveal()),
      deps,
    );
  }

  send(alert: EventAlert): void {
    this.delivery.send(alert);
  }

  start(): Promise<void> {
    return this.delivery.start();
  }

  flush(): Promise<void> {
    return this.delivery.flush();
  }

  close(): Promise<void> {
    return this.delivery.close();
  }

  get discardedAtShutdown(): number {
    return this.delivery.discardedAtShutdown;
  }

  status(): { up: boolean; detail?: string } {
    return this.delivery.status();
  }

  get lastFailure(): string | undefined {
    return this.delivery.lastFailure;
  }
}
