// A stand-in for Falco 0.43's gRPC server (shared reference falco.md §10.6–10.7), serving the real
// proto/ files with @grpc/grpc-js. It reproduces what a client can observe:
//
// - one queue per server (Falco's process-wide singleton); `get` and `sub` both pop from it, so
//   concurrent clients split the alerts, each alert reaching exactly one of them;
// - `get` writes one response per completed write and ends with OK when the queue is empty;
// - `sub` writes nothing until the client sends a request; after each read or write completion it
//   pops: a response is written, an empty queue makes it wait for the next client message (a
//   response pushed meanwhile is not delivered until then);
// - proto3 as gRPC C++ encodes it: zero values are left off the wire, so an Emergency alert has no
//   `priority`, a syscall alert no `source_deprecated`, and Falco 0.43.1's version no `major`;
// - `unix://` binds without authentication, any other address requires mutual TLS;
// - stop() dies like a killed process (connections dropped, socket file left), shutdown() stops like
//   a SIGTERMed Falco (streams finish with OK at their next completion).
//
// API: new FakeFalcoGrpc({ address, tls?, version?, keepQueueOnRestart? }); start() → address;
// stop(), shutdown(), restart(); push(...responses), pushEvent(...jsonAlerts); queueLength, stats,
// address; waitFor(predicate). A typed client is in fake-falco-grpc-client.ts.

import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { toGrpcResponse } from '../../src/events/grpc-response.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { type FalcoResponse, type FalcoVersionResponse, loadFalcoProto } from '../../src/grpc/falco-proto.js';

/** `falco.outputs.request`: empty (tags were never supported). */
export type FalcoRequest = Record<string, never>;

/** What Falco 0.43.1 answers on `falco.version.service/version`. The checksum is made up. */
export const FALCO_0_43_1_VERSION: FalcoVersionResponse = {
  version: '0.43.1',
  major: 0,
  minor: 43,
  patch: 1,
  prerelease: '',
  build: '',
  engine_version: '0.50.0',
  engine_major: 0,
  engine_minor: 50,
  engine_patch: 0,
  engine_fields_checksum: createHash('sha256').update('perch fake falco 0.43.1 fields').digest('hex'),
};

export interface FakeFalcoGrpcOptions {
  /** `unix:///dir/falco.sock` (insecure, parent directory created) or `127.0.0.1:0` / `host:port` (mTLS). */
  address: string;
  /** PEM files for TCP: Falco's grpc.root_certs, cert_chain and private_key. Required unless unix. */
  tls?: { ca: Buffer; cert: Buffer; key: Buffer };
  /** Overrides of the version answer (default: Falco 0.43.1). */
  version?: Partial<FalcoVersionResponse>;
  /** Keep queued alerts across restart(). Default false: a restarted Falco starts with an empty queue. */
  keepQueueOnRestart?: boolean;
}

export interface FakeFalcoGrpcStats {
  /** `sub` streams opened since construction. */
  subStreams: number;
  /** `sub` streams open now (ended by cancel, half-close, shutdown). */
  activeSubStreams: number;
  /** `get` calls received since construction. */
  getCalls: number;
  /** Requests the server read on `sub` streams (Falco's Read completions, not bytes received). */
  clientMessages: number;
  /** Responses whose write completed, over `get` and `sub`. */
  written: number;
  versionCalls: number;
}

/** The numeric 0 of each enum under all its aliases: proto3 never puts these on the wire. */
const PRIORITY_ZERO = new Set<string | number>([0, 'EMERGENCY', 'emergency', 'Emergency']);
const SOURCE_ZERO = new Set<string | number>([0, 'SYSCALL', 'syscall', 'Syscall']);

/** `falco::schema::source_Parse` (exact names, aliases included), PLUGIN for anything else. */
const SOURCE_ENUM = new Map<string, string>([
  ['SYSCALL', 'SYSCALL'],
  ['syscall', 'SYSCALL'],
  ['Syscall', 'SYSCALL'],
  ['K8S_AUDIT', 'K8S_AUDIT'],
  ['k8s_audit', 'K8S_AUDIT'],
  ['K8s_audit', 'K8S_AUDIT'],
  ['K8S_audit', 'K8S_AUDIT'],
  ['INTERNAL', 'INTERNAL'],
  ['internal', 'INTERNAL'],
  ['Internal', 'INTERNAL'],
  ['PLUGIN', 'PLUGIN'],
  ['plugin', 'PLUGIN'],
  ['Plugin', 'PLUGIN'],
]);

