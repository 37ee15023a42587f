import { type MonoTypeOperatorFunction, tap } from 'rxjs';
import type { Logger } from '../logging/logger.js';
import type { Sink } from '../sinks/sink.js';
import type { Alert } from './alert.js';

/** Hands each alert to every sink whose minimum priority it meets. A failing sink never stops the stream. */
export function routeToSinks(sinks: readonly Sink[], log: Logger): MonoTypeOperatorFunction<Alert> {
  return tap((alert) => {
    for (const sink of sinks) {
      if (alert.priority < sink.minPriority) continue;
      try {
        sink.send(alert);
      } catch (err) {
        log.error({ sink: sink.id, err }, 'sink failed to take an alert');
      }
    }
  });
}
