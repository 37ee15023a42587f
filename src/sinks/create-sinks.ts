import type { Writable } from 'node:stream';
import type { PerchConfig } from '../config/schema.js';
import type { PerchMetrics } from '../metrics/perch-metrics.js';
import { ConsoleSink } from './console-sink.js';
import type { Sink } from './sink.js';

export function createSinks(config: PerchConfig, stdout: Writable, metrics: PerchMetrics): Sink[] {
  return Object.entries(config.sinks).map(([name, sink]) => {
    switch (sink.type) {
      case 'console':
        return new ConsoleSink(name, sink, stdout, metrics.component('sink', name));
      default:
        return unknownSinkType(sink.type);
    }
  });
}

/** The schema admits only known types; this keeps the switch exhaustive as types are added. */
function unknownSinkType(type: never): never {
  throw new Error(`no sink implementation for type ${String(type)}`);
}