/** The `source_deprecated` value Falco's outputs_grpc.cpp derives from `source`. */
export function deprecatedSource(source: string | undefined): string {
  return SOURCE_ENUM.get(source ?? '') ?? 'PLUGIN';
}

/**
 * The response as gRPC C++ puts it on the wire: proto3 scalars equal to their zero value are
 * omitted (protobufjs would encode them when set explicitly, which Falco never does).
 */
export function toWireResponse(response: FalcoResponse): FalcoResponse {
  const wire: FalcoResponse = {};
  if (response.time) {
    const time: NonNullable<FalcoResponse['time']> = {};
    if (response.time.seconds !== undefined && String(response.time.seconds) !== '0')
      time.seconds = response.time.seconds;
    if (response.time.nanos) time.nanos = response.time.nanos;
    wire.time = time;
  }
  if (response.priority !== undefined && !PRIORITY_ZERO.has(response.priority))
    wire.priority = response.priority;
  if (response.source_deprecated !== undefined && !SOURCE_ZERO.has(response.source_deprecated)) {
    wire.source_deprecated = response.source_deprecated;
  }
  if (response.rule) wire.rule = response.rule;
  if (response.output) wire.output = response.output;
  if (response.output_fields && Object.keys(response.output_fields).length > 0)
    wire.output_fields = response.output_fields;
  if (response.hostname) wire.hostname = response.hostname;
  if (response.tags && response.tags.length > 0) wire.tags = response.tags;
  if (response.source) wire.source = response.source;
  return wire;
}

function toWireVersion(version: FalcoVersionResponse): Partial<FalcoVersionResponse> {
  const wire: Partial<FalcoVersionResponse> = {};
  for (const [key, value] of Object.entries(version) as [keyof FalcoVersionResponse, string | number][]) {
    if (value !== '' && value !== 0) Object.assign(wire, { [key]: value });
  }
  return wire;
}

function unixPath(address: string): string | undefined {
  if (address.startsWith('unix://')) return address.slice('unix://'.length);
  if (address.startsWith('unix:')) return address.slice('unix:'.length);
  return undefined;
}

type SubCall = grpc.ServerDuplexStream<FalcoRequest, FalcoResponse>;
type GetCall = grpc.ServerWritableStream<FalcoRequest, FalcoResponse>;

/** Falco 0.43's gRPC server, in process. See the file header for the behaviour reproduced. */
export class FakeFalcoGrpc {
  private server?: grpc.Server;
  private listener?: Server;
  private readonly sockets = new Set<Socket>();
  private queue: FalcoResponse[] = [];
  /** Falco's `is_running()`: false once shutdown() asked streams to finish. */
  private running = false;
  private bound?: string;
  private readonly versionResponse: FalcoVersionResponse;
  private readonly listeners = new Set<() => void>();
  private readonly openSubs = new Set<SubCall>();
  private readonly counters: FakeFalcoGrpcStats = {
    subStreams: 0,
    activeSubStreams: 0,
    getCalls: 0,
    clientMessages: 0,
    written: 0,
    versionCalls: 0,
  };

  constructor(private readonly options: FakeFalcoGrpcOptions) {
    if (unixPath(options.address) === undefined && !options.tls) {
      throw new Error(`Falco serves ${options.address} only with mutual TLS: pass tls { ca, cert, key }`);
    }
    this.versionResponse = { ...FALCO_0_43_1_VERSION, ...options.version };
  }

