import type * as grpc from '@grpc/grpc-js';
import type { GrpcSourceConfig } from '../config/schema.js';
import type { FalcoEvent } from '../events/falco-event.js';
import { fromGrpcResponse } from '../events/grpc-response.js';
import { describeGrpcError } from '../grpc/describe-grpc-error.js';
import type { FalcoResponse, FalcoVersionResponse } from '../grpc/falco-proto.js';
import { type GrpcRuntime, loadGrpcRuntime } from '../grpc/grpc-runtime.js';
import { checkTlsFiles } from '../grpc/tls-files.js';
import { type Logger, LogLimiter } from '../logging/logger.js';
import type { ComponentMetrics, PerchMetrics } from '../metrics/perch-metrics.js';
import { nextDelay } from '../util/backoff.js';
import { EventFeed } from '../util/event-feed.js';
import type { Observable } from '../util/rx.js';
import type { Source, SourceStatus } from './source.js';

const VERSION_DEADLINE_MS = 5000;

type StreamCall = grpc.ClientDuplexStream<object, FalcoResponse> | grpc.ClientReadableStream<FalcoResponse>;

/**
 * Falco's legacy gRPC output (Falco ≤ 0.43): `sub` on one long stream, nudged with an empty request
 * whenever it has been quiet (Falco's server sends nothing until asked), or `get` polling. Reconnects
 * forever with capped exponential backoff and jitter; Falco pops each alert from its queue as it
 * writes it, so a reconnect neither loses what was delivered nor receives it again.
 */
export class GrpcSource implements Source {
  readonly id: string;
  private readonly feed = new EventFeed<FalcoEvent>();
  readonly events$: Observable<FalcoEvent> = this.feed.events$;
  private readonly metrics: ComponentMetrics;
  private readonly limiter = new LogLimiter(60_000);
  private grpc?: GrpcRuntime;
  private outputs?: grpc.Client;
  private version?: grpc.Client;
  private call?: StreamCall;
  private timers = new Set<NodeJS.Timeout>();
  private attempt = 0;
  private stopped = false;
  private state: SourceStatus = { up: false, detail: 'not started' };
  private falcoVersion?: string;
  private reconnectPending = false;

  constructor(
    private readonly config: GrpcSourceConfig,
    private readonly perchMetrics: PerchMetrics,
    private readonly log: Logger,
  ) {
    this.id = `grpc:${config.address}`;
    this.metrics = perchMetrics.component('source', this.id);
  }

  async start(): Promise<void> {
    if (this.config.tls && !this.config.address.startsWith('unix:')) {
      const problems = checkTlsFiles(this.config.tls, 'sources.grpc.tls');
      if (problems.length > 0) throw new Error(`gRPC source: ${problems.join('; ')}`);
    }
    this.grpc = await loadGrpcRuntime();
    const { proto, channelCredentials, channelOptions } = this.grpc;
    const credentials = channelCredentials(this.config.address, this.config.tls);
    const options = channelOptions(this.config.tls);
    this.outputs = new proto.outputs(this.config.address, credentials, options);
    this.version = new proto.version(this.config.address, credentials, options);
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.call?.cancel();
    this.outputs?.close();
    this.version?.close();
    this.setState({ up: false, detail: 'stopped' });
    this.feed.complete();
  }

  status(): SourceStatus {
    return this.state;
  }

  private connect(): void {
    if (this.stopped || !this.version) return;
    this.setState({ up: false, detail: `connecting to ${this.config.address}` });
    const deadline = new Date(Date.now() + VERSION_DEADLINE_MS);
    // Asking for the version first proves the connection and tells the operator which Falco this is.
    const client = this.version as grpc.Client & {
      version(
        request: object,
        options: grpc.CallOptions,
        callback: grpc.requestCallback<FalcoVersionResponse>,
      ): void;
    };
    client.version({}, { deadline }, (err, response) => {
      if (this.stopped) return;
      if (err || !response) return this.retry(err ?? new Error('empty version response'));
      this.onVersion(response);
      this.openStream();
      // The version answer proved the connection; an idle sub stream may not send headers for a while.
      this.onConnected();
    });
  }

