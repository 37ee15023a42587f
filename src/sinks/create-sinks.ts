import type { Writable } from 'node:stream';
import type { OtlpSinkConfig, PerchConfig } from '../config/schema.js';
import { DeliverySink, type DeliverySinkDeps } from '../delivery/delivery-sink.js';
import { Spool } from '../delivery/spool.js';
import type { Priority } from '../events/priority.js';
import { HubSink } from '../hub/hub-sink.js';
import { localNodeName } from '../hub/node-name.js';
import type { Logger } from '../logging/logger.js';
import type { PerchMetrics } from '../metrics/perch-metrics.js';
import { snippet } from '../util/redact.js';
import { AlertmanagerSink } from './alertmanager-sink.js';
import { ConsoleSink } from './console-sink.js';
import { messageDestination } from './destinations/index.js';
import { otlpDestination } from './destinations/otlp.js';
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
      case 'otlp':
        return new DeliverySink(name, sink, otlpSinkDestination(name, sink, metrics, log), deps);
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

/** Partial successes are counted and logged once per answer: the records are gone, a retry would not bring them back. */
function otlpSinkDestination(
  name: string,
  sink: OtlpSinkConfig,
  metrics: PerchMetrics,
  log: Logger,
): ReturnType<typeof otlpDestination> {
  const sinkLog = log.child({ sink: name, destination: 'otlp' });
  return otlpDestination(sink, {
    onPartialSuccess: ({ rejected, message }) => {
      const reason = snippet(message);
      if (rejected === 0) {
        // The spec's way of passing a warning: every record was taken.
        sinkLog.warn({ reason }, 'the OTLP receiver took every record, with a warning');
        return;
      }
      metrics.rejectedRecords.inc({ component_id: name }, rejected);
      sinkLog.warn(
        { rejectedRecords: rejected, reason },
        'the OTLP receiver dropped records of an accepted request; they are not sent again',
      );
    },
  });
}

/** The schema admits only known types; this keeps the switch exhaustive as types are added. */
function unknownSinkType(sink: never): never {
  throw new Error(`no sink implementation for type ${String((sink as { type?: unknown }).type)}`);
}
