/**
 * An OTLP/HTTP logs receiver on 127.0.0.1 for tests. It decodes every request with code generated
 * from OpenTelemetry's .proto files (protobufjs, shipped by @opentelemetry/otlp-proto-exporter-base),
 * independent of the serializer Perch sends with, and answers with scripted replies, which can carry
 * a partial success encoded the same independent way.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { RestartableServer } from './restartable-server.js';

interface GeneratedMessage {
  decode(bytes: Uint8Array): object;
  fromObject(value: object): object;
  toObject(message: object, options: object): unknown;
  encode(message: object): { finish(): Uint8Array };
}

interface GeneratedRoot {
  opentelemetry: {
    proto: {
      collector: {
        logs: {
          v1: { ExportLogsServiceRequest: GeneratedMessage; ExportLogsServiceResponse: GeneratedMessage };
        };
      };
    };
  };
}

const generated = createRequire(import.meta.url)(
  '@opentelemetry/otlp-proto-exporter-base/build/src/generated/root.js',
) as GeneratedRoot;
const { ExportLogsServiceRequest, ExportLogsServiceResponse } =
  generated.opentelemetry.proto.collector.logs.v1;

export type DecodedValue = string | number | boolean | DecodedValue[] | undefined;

/** One LogRecord as received, attributes flattened to plain values (int64 as numbers). */
export interface ReceivedRecord {
  resource: Record<string, DecodedValue>;
  /** Index of its ResourceLogs in the request. */
  resourceIndex: number;
  timeNs: string;
  observedNs: string;
  severityNumber: number;
  severityText: string;
  body: DecodedValue;
  attributes: Record<string, DecodedValue>;
}

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  /** The body as it came over the wire (still gzipped when it was). */
  raw: Buffer;
  resourceLogs: number;
  records: ReceivedRecord[];
  answer: number;
}

export type OtlpReply = {
  status: number;
  headers?: Record<string, string>;
  /** Raw answer; default: an empty ExportLogsServiceResponse in the request's encoding. */
  body?: Uint8Array | string;
  /** An ExportLogsServiceResponse with this partial success, in the request's encoding. */
  partialSuccess?: { rejectedLogRecords: number; errorMessage: string };
};

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string;
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface DecodedRequest {
  resourceLogs?: {
    resource?: { attributes?: KeyValue[] };
    scopeLogs?: {
      logRecords?: {
        timeUnixNano?: string;
        observedTimeUnixNano?: string;
        severityNumber?: number;
        severityText?: string;
        body?: AnyValue;
        attributes?: KeyValue[];
      }[];
    }[];
  }[];
}

const TO_OBJECT = { longs: String, enums: Number, bytes: String, defaults: false, arrays: true };

function value(v: AnyValue | undefined): DecodedValue {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}

function attributes(list: KeyValue[] | undefined): Record<string, DecodedValue> {
  const out: Record<string, DecodedValue> = {};
  for (const kv of list ?? []) out[kv.key] = value(kv.value);
  return out;
}

/** Decodes an ExportLogsServiceRequest body (protobuf or OTLP JSON) with the generated code. */
export function decodeLogsRequest(
  body: Buffer,
  contentType: string,
): { resourceLogs: number; records: ReceivedRecord[] } {
  const message = contentType.startsWith('application/json')
    ? ExportLogsServiceRequest.fromObject(JSON.parse(body.toString('utf8')) as object)
    : ExportLogsServiceRequest.decode(body);
  const decoded = ExportLogsServiceRequest.toObject(message, TO_OBJECT) as DecodedRequest;
  const records: ReceivedRecord[] = [];
  (decoded.resourceLogs ?? []).forEach((rl, resourceIndex) => {
    const resource = attributes(rl.resource?.attributes);
    for (const scope of rl.scopeLogs ?? []) {
      for (const r of scope.logRecords ?? []) {
        records.push({
          resource,
          resourceIndex,
          timeNs: r.timeUnixNano ?? '0',
          observedNs: r.observedTimeUnixNano ?? '0',
          severityNumber: r.severityNumber ?? 0,
          severityText: r.severityText ?? '',
          body: value(r.body),
          attributes: attributes(r.attributes),
        });
      }
    }
  });
  return { resourceLogs: decoded.resourceLogs?.length ?? 0, records };
}

/** An ExportLogsServiceResponse as a receiver writes it, encoded with the generated code. */
export function encodeLogsResponse(value: { partialSuccess?: OtlpReply['partialSuccess'] }): Uint8Array {
  return ExportLogsServiceResponse.encode(ExportLogsServiceResponse.fromObject(value)).finish();
}

function responseBody(reply: OtlpReply, json: boolean): Uint8Array | string {
  if (reply.body !== undefined) return reply.body;
  const value = reply.partialSuccess ? { partialSuccess: reply.partialSuccess } : {};
  if (json) return JSON.stringify(value);
  return encodeLogsResponse(value);
}

export class OtlpReceiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly script: OtlpReply[] = [];
  private readonly http: RestartableServer;

  private constructor(port: number) {
    this.http = new RestartableServer((req, res) => this.handle(req, res), port);
  }

  static async start(port = 0): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver(port);
    await receiver.up();
    return receiver;
  }

  get url(): string {
    return this.http.url;
  }

  reply(...replies: OtlpReply[]): this {
    this.script.push(...replies);
    return this;
  }

  /** Every record of the requests answered with a 2xx. */
  accepted(): ReceivedRecord[] {
    return this.requests.filter((r) => r.answer < 300).flatMap((r) => r.records);
  }

  up(): Promise<void> {
    return this.http.up();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const contentType = String(req.headers['content-type'] ?? '');
      const json = contentType.startsWith('application/json');
      const reply = this.script.shift() ?? { status: 200 };
      try {
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        const decoded = decodeLogsRequest(body, contentType);
        this.requests.push({
          path: req.url ?? '',
          headers: req.headers,
          raw,
          ...decoded,
          answer: reply.status,
        });
      } catch (err) {
        // A body the official definitions cannot read is what a real collector answers 400 to.
        this.requests.push({
          path: req.url ?? '',
          headers: req.headers,
          raw,
          resourceLogs: 0,
          records: [],
          answer: 400,
        });
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`undecodable: ${(err as Error).message}`);
        return;
      }
      res.writeHead(reply.status, {
        'content-type': json ? 'application/json' : 'application/x-protobuf',
        ...reply.headers,
      });
      res.end(responseBody(reply, json));
    });
  }

  /** Stops listening and drops every connection (an outage: connections are refused). */
  async down(): Promise<void> {
    await this.http.down();
  }

  stop(): Promise<void> {
    return this.down();
  }
}
