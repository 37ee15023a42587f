// A typed grpc-js client for Falco's outputs and version services (proto/ via loadFalcoProto()),
// for tests that talk to FakeFalcoGrpc, or to a real Falco ≤ 0.43, directly.

import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { type FalcoResponse, type FalcoVersionResponse, loadFalcoProto } from '../../src/grpc/falco-proto.js';
import type { FalcoRequest } from './fake-falco-grpc.js';

export interface FalcoGrpcClient {
  /** The underlying channel owner, made from loadFalcoProto().outputs. */
  readonly client: grpc.Client;
  /** `falco.outputs.service/sub`: write `{}` to make Falco look at its queue. */
  sub(options?: grpc.CallOptions): grpc.ClientDuplexStream<FalcoRequest, FalcoResponse>;
  /** `falco.outputs.service/get`: what is queued now, then OK. */
  get(options?: grpc.CallOptions): grpc.ClientReadableStream<FalcoResponse>;
  /** `falco.version.service/version`; proto3 zero fields (major 0, empty build…) are absent. */
  version(options?: grpc.CallOptions): Promise<Partial<FalcoVersionResponse>>;
  close(): void;
}

function method(service: grpc.ServiceDefinition, name: string): grpc.MethodDefinition<object, object> {
  const definition = service[name];
  if (!definition) throw new Error(`the Falco proto has no method ${name}`);
  return definition;
}

/**
 * One channel to `address` serving both services, like client-go. Credentials: insecure for
 * `unix://` (the default), mutualTls() for TCP.
 */
export function falcoClient(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  channelOptions: grpc.ChannelOptions = {},
): FalcoGrpcClient {
  const proto = loadFalcoProto();
  const client = new proto.outputs(address, credentials, channelOptions);
  const sub = method(proto.outputs.service, 'sub');
  const get = method(proto.outputs.service, 'get');
  const version = method(proto.version.service, 'version');
  return {
    client,
    sub: (options = {}) =>
      client.makeBidiStreamRequest<FalcoRequest, FalcoResponse>(
        sub.path,
        sub.requestSerialize,
        (buffer) => sub.responseDeserialize(buffer) as FalcoResponse,
        options,
      ),
    get: (options = {}) =>
      client.makeServerStreamRequest<FalcoRequest, FalcoResponse>(
        get.path,
        get.requestSerialize,
        (buffer) => get.responseDeserialize(buffer) as FalcoResponse,
        {},
        options,
      ),
    version: (options = {}) =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest<FalcoRequest, Partial<FalcoVersionResponse>>(
          version.path,
          version.requestSerialize,
          (buffer) => version.responseDeserialize(buffer) as Partial<FalcoVersionResponse>,
          {},
          options,
          (err, response) => (err ? reject(err) : resolve(response ?? {})),
        );
      }),
    close: () => client.close(),
  };
}

/** Client credentials for Falco's mandatory mTLS (PEM buffers). Omit cert and key to present none. */
export function mutualTls(ca: Buffer, cert?: Buffer, key?: Buffer): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(ca, key ?? null, cert ?? null);
}

/** The test PKI in test/fixtures/certs (see its README). */
export function testCerts(): Record<
  'ca' | 'otherCa' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'rogueCert' | 'rogueKey',
  Buffer
> {
  const read = (name: string) => readFileSync(new URL(`../fixtures/certs/${name}`, import.meta.url));
  return {
    ca: read('ca.crt'),
    otherCa: read('other-ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    rogueCert: read('rogue-client.crt'),
    rogueKey: read('rogue-client.key'),
  };
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number';
}

export interface StreamOutcome {
  responses: FalcoResponse[];
  /** The final status (OK or the error's). */
  status: grpc.StatusObject;
  /** The error event, when the status was not OK. */
  error?: grpc.ServiceError;
}

/** Collects a client stream until its final status. */
export function collectStream(
  stream: grpc.ClientReadableStream<FalcoResponse> | grpc.ClientDuplexStream<FalcoRequest, FalcoResponse>,
): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    const responses: FalcoResponse[] = [];
    let error: grpc.ServiceError | undefined;
    stream.on('data', (response: FalcoResponse) => responses.push(response));
    stream.on('error', (err: unknown) => {
      if (isServiceError(err)) error = err;
    });
    stream.on('status', (status: grpc.StatusObject) => {
      // 'status' can precede the last 'data'/'error' events by a tick.
      setImmediate(() => resolve(error ? { responses, status, error } : { responses, status }));
    });
  });
}
