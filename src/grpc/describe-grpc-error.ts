/**
 * The gRPC status codes this file tells apart; their numbers are fixed by the gRPC specification
 * (statuscodes.md). Importing grpc-js for them would load it at every start, gRPC in use or not.
 */
const status = { DEADLINE_EXCEEDED: 4, UNIMPLEMENTED: 12, UNAVAILABLE: 14 } as const;

interface GrpcErrorShape {
  code?: number;
  details?: string;
  message?: string;
}

/** A gRPC failure in words an operator can act on, with a short reason for metrics. */
export function describeGrpcError(
  err: unknown,
  address: string,
  tls = false,
): { reason: string; message: string } {
  const e = (err ?? {}) as GrpcErrorShape;
  const details = e.details || e.message || String(err);
  // A server that refuses our client certificate just drops the handshake: grpc-js says "Failed to connect".
  if (tls && e.code === status.UNAVAILABLE && /Failed to connect|Connection dropped before/i.test(details)) {
    return {
      reason: 'tls',
      message: `could not establish mutual TLS with Falco at ${address} (${details.split('(')[0]?.trim()}): Falco refuses a client certificate its grpc.root_certs did not sign, or Perch's sources.grpc.tls.ca did not sign Falco's certificate`,
    };
  }
  if (/certificate|handshake|ssl|tls|alert/i.test(details)) {
    return {
      reason: 'tls',
      message: `TLS with Falco at ${address} failed: ${details}. Check sources.grpc.tls: ca must have signed Falco's server certificate, Falco's grpc.root_certs must have signed cert, and serverName must match Falco's certificate`,
    };
  }
  if (/ENOENT|No such file/i.test(details)) {
    return {
      reason: 'no_socket',
      message: `no socket at ${address}: is Falco running with grpc.enabled and grpc_output.enabled (Falco ≤ 0.43), and is the directory mounted into Perch's pod?`,
    };
  }
  if (/EACCES|permission denied/i.test(details)) {
    return {
      reason: 'permission',
      message: `permission denied on ${address}: Perch's user cannot open Falco's socket`,
    };
  }
  if (e.code === status.UNIMPLEMENTED) {
    return {
      reason: 'unimplemented',
      message: `${address} does not serve falco.outputs.service: Falco 0.44 and later removed gRPC; use http_output instead`,
    };
  }
  if (e.code === status.UNAVAILABLE)
    return { reason: 'unavailable', message: `Falco at ${address} is unavailable: ${details}` };
  if (e.code === status.DEADLINE_EXCEEDED)
    return { reason: 'timeout', message: `Falco at ${address} did not answer in time` };
  return { reason: 'stream_error', message: `the stream from Falco at ${address} failed: ${details}` };
}
