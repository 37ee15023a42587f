/**
 * OTLP/HTTP bodies from mapped records, with OpenTelemetry's own serializers
 * (@opentelemetry/otlp-transformer): an ExportLogsServiceRequest in protobuf or in OTLP's JSON,
 * and the partial success of an ExportLogsServiceResponse.
 *
 * The packages are loaded on first use, not at start: Perch runs on every node, and a node without
 * an OTLP sink should not pay for them.
 */
import { createRequire } from 'node:module';
import type * as Transformer from '@opentelemetry/otlp-transformer';
import type * as Resources from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { OtlpAttributes, OtlpRecord } from './otlp-mapping.js';

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export const CONTENT_TYPE: Readonly<Record<OtlpProtocol, string>> = Object.freeze({
  'http/protobuf': 'application/x-protobuf',
  'http/json': 'application/json',
});

interface OtlpLibrary {
  transformer: typeof Transformer;
  resources: typeof Resources;
}

let library: OtlpLibrary | undefined;

/** Loads the OpenTelemetry packages once; synchronous, so a destination can be built where sinks are. */
export function otlpLibrary(): OtlpLibrary {
  if (!library) {
    // createRequire: a synchronous, lazy load (the packages ship CommonJS builds).
    const require = createRequire(import.meta.url);
    library = {
      transformer: require('@opentelemetry/otlp-transformer') as typeof Transformer,
      resources: require('@opentelemetry/resources') as typeof Resources,
    };
  }
  return library;
}

const SCOPE = Object.freeze({ name: 'perch' });
const NS_PER_SECOND = 1_000_000_000n;

/** One ExportLogsServiceRequest: records of the same resource share one ResourceLogs, in the order given. */
export function encodeRecords(records: readonly OtlpRecord[], protocol: OtlpProtocol): Uint8Array {
  const { transformer, resources } = otlpLibrary();
  // The serializers group by the Resource object's identity: one object per distinct attribute set.
  const byKey = new Map<string, Resources.Resource>();
  const logRecords = records.map((record): ReadableLogRecord => {
    const key = resourceKey(record.resource);
    let resource = byKey.get(key);
    if (!resource) {
      resource = resources.resourceFromAttributes(record.resource);
      byKey.set(key, resource);
    }
    return {
      hrTime: hrTime(record.timeNs),
      hrTimeObserved: hrTime(record.observedNs),
      severityNumber: record.severityNumber,
      severityText: record.severityText,
      body: record.body,
      resource,
      instrumentationScope: SCOPE,
      attributes: record.attributes,
      droppedAttributesCount: 0,
    };
  });
  const serializer =
    protocol === 'http/json' ? transformer.JsonLogsSerializer : transformer.ProtobufLogsSerializer;
  const body = serializer.serializeRequest(logRecords);
  if (!body) throw new Error(`the OTLP serializer returned nothing for ${records.length} records`);
  return body;
}

export interface PartialSuccess {
  rejected: number;
  message: string;
}

/**
 * The `partial_success` of an answer: undefined when the receiver took everything (no field, or
 * zero rejected and no message, which the spec reads as full success).
 */
export function partialSuccess(body: Uint8Array, protocol: OtlpProtocol): PartialSuccess | undefined {
  if (body.length === 0) return undefined;
  const { transformer } = otlpLibrary();
  const serializer =
    protocol === 'http/json' ? transformer.JsonLogsSerializer : transformer.ProtobufLogsSerializer;
  let response: Transformer.IExportLogsServiceResponse;
  try {
    response = serializer.deserializeResponse(body);
  } catch {
    // An answer that is not an ExportLogsServiceResponse (a proxy's page) says nothing about records.
    return undefined;
  }
  const partial = response?.partialSuccess;
  if (!partial) return undefined;
  const rejected = Number(partial.rejectedLogRecords ?? 0);
  const message = typeof partial.errorMessage === 'string' ? partial.errorMessage : '';
  if ((!Number.isFinite(rejected) || rejected <= 0) && message === '') return undefined;
  return { rejected: Number.isFinite(rejected) && rejected > 0 ? rejected : 0, message };
}

/** Exact: Falco's nanoseconds never pass through a double. */
function hrTime(ns: string): [number, number] {
  const value = BigInt(ns);
  return [Number(value / NS_PER_SECOND), Number(value % NS_PER_SECOND)];
}

function resourceKey(resource: OtlpAttributes): string {
  return JSON.stringify(Object.entries(resource).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
