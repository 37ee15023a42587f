import type { Alert } from '../../src/pipeline/alert.js';
import type { AlertSink } from '../../src/sinks/sink.js';

/** An alert sink for pipeline tests: takes every alert (any priority) and hands it to `take`. */
export function collectingSink(id: string, take: (alert: Alert) => void): AlertSink {
  return { id, feed: 'alerts', minPriority: 0, send: take, flush: async () => {} };
}
