import type { Priority } from '../events/priority.js';
import type { Alert, EventAlert } from '../pipeline/alert.js';

interface SinkBase {
  readonly id: string;
  readonly minPriority: Priority;
  /** Resolves once everything already sent has been written out. */
  flush(): Promise<void>;
  /** For sinks that hold resources (a server, connections): called before the first alert. */
  start?(): Promise<void>;
  /** Called once at shutdown, after flush(). */
  close?(): Promise<void>;
  /** After close(): alerts it had taken in that were neither delivered nor spooled. */
  readonly discardedAtShutdown?: number;
  /** For /readyz, when the sink can be unavailable. */
  status?(): { up: boolean; detail?: string };
  /** Why the last delivery attempt failed, for a sink that delivers; undefined when none failed. */
  readonly lastFailure?: string;
}

/**
 * A sink for people (console, chat, Alertmanager): it gets what they should see, each storm as a
 * digest and related events joined in incidents.
 */
export interface AlertSink extends SinkBase {
  readonly feed: 'alerts';
  /** Takes one alert; must not throw (failures are counted and logged by the sink). */
  send(alert: Alert): void;
}

/**
 * A sink for machines that count (the gRPC bridge feeding falco-exporter): it gets every event
 * that passed the rules, repeats included, since a digest would make its counts wrong.
 */
export interface EventSink extends SinkBase {
  readonly feed: 'events';
  send(alert: EventAlert): void;
}

export type Sink = AlertSink | EventSink;
