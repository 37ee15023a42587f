/**
 * OTLP logs over HTTP (OpenTelemetry Collector, Loki 3, Elastic, vendors): every alert becomes
 * one LogRecord (mapping: otlp-mapping.ts), sent to `<endpoint>/v1/logs`.
 *
 * A rendered request carries the mapped records as JSON, not the wire body: that is what waits in
 * the queue and the spool, what several requests are combined from, and it stays readable should
 * the protocol or a header change between runs. `prepare` encodes it (protobuf or OTLP JSON,
 * gzip when configured) just before each attempt, and adds the configured headers then, so a
 * credential in them never reaches the spool.
 */
import { gzipSync } from 'node:zlib';
import type { OtlpSinkConfig } from '../../config/schema.js';
import { defaultClassify, responseDetail } from '../../delivery/classify.js';
import type {
  DeliveryVerdict,
  Destination,
  DestinationResponse,
  RenderedRequest,
} from '../../delivery/destination.js';
import type { Alert } from '../../pipeline/alert.js';
import {
  CONTENT_TYPE,
  encodeRecords,
  type OtlpProtocol,
  otlpLibrary,
  type PartialSuccess,
  partialSuccess,
} from './otlp-encoding.js';
import { alertToRecord, type OtlpRecord } from './otlp-mapping.js';

export type OtlpConfig = Pick<OtlpSinkConfig, 'endpoint' | 'protocol' | 'headers' | 'compression'>;

export interface OtlpOptions {
  /** The receiver took the request but dropped some records (OTLP partial success); called once per answer. */
  onPartialSuccess?(partial: PartialSuccess): void;
}

/** Version of the records body a rendered request carries (spooled, so it must stay readable). */
const RECORDS_VERSION = 1;
const LOGS_PATH = '/v1/logs';

/**
 * The URL requests go to: the endpoint as given when its path already ends in `/v1/logs`,
 * otherwise `/v1/logs` appended to its path, as the OTLP exporter specification does for a base
 * endpoint (`http://collector:4318` → `http://collector:4318/v1/logs`, `https://host/otlp` →
 * `https://host/otlp/v1/logs`). A query string is kept.
 */
export function logsUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (!url.pathname.endsWith(LOGS_PATH)) url.pathname = `${url.pathname.replace(/\/+$/, '')}${LOGS_PATH}`;
  return url.toString();
}

export function otlpDestination(config: OtlpConfig, options: OtlpOptions = {}): Destination {
  // Loaded here, when a sink of this type is built: a misinstalled package shows at start (and in
  // `perch check`), not at the first alert.
  otlpLibrary();
  const url = logsUrl(config.endpoint);
  const protocol: OtlpProtocol = config.protocol;
  const gzip = config.compression === 'gzip';
  return {
    kind: 'otlp',
    // A collector takes thousands of records a second; 429/Retry-After still slows Perch down.
    defaultRate: { perSecond: 50, burst: 100 },
    batch: { combine: combineOtlpRequests },
    render(alert: Alert): RenderedRequest {
      return recordsRequest(url, [alertToRecord(alert)]);
    },
    prepare(request: RenderedRequest): RenderedRequest {
      const encoded = encodeRecords(readRecords(request.body), protocol);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(config.headers)) headers[name] = value.reveal();
      headers['content-type'] = CONTENT_TYPE[protocol];
      if (gzip) headers['content-encoding'] = 'gzip';
      return { url: request.url, body: '', headers, bytes: gzip ? gzipSync(encoded) : encoded };
    },
    classify(response: DestinationResponse): DeliveryVerdict {
      if (response.status >= 200 && response.status < 300) {
        const partial = partialSuccess(response.bytes ?? Buffer.from(response.body, 'utf8'), protocol);
        if (partial) options.onPartialSuccess?.(partial);
        return { kind: 'delivered' };
      }
      return defaultClassify(response, Date.now(), errorDetail(response));
    },
  };
}

/** Requests for the same URL as one: their records in order, still grouped by resource when encoded. */
export function combineOtlpRequests(requests: readonly RenderedRequest[]): RenderedRequest {
  const first = requests[0];
  if (!first) throw new Error('combineOtlpRequests needs at least one request');
  return recordsRequest(
    first.url,
    requests.flatMap((r) => readRecords(r.body)),
  );
}

function recordsRequest(url: string, records: readonly OtlpRecord[]): RenderedRequest {
  return { url, headers: {}, body: JSON.stringify({ v: RECORDS_VERSION, records }) };
}

function readRecords(body: string): OtlpRecord[] {
  const parsed = JSON.parse(body) as { v?: unknown; records?: unknown };
  if (parsed.v !== RECORDS_VERSION || !Array.isArray(parsed.records)) {
    throw new Error(`expected OTLP records of version ${RECORDS_VERSION}, got version ${String(parsed.v)}`);
  }
  return parsed.records as OtlpRecord[];
}

/**
 * OTLP receivers explain a failure in a google.rpc.Status: `message` in JSON; in protobuf the
 * message is the readable part of the body, which the default detail already shows.
 */
function errorDetail(response: DestinationResponse): string {
  try {
    const status = JSON.parse(response.body) as { message?: unknown };
    if (typeof status.message === 'string' && status.message !== '') return responseDetail(status.message);
  } catch {
    // Not JSON: the body as text.
  }
  return responseDetail(response.body);
}
