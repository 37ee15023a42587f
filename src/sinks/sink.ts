import type { Priority } from '../events/priority.js';
import type { Alert } from '../pipeline/alert.js';

/** A destination for alerts. */
export interface Sink {
  readonly id: string;
  readonly minPriority: Priority;
  /** Takes one alert; must not throw (failures are counted and logged by the sink). */
  send(alert: Alert): void;
  /** Resolves once everything already sent has been written out. */
  flush(): Promise<void>;
  /** For sinks that hold resources (a server, connections): called before the first alert. */
  start?(): Promise<void>;
  /** Called once at shutdown, after flush(). */
  close?(): Promise<void>;
  /** For /readyz, when the sink can be unavailable. */
  status?(): { up: boolean; detail?: string };
}
