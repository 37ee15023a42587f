import { lstat, mkdir, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { Gauge } from 'prom-client';
import type { GrpcBridgeSinkConfig } from '../config/schema.js';
import { sourceKind } from '../events/falco-event.js';
import { toGrpcResponse } from '../events/grpc-response.js';
import { type Priority, priorityName } from '../events/priority.js';
import type { FalcoResponse, FalcoVersionResponse } from '../grpc/falco-proto.js';
import { loadGrpcRuntime } from '../grpc/grpc-runtime.js';
import { checkTlsFiles } from '../grpc/tls-files.js';
import { type Logger, LogLimiter } from '../logging/logger.js';
import type { ComponentMetrics, PerchMetrics } from '../metrics/perch-metrics.js';
import type { EventAlert } from '../pipeline/alert.js';
import type { EventSink } from './sink.js';
import { BoundedQueue, SubscriberBuffer } from './subscriber-buffer.js';

/**
 * What `falco.version.service/version` answers. The bridge speaks the API of Falco 0.43.0, the
 * last release that had it; `+perch` (semver build metadata) tells a curious client it is not
 * Falco. Perch has no rules engine, so the engine fields stay zero / empty.
 */
export const FALCO_API_VERSION: Readonly<FalcoVersionResponse> = Object.freeze({
  version: '0.43.0+perch',
  major: 0,
  minor: 43,
  patch: 0,
  prerelease: '',
  build: 'perch',
  engine_minor: 0,
  engine_fields_checksum: '',
  engine_major: 0,
  engine_patch: 0,
  engine_version: '',
});

const SUBSCRIBERS_METRIC = 'perch_grpc_bridge_subscribers';
/** flush() waits this long at most: a client that stopped reading must not hold up shutdown. */
const FLUSH_BOUND_MS = 2_000;
/** close() lets streams finish for this long before cutting the connections. */
const CLOSE_GRACE_MS = 1_000;
const DROP_LOG_INTERVAL_MS = 60_000;
const CERTIFICATE_LOAD_MS = 5_000;

type SubCall = grpc.ServerDuplexStream<unknown, FalcoResponse>;

interface Subscriber {
  id: string;
  call: SubCall;
  buffer: SubscriberBuffer<FalcoResponse>;
  /** False once the client half-closed: it gets what is queued, then the stream ends. */
  accepting: boolean;
}

/**
 * Serves Falco's removed gRPC outputs API (Falco ≤ 0.43) from the alerts Perch receives, so that
 * falco-exporter and client-go programs keep working against Falco ≥ 0.44.
 */
export class GrpcBridgeSink implements EventSink {
  readonly feed = 'events';
  readonly minPriority: Priority;
  private readonly counters: ComponentMetrics;
  private readonly subscriberGauge: Gauge<'component_id'>;
  private readonly subscribers = new Set<Subscriber>();
  private readonly backlog: BoundedQueue<FalcoResponse>;
  /** Responses written to at least one client, so `sent` counts alerts, not copies. */
  private readonly delivered = new WeakSet<FalcoResponse>();
  private getClientSeen = false;
  private readonly dropLogs = new LogLimiter(DROP_LOG_INTERVAL_MS);
  private readonly socketPath: string | undefined;
  private server?: grpc.Server;
  private boundAddress?: string;
  private closing = false;
  private subscriberSeq = 0;

  constructor(
    readonly id: string,
    private readonly config: GrpcBridgeSinkConfig,
    metrics: PerchMetrics,
    private readonly log: Logger,
  ) {
    this.minPriority = config.minPriority;
    this.counters = metrics.component('sink', id);
    this.subscriberGauge = subscriberGauge(metrics.registry);
    this.subscriberGauge.set({ component_id: id }, 0);
    this.backlog = new BoundedQueue(config.bufferSize);
    this.socketPath = unixSocketPath(config.listen);
  }

  /** The address clients can dial once started (with the actual port when `listen` asked for port 0). */
  get address(): string | undefined {
    return this.boundAddress;
  }

  async start(): Promise<void> {
    const { listen, tls } = this.config;
    if (this.socketPath) {
      if (tls)
        this.log.warn(
          { sink: this.id },
          'tls is ignored on a unix socket (Falco served it without authentication too)',
        );
      await prepareSocket(this.socketPath);
    } else {
      // Falco had no plaintext TCP mode, and the schema does not insist, so the sink does.
      if (!tls)
        throw new Error(
          `sink ${this.id}: ${listen} is TCP, which is served only with mutual TLS: set tls.ca, tls.cert and tls.key`,
        );
      const problems = checkTlsFiles(tls, `sinks.${this.id}.tls`);
      if (problems.length > 0) throw new Error(`sink ${this.id}: ${problems.join('; ')}`);
    }
    const { grpc, proto, serverCredentials } = await loadGrpcRuntime();
    const server = new grpc.Server();
    server.addService(proto.outputs.service, {
      sub: (call: SubCall) => this.subscribe(call),
      get: (call: grpc.ServerWritableStream<unknown, FalcoResponse>) => this.serveGet(call),
    });
    server.addService(proto.version.service, {
      version: (
        _call: grpc.ServerUnaryCall<unknown, FalcoVersionResponse>,
        done: grpc.sendUnaryData<FalcoVersionResponse>,
      ) => done(null, FALCO_API_VERSION),
    });
    const port = await bind(server, listen, serverCredentials(listen, tls)).catch((err: unknown) => {
      server.forceShutdown();
      throw new Error(`sink ${this.id}: cannot serve on ${listen}: ${(err as Error).message}`);
    });
    this.server = server;
    this.boundAddress = this.socketPath ? listen : `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
    this.log.info(
      { sink: this.id, address: this.boundAddress, mtls: !this.socketPath },
      'serving the Falco gRPC outputs API',
    );
  }

  send(alert: EventAlert): void {
    this.counters.received();
    const response = toGrpcResponse(alert.event, this.config.enrichedFields ? perchFields(alert) : {});
    // Every subscriber gets every alert. Falco popped one shared queue, so two clients split the
    // alerts between them; nobody relied on that, and a second client (a debugging session next to
    // falco-exporter) silently stealing alerts is the surprise a bridge should not reproduce.
    for (const subscriber of this.subscribers) if (subscriber.accepting) subscriber.buffer.offer(response);
    // Overflow only means something once a `get` client exists; sub-only consumers never drain it.
    if (this.backlog.push(response) && this.getClientSeen) this.counters.discarded('get_backlog_full');
  }

  async flush(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, FLUSH_BOUND_MS);
    });
    await Promise.race([Promise.all([...this.subscribers].map((s) => s.buffer.whenIdle())), bound]);
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const subscriber of [...this.subscribers]) {
      this.remove(subscriber);
      endCall(subscriber.call);
    }
    const server = this.server;
    this.server = undefined;
    if (server) await shutdown(server, CLOSE_GRACE_MS);
    if (this.socketPath) await rm(this.socketPath, { force: true });
    if (server)
      this.log.info(
        { sink: this.id, address: this.boundAddress },
        'stopped serving the Falco gRPC outputs API',
      );
  }

  status(): { up: boolean; detail?: string } {
    if (!this.server) return { up: false, detail: this.closing ? 'closed' : 'not listening' };
    return { up: true, detail: `${this.boundAddress}, ${this.subscribers.size} subscriber(s)` };
  }

  private subscribe(call: SubCall): void {
    if (this.closing) {
      endCall(call);
      return;
    }
    this.subscriberSeq += 1;
    const id = `${call.getPeer()}#${this.subscriberSeq}`;
    const subscriber: Subscriber = {
      id,
      call,
      accepting: true,
      buffer: new SubscriberBuffer<FalcoResponse>(call, this.config.bufferSize, {
        dropped: () => this.countDrop(id),
        written: (response) => this.markDelivered(response),
      }),
    };
    this.subscribers.add(subscriber);
    this.subscriberGauge.set({ component_id: this.id }, this.subscribers.size);
    this.log.info({ sink: this.id, subscriber: id }, 'gRPC subscriber connected');

    // Only the first request matters (clients keep sending `{}` while idle); later ones are ignored.
    call.on('data', () => subscriber.buffer.start());
    // A client that half-closes (grpcurl -d '{}') can send no further request; Falco's next Read
    // would fail and end the stream (inferred). The bridge ends it once what is queued is written.
    call.on('end', () => {
      subscriber.accepting = false;
      subscriber.buffer.start();
      void subscriber.buffer.whenIdle().then(() => {
        this.remove(subscriber);
        endCall(call);
      });
    });
    call.on('cancelled', () => this.remove(subscriber));
    call.on('error', (err: Error) => {
      this.log.debug({ sink: this.id, subscriber: id, err }, 'gRPC subscriber stream failed');
      this.remove(subscriber);
    });
    call.on('close', () => this.remove(subscriber));
  }

  private remove(subscriber: Subscriber): void {
    if (!this.subscribers.delete(subscriber)) return;
    subscriber.buffer.close();
    this.subscriberGauge.set({ component_id: this.id }, this.subscribers.size);
    this.log.info({ sink: this.id, subscriber: subscriber.id }, 'gRPC subscriber disconnected');
  }

  /**
   * Falco's `get`: everything queued since the previous call, then OK. The backlog is bounded by
   * bufferSize, so writing it in one go bounds memory without waiting for 'drain'.
   */
  private serveGet(call: grpc.ServerWritableStream<unknown, FalcoResponse>): void {
    this.getClientSeen = true;
    for (const response of this.backlog.drain()) {
      this.markDelivered(response);
      call.write(response);
    }
    call.end();
  }

  private markDelivered(response: FalcoResponse): void {
    if (this.delivered.has(response)) return;
    this.delivered.add(response);
    this.counters.sent();
  }

  private countDrop(subscriberId: string): void {
    this.counters.discarded('subscriber_buffer_full');
    const suppressed = this.dropLogs.admit(subscriberId);
    if (suppressed < 0) return;
    this.log.warn(
      {
        sink: this.id,
        subscriber: subscriberId,
        droppedSinceLastLog: suppressed + 1,
        bufferSize: this.config.bufferSize,
      },
      'gRPC subscriber reads too slowly: dropping its oldest alerts',
    );
  }
}

/** Pod context under a `perch.` prefix: Falco field names never start with it. Only fields with values. */
function perchFields(alert: EventAlert): Record<string, string> {
  const pod = alert.enrichment.pod;
  const checks = [...new Set(pod?.posture.violations.map((v) => v.check) ?? [])];
  const fields: Record<string, string | undefined> = {
    'perch.namespace': pod?.namespace,
    'perch.pod': pod?.pod,
    'perch.workload': pod ? `${pod.workload.kind}/${pod.workload.name}` : undefined,
    'perch.isolation': pod?.isolation,
    'perch.runtime_class': pod?.runtimeClass,
    'perch.handler': pod?.handler,
    'perch.pss_level': pod?.posture.level,
    'perch.pss_violations': checks.length > 0 ? checks.join(',') : undefined,
    'perch.enrichment': alert.enrichment.outcome,
    'perch.priority': alert.priority !== alert.event.priority ? priorityName(alert.priority) : undefined,
    'perch.reasons': alert.reasons.length > 0 ? alert.reasons.join('; ') : undefined,
    // `source` stays what Falco wrote (nothing, before 0.30); the kind Perch infers goes beside it.
    'perch.source': alert.event.source ? undefined : sourceKind(alert.event),
  };
  const present: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) if (value) present[key] = value;
  return present;
}

