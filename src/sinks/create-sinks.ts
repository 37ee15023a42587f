import type { Writable } from 'node:stream';
import type { PerchConfig } from '../config/schema.js';
import { DeliverySink, type DeliverySinkDeps } from '../delivery/delivery-sink.js';
import { Spool } from '../delivery/spool.js';
import type { Priority } from '../events/priority.js';
import { HubSink } from '../hub/hub-sink.js';
import { localNodeName } from '../hub/node-name.js';
import type { Logger } from '../logging/logger.js';
import type { PerchMetrics } from '../metrics/perch-metrics.js';
import { AlertmanagerSink } from './alertmanager-sink.js';
import { ConsoleSink } from './console-sink.js';
import { messageDestination } from './destinations/index.js';
import { GrpcBridgeSink } from './grpc-bridge-sink.js';
import type { Sink } from './sink.js';

export interface SinkSet {
  sinks: Sink[];
  /** The durable spool, when a sink spools. */
  spool?: Spool;
  /** The lowest `spoolMinPriority` of the spooled sinks. */
  spoolMinPriority?: Priority;
  /** Closes what the sinks share (the spool); after every sink has been closed. */
  close(): void;
}

/** Builds the sinks of perch.yaml; the spool is opened only when a sink spools. */
export function createSinks(
  config: PerchConfig,
  stdout: Writable,
  metrics: PerchMetrics,
  log: Logger,
  /** The hub learns when its delivering sinks are done with an alert, to acknowledge it to the agent. */
  track?: DeliverySinkDeps['track'],
): SinkSet {
  const thresholds = Object.values(config.sinks).flatMap((s) =>
    'spoolMinPriority' in s && s.spoolMinPriority !== undefined ? [s.spoolMinPriority] : [],
  );
  const spool =
    thresholds.length > 0
      ? new Spool({
          path: config.delivery.spoolPath,
          maxEntries: config.delivery.spoolMaxEntries,
          retryMs: config.delivery.spoolRetryInterval,
          groupCommit: true,
          log: log.child({ component: 'spool' }),
          onStateChange: (up) => metrics.setSpoolUp(up),
        })
      : undefined;
  if (spool) metrics.setSpoolUp(spool.up);
  const deps = { metrics, log, ...(spool ? { spool } : {}), ...(track ? { track } : {}) };
  const sinks = Object.entries(config.sinks).map(([name, sink]): Sink => {
    switch (sink.type) {
      case 'console':
        return new ConsoleSink(name, sink, stdout, metrics.component('sink', name));
      case 'grpc-bridge':
        return new GrpcBridgeSink(name, sink, metrics, log);
      case 'alertmanager':
        return new AlertmanagerSink(name, sink, {
          innerSink: (id, destination) => new DeliverySink(id, sink, destination, deps),
          metrics: metrics.component('sink', name),
          log,
        });
      case 'slack':
      case 'mattermost':
      case 'teams':
      case 'discord':
      case 'googlechat':
      case 'telegram':
      case 'webhook':
        return new DeliverySink(name, sink, messageDestination(sink), deps);
      case 'hub':
        return new HubSink(name, sink, localNodeName(config.nodeName), deps);
      default:
        return unknownSinkType(sink);
    }
  });
  return {
    sinks,
    ...(spool ? { spool, spoolMinPriority: Math.min(...thresholds) as Priority } : {}),
    close: () => spool?.close(),
  };
}

/** The schema admits only known types; this keeps the switch exhaustive as types are added. */
function unknownSinkType(sink: never): never {
  throw new Error(`no sink implementation for type ${String((sink as { type?: unknown }).type)}`);
}
