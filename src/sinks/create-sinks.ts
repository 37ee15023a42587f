import type { Writable } from 'node:stream';
import type { PerchConfig } from '../config/schema.js';
import type { Logger } from '../logging/logger.js';
import type { PerchMetrics } from '../metrics/perch-metrics.js';
import { ConsoleSink } from './console-sink.js';
import { GrpcBridgeSink } from './grpc-bridge-sink.js';
import type { Sink } from './sink.js';

export function createSinks(
  config: PerchConfig,
  stdout: Writable,
  metrics: PerchMetrics,
  log: Logger,
): Sink[] {
  return Object.entries(config.sinks).map(([name, sink]) => {
    switch (sink.type) {
      case 'console':
        return new ConsoleSink(name, sink, stdout, metrics.component('sink', name));
      case 'grpc-bridge':
        return new GrpcBridgeSink(name, sink, metrics, log);
      default:
        return unknownSinkType(sink);
    }
  });
}

/** The schema admits only known types; this keeps the switch exhaustive as types are added. */
function unknownSinkType(sink: never): never {
  throw new Error(`no sink implementation for type ${String((sink as { type?: unknown }).type)}`);
}
