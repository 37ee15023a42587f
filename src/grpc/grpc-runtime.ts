/**
 * grpc-js, proto-loader and the Falco service definitions cost about 15 MB of memory and 150 ms
 * to load, on every node. Only a gRPC source or the gRPC bridge needs them, so those load them
 * here when they start rather than at import.
 */
export async function loadGrpcRuntime() {
  const [grpc, { loadFalcoProto }, credentials] = await Promise.all([
    import('@grpc/grpc-js'),
    import('./falco-proto.js'),
    import('./tls-credentials.js'),
  ]);
  return { grpc, proto: loadFalcoProto(), ...credentials };
}

export type GrpcRuntime = Awaited<ReturnType<typeof loadGrpcRuntime>>;
