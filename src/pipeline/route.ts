import type { Logger } from '../logging/logger.js';
import type { AlertSink, EventSink } from '../sinks/sink.js';
import { type MonoTypeOperatorFunction, tap } from '../util/rx.js';
import type { Alert, EventAlert } from './alert.js';

function wants(
  sink: { id: string; minPriority: number },
  alert: { priority: number; routes?: string[] },
): boolean {
  if (alert.priority < sink.minPriority) return false;
  return alert.routes === undefined || alert.routes.includes(sink.id);
}

function routeTo<T extends { priority: number; routes?: string[] }>(
  sinks: readonly { id: string; minPriority: number; send(alert: T): void }[],
  log: Logger,
): MonoTypeOperatorFunction<T> {
  return tap((alert) => {
    for (const sink of sinks) {
      if (!wants(sink, alert)) continue;
      try {
        sink.send(alert);
      } catch (err) {
        // A sink must not throw, but if one does, the others still get the alert.
        log.error({ sink: sink.id, err }, 'sink failed to take an alert');
      }
    }
  });
}

/** Alerts for people: to every alert sink the rules route them to (all when no route was set) at or above its minimum priority. */
export function routeAlerts(sinks: readonly AlertSink[], log: Logger): MonoTypeOperatorFunction<Alert> {
  return routeTo<Alert>(sinks, log);
}

/** Every event that passed the rules, repeats included, to the sinks that count events. */
export function routeEvents(sinks: readonly EventSink[], log: Logger): MonoTypeOperatorFunction<EventAlert> {
  return routeTo<EventAlert>(sinks, log);
}