  private onVersion(response: FalcoVersionResponse): void {
    const version = response.version || 'unknown';
    if (version !== this.falcoVersion) {
      this.falcoVersion = version;
      this.log.info(
        { source: this.id, falcoVersion: version, engineVersion: response.engine_version },
        'connected to Falco',
      );
      if ((response.major ?? 0) === 0 && (response.minor ?? 0) >= 43) {
        this.log.warn(
          { source: this.id, falcoVersion: version },
          'Falco 0.43 deprecates its gRPC output and 0.44 removes it: plan the move to http_output (Perch takes it on the same port)',
        );
      }
    }
  }

  private openStream(): void {
    if (this.stopped || !this.outputs) return;
    const client = this.outputs as grpc.Client & {
      sub(): grpc.ClientDuplexStream<object, FalcoResponse>;
      get(request: object): grpc.ClientReadableStream<FalcoResponse>;
    };
    if (this.config.mode === 'get') {
      this.poll(client);
      return;
    }
    const call = client.sub();
    this.call = call;
    let quiet = true;
    call.write({});
    const nudge = setInterval(() => {
      // Falco's server only looks at its queue again after a client message: ask whenever it went quiet.
      if (quiet) call.write({});
      quiet = true;
    }, this.config.pollInterval);
    this.timers.add(nudge as unknown as NodeJS.Timeout);
    call.on('data', (response: FalcoResponse) => {
      quiet = false;
      this.onResponse(response);
    });
    // grpc-js reports a failed call twice (`error`, then `end`): only the first may start a reconnect,
    // or every restart of Falco would double the streams Perch holds.
    let finished = false;
    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      clearInterval(nudge);
      this.timers.delete(nudge as unknown as NodeJS.Timeout);
      if (this.call === call) this.call = undefined;
      if (!this.stopped)
        this.retry(
          err ??
            Object.assign(new Error('Falco ended the stream'), { code: this.grpc?.grpc.status.UNAVAILABLE }),
        );
    };
    call.on('error', (err) => finish(err));
    call.on('end', () => finish());
  }

  private poll(client: { get(request: object): grpc.ClientReadableStream<FalcoResponse> }): void {
    const call = client.get({});
    this.call = call;
    call.on('metadata', () => this.onConnected());
    call.on('data', (response: FalcoResponse) => this.onResponse(response));
    let failed = false;
    call.on('error', (err) => {
      failed = true;
      if (this.call === call) this.call = undefined;
      if (!this.stopped) this.retry(err);
    });
    call.on('end', () => {
      // After an error grpc-js still ends the call: the retry already owns what happens next.
      if (failed) return;
      if (this.call === call) this.call = undefined;
      this.onConnected();
      this.later(() => this.poll(client), this.config.pollInterval);
    });
  }

  private onConnected(): void {
    this.attempt = 0;
    if (!this.state.up) this.setState({ up: true });
  }

  private onResponse(response: FalcoResponse): void {
    this.onConnected();
    this.metrics.received();
    try {
      this.feed.next(fromGrpcResponse(response));
      this.metrics.sent();
    } catch (err) {
      this.metrics.discarded('malformed');
      const suppressed = this.limiter.admit('malformed');
      if (suppressed >= 0)
        this.log.warn(
          { source: this.id, error: (err as Error).message, suppressed },
          'skipped a malformed gRPC response',
        );
    }
  }

  private retry(err: unknown): void {
    // One reconnect at a time, whatever reported the failure.
    if (this.stopped || this.reconnectPending) return;
    const tls = this.config.tls !== undefined && !this.config.address.startsWith('unix:');
    const { reason, message } = describeGrpcError(err, this.config.address, tls);
    const delay = this.nextDelay();
    this.perchMetrics.grpcReconnects.inc({ address: this.config.address, reason });
    this.setState({ up: false, detail: message });
    const suppressed = this.limiter.admit(`retry:${reason}`);
    if (suppressed >= 0) this.log.warn({ source: this.id, reason, retryInMs: delay, suppressed }, message);
    this.reconnectPending = true;
    this.later(() => {
      this.reconnectPending = false;
      this.connect();
    }, delay);
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private nextDelay(): number {
    return nextDelay(this.attempt++, {
      initialMs: this.config.reconnectInitial,
      maxMs: this.config.reconnectMax,
    });
  }

  private setState(state: SourceStatus): void {
    this.state = state;
    this.perchMetrics.sourceUp.set({ component_id: this.id }, state.up ? 1 : 0);
    this.perchMetrics.grpcConnected.set({ address: this.config.address }, state.up ? 1 : 0);
  }
}