  /** Binds and serves; resolves to the address a client should dial (`127.0.0.1:PORT` for port 0). */
  async start(): Promise<string> {
    if (this.server) throw new Error('FakeFalcoGrpc already started');
    const address = this.bound ?? this.options.address;
    const path = unixPath(address);
    let credentials: grpc.ServerCredentials;
    if (path !== undefined) {
      // Falco creates the socket's directory; gRPC core unlinks a stale socket file before binding.
      mkdirSync(dirname(path), { recursive: true });
      rmSync(path, { force: true });
      credentials = grpc.ServerCredentials.createInsecure();
    } else {
      const tls = this.options.tls as NonNullable<FakeFalcoGrpcOptions['tls']>;
      // GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY.
      credentials = grpc.ServerCredentials.createSsl(
        tls.ca,
        [{ cert_chain: tls.cert, private_key: tls.key }],
        true,
      );
    }
    const server = new grpc.Server();
    this.addServices(server);
    // The fake owns the listening socket and every connection, so stop() can drop them the way a
    // dying process does (grpc-js forceShutdown would send RST_STREAM CANCEL and GOAWAY instead).
    const injector = server.createConnectionInjector(credentials);
    const listener = createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      injector.injectConnection(socket);
    });
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      const listening = () => {
        listener.off('error', reject);
        resolve();
      };
      if (path !== undefined) listener.listen(path, listening);
      else listener.listen(Number(address.slice(colon + 1)), host.replace(/^\[(.*)\]$/, '$1'), listening);
    });
    this.server = server;
    this.listener = listener;
    this.running = true;
    this.bound = path !== undefined ? address : `${host}:${(listener.address() as AddressInfo).port}`;
    this.notify();
    return this.bound;
  }

  /** The address start() bound (stable across restart()), or undefined before the first start(). */
  get address(): string | undefined {
    return this.bound;
  }

  /**
   * Stops at once, like a Falco process that dies (crash, SIGKILL, OOM kill): every connection is
   * closed under the client, with no HTTP/2 GOAWAY and no status for the open streams, and a unix
   * socket file stays behind. Queued alerts stay until restart() (which drops them unless
   * keepQueueOnRestart).
   */
  async stop(): Promise<void> {
    const server = this.server;
    const listener = this.listener;
    if (!server || !listener) return;
    this.server = undefined;
    this.listener = undefined;
    this.running = false;
    // A killed process leaves its socket file behind (clients then get ECONNREFUSED, not ENOENT),
    // but Node unlinks it on close: keep a hard link and put it back afterwards.
    const path = this.bound === undefined ? undefined : unixPath(this.bound);
    const keep = path === undefined ? undefined : `${path}.stale`;
    if (path !== undefined && keep !== undefined) linkSync(path, keep);
    const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    server.forceShutdown();
    this.openSubs.clear();
    this.counters.activeSubStreams = 0;
    this.notify();
    await closed;
    if (path !== undefined && keep !== undefined) renameSync(keep, path);
  }

  /**
   * Falco's graceful stop (SIGTERM): `is_running()` turns false, the server stops accepting
   * connections and sends GOAWAY; each stream finishes with OK at its next completion (for an idle
   * `sub`, the next client message). Resolves when every call has finished, which never happens
   * while a `sub` client stays silent (Falco then waits until it is killed): call stop() for that.
   */
  async shutdown(): Promise<void> {
    const server = this.server;
    const listener = this.listener;
    if (!server || !listener) return;
    this.running = false;
    this.notify();
    const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    await closed;
    if (this.server === server) {
      this.server = undefined;
      this.listener = undefined;
    }
    this.notify();
  }

  /** stop() then start() on the same address and port; the queue is emptied unless keepQueueOnRestart. */
  async restart(): Promise<void> {
    await this.stop();
    if (!this.options.keepQueueOnRestart) this.queue = [];
    await this.start();
  }

  /** Enqueues responses as Falco's outputs_grpc would (source_deprecated derived from source when absent). */
  push(...responses: FalcoResponse[]): void {
    for (const response of responses) {
      const copy = structuredClone(response);
      if (copy.source_deprecated === undefined) copy.source_deprecated = deprecatedSource(copy.source);
      this.queue.push(copy);
    }
    // Deliberately no wake-up: a waiting sub only looks at the queue after its next client message.
    this.notify();
  }

  /** Enqueues Falco JSON alerts, converted the way Falco fills its gRPC response. */
  pushEvent(...jsonAlerts: string[]): void {
    this.push(...jsonAlerts.map((json) => toGrpcResponse(parseFalcoJson(json))));
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /** A snapshot of the counters. */
  get stats(): FakeFalcoGrpcStats {
    return { ...this.counters };
  }

  /** Resolves once `predicate(this)` holds, re-checked on every state change; rejects after timeoutMs. */
  waitFor(predicate: (fake: FakeFalcoGrpc) => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!predicate(this)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`FakeFalcoGrpc: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private addServices(server: grpc.Server): void {
    const proto = loadFalcoProto();
    const outputs = proto.outputs.service;
    const version = proto.version.service;
    const outputsMethod = (name: 'sub' | 'get') => {
      const method = outputs[name];
      if (!method) throw new Error(`proto/outputs.proto has no ${name}`);
      return {
        ...method,
        responseSerialize: (value: FalcoResponse) => method.responseSerialize(toWireResponse(value)),
      };
    };
    const versionMethod = version.version;
    if (!versionMethod) throw new Error('proto/version.proto has no version');
    server.addService(
      { sub: outputsMethod('sub'), get: outputsMethod('get') },
      { sub: (call: SubCall) => this.serveSub(call), get: (call: GetCall) => this.serveGet(call) },
    );
    server.addService(
      {
        version: {
          ...versionMethod,
          responseSerialize: (value: FalcoVersionResponse) =>
            versionMethod.responseSerialize(toWireVersion(value)),
        },
      },
      {
        version: (
          _call: grpc.ServerUnaryCall<FalcoRequest, FalcoVersionResponse>,
          callback: grpc.sendUnaryData<FalcoVersionResponse>,
        ) => {
          this.counters.versionCalls += 1;
          this.notify();
          callback(null, this.versionResponse);
        },
      },
    );
  }

  /** request_stream_context: pop, write, wait for the write, repeat; Finish(OK) when empty. */
  private serveGet(call: GetCall): void {
    this.counters.getCalls += 1;
    this.notify();
    let done = false;
    call.on('cancelled', () => {
      done = true;
    });
    const process = (): void => {
      if (done) return;
      const response = this.running ? this.queue.shift() : undefined;
      if (!response) {
        done = true;
        call.end();
        this.notify();
        return;
      }
      this.notify();
      call.write(response, (err?: Error | null) => {
        if (err || done) return;
        this.counters.written += 1;
        this.notify();
        process();
      });
    };
    process();
  }

  /**
   * request_bidi_context: Read first; after each read or write completion, pop and write, or post
   * another Read when the queue is empty. Requests arriving during writes wait in the transport and
   * are read one by one afterwards, as gRPC C++ does with one outstanding Read.
   */
  private serveSub(call: SubCall): void {
    this.counters.subStreams += 1;
    this.counters.activeSubStreams += 1;
    this.openSubs.add(call);
    let done = false;
    let reading = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      reading = false;
      if (this.openSubs.delete(call)) this.counters.activeSubStreams -= 1;
      this.notify();
    };
    const process = (): void => {
      if (done) return;
      if (!this.running) {
        // Falco's is_running() is false after shutdown(): Finish(OK).
        call.end();
        finish();
        return;
      }
      const response = this.queue.shift();
      if (response) {
        this.notify();
        call.write(response, (err?: Error | null) => {
          if (err || done) return;
          this.counters.written += 1;
          this.notify();
          process();
        });
        return;
      }
      reading = true;
      read();
    };
    let halfClosed = false;
    const read = (): void => {
      if (!reading || done) return;
      const request: unknown = call.read();
      if (request !== null) {
        reading = false;
        this.counters.clientMessages += 1;
        this.notify();
        process();
      } else if (halfClosed) {
        // The client half-closed and Falco's Read fails: Falco restarts the context, dropping the
        // call without a status, and gRPC cancels it (inferred from grpc_request_context.cpp).
        call.emit('error', { code: grpc.status.CANCELLED, details: 'Cancelled' });
        finish();
      }
    };
    call.on('readable', read);
    call.on('end', () => {
      halfClosed = true;
      read();
    });
    call.on('cancelled', finish);
    call.on('error', finish);
    call.on('close', finish);
    this.notify();
    reading = true;
    read();
  }
}
