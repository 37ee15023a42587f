import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

/** A `falco.outputs.response` as proto-loader decodes it with the options below. */
export interface FalcoResponse {
  time?: { seconds?: string | number; nanos?: number } | null;
  /** Enum name; proto-loader gives the first alias, the UPPERCASE one. Absent for Emergency (proto3 zero). */
  priority?: string | number;
  source_deprecated?: string | number;
  rule?: string;
  output?: string;
  output_fields?: Record<string, string>;
  hostname?: string;
  tags?: string[];
  source?: string;
}

/** proto3 leaves zero values off the wire, so with defaults: false any field can be absent. */
export interface FalcoVersionResponse {
  version?: string;
  major?: number;
  minor?: number;
  patch?: number;
  prerelease?: string;
  build?: string;
  engine_minor?: number;
  engine_fields_checksum?: string;
  engine_major?: number;
  engine_patch?: number;
  engine_version?: string;
}

export interface FalcoProto {
  outputs: grpc.ServiceClientConstructor;
  version: grpc.ServiceClientConstructor;
}

let loaded: FalcoProto | undefined;

/**
 * Falco's outputs and version services from proto/. `defaults: false` keeps proto3's absent
 * fields absent, so an Emergency alert (priority 0, never on the wire) is recognisable as such.
 */
export function loadFalcoProto(): FalcoProto {
  if (loaded) return loaded;
  const definition = protoLoader.loadSync(['outputs.proto', 'version.proto'], {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
    includeDirs: [PROTO_DIR],
  });
  const root = grpc.loadPackageDefinition(definition) as unknown as {
    falco: {
      outputs: { service: grpc.ServiceClientConstructor };
      version: { service: grpc.ServiceClientConstructor };
    };
  };
  loaded = { outputs: root.falco.outputs.service, version: root.falco.version.service };
  return loaded;
}