function subscriberGauge(registry: PerchMetrics['registry']): Gauge<'component_id'> {
  const existing = registry.getSingleMetric(SUBSCRIBERS_METRIC);
  if (existing) return existing as Gauge<'component_id'>;
  return new Gauge({
    name: SUBSCRIBERS_METRIC,
    help: 'Open sub streams of the gRPC bridge (falco-exporter and other Falco gRPC clients).',
    labelNames: ['component_id'] as const,
    registers: [registry],
  });
}

/** `unix:///abs/path` → `/abs/path`, `unix:rel/path` → `rel/path`; undefined for TCP. */
function unixSocketPath(listen: string): string | undefined {
  if (listen.startsWith('unix://')) return listen.slice('unix://'.length);
  if (listen.startsWith('unix:')) return listen.slice('unix:'.length);
  return undefined;
}

/**
 * Like Falco, creates the socket's directory. A socket left by a crashed run is removed; one that
 * still answers, or a path that is not a socket, is refused rather than deleted.
 */
async function prepareSocket(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const stats = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!stats) return;
  if (!stats.isSocket()) throw new Error(`${path} exists and is not a socket; not replacing it`);
  if (await answers(path)) throw new Error(`${path} is in use: another server answers on it`);
  await rm(path, { force: true });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function endCall(call: SubCall): void {
  if (!call.writableEnded && !call.destroyed) call.end();
}

/** Resolves with the bound port once clients can connect. */
async function bind(
  server: grpc.Server,
  listen: string,
  credentials: grpc.ServerCredentials,
): Promise<number> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, credentials, (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  await certificatesLoaded(credentials, CERTIFICATE_LOAD_MS);
  return port;
}

/**
 * grpc-js reads the certificate files asynchronously after bind and until then drops every TLS
 * connection ("unloaded credentials"); waiting here makes a started sink a serving one.
 */
function certificatesLoaded(credentials: grpc.ServerCredentials, timeoutMs: number): Promise<void> {
  if (!credentials._isSecure() || credentials._getSecureContextOptions()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const watcher = (options: unknown) => {
      if (!options) return;
      clearTimeout(timer);
      credentials._removeWatcher(watcher);
      resolve();
    };
    const timer = setTimeout(() => {
      credentials._removeWatcher(watcher);
      reject(new Error(`the TLS files were not loaded within ${timeoutMs} ms`));
    }, timeoutMs);
    credentials._addWatcher(watcher);
  });
}

/** Graceful first (streams finish with OK), then cut whatever is still open. */
function shutdown(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
