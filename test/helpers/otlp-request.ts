import { gunzipSync } from 'node:zlib';
import type { RenderedRequest } from '../../src/delivery/destination.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { combineOtlpRequests, type OtlpConfig, otlpDestination } from '../../src/sinks/destinations/otlp.js';
import { decodeLogsRequest, type ReceivedRecord } from '../fakes/otlp-receiver.js';

export interface SentRequest {
  prepared: RenderedRequest;
  resourceLogs: number;
  records: ReceivedRecord[];
}

/** The request an OTLP sink sends for these alerts together, read back by the independent decoder. */
export function sentRecords(alerts: readonly Alert[], config: Partial<OtlpConfig> = {}): SentRequest {
  const destination = otlpDestination({
    endpoint: 'http://collector.example:4318',
    protocol: 'http/protobuf',
    headers: {},
    compression: 'none',
    ...config,
  });
  const combined = combineOtlpRequests(alerts.map((a) => destination.render(a)));
  const prepared = destination.prepare?.(combined, 1) ?? combined;
  const bytes = Buffer.from(prepared.bytes ?? new Uint8Array());
  const body = prepared.headers['content-encoding'] === 'gzip' ? gunzipSync(bytes) : bytes;
  return { prepared, ...decodeLogsRequest(body, prepared.headers['content-type'] ?? '') };
}
