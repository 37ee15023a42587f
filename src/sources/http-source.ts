import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Observable, Subject } from 'rxjs';
import type { HttpSourceConfig } from '../config/schema.js';
import { EventParseError } from '../events/event-parse-error.js';
import { jsonArrayElements } from '../events/exact-integers.js';
import type { FalcoEvent } from '../events/falco-event.js';
import { parseFalcoJson } from '../events/parse-falco-json.js';
import { type BatchResult, MAX_MALFORMED_LINES, parseNdjson } from '../events/parse-ndjson.js';
import { type Logger, LogLimiter } from '../logging/logger.js';
import type { ComponentMetrics, PerchMetrics } from '../metrics/perch-metrics.js';
import { bearerTokenMatches } from '../util/bearer-token-match.js';
import type { Durability, Source, SourceStatus } from './source.js';

const NDJSON_TYPES = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/jsonlines',
]);

type Outcome =
  | 'accepted'
  | 'partial'
  | 'malformed'
  | 'unauthorized'
  | 'too_large'
  | 'too_busy'
  | 'unsupported_media_type'
  | 'shutting_down';

/** What a client is told to wait before it tries again while Perch shuts down. */
const RETRY_AFTER_SECONDS = 5;
/** …and while too many bodies are in flight: they are parsed within milliseconds. */
const BUSY_RETRY_AFTER_SECONDS = 1;

/**
 * Drop-in target for Falco's http_output and for anything that posts to falcosidekick's `POST /`:
 * one alert per request, or NDJSON batches. Answers once the body is parsed and the alerts that a
 * spooled sink must keep are committed to the intake journal (one commit serves every request of
 * an event-loop turn), because Falco posts serially and our latency caps its throughput.
 */
export class HttpSource implements Source {
  readonly id = 'http';
  private readonly subject = new Subject<FalcoEvent>();
  readonly events$: Observable<FalcoEvent> = this.subject.asObservable();
  private readonly metrics: ComponentMetrics;
  private readonly limiter = new LogLimiter();
  private listening = false;
  private stopped = false;
  private durability?: Durability;
  /** Bytes of the request bodies taken and not yet answered: what ingest holds in memory. */
  private inFlightBytes = 0;

  constructor(
    private readonly config: HttpSourceConfig,
    private readonly perchMetrics: PerchMetrics,
    private readonly log: Logger,
  ) {
    this.metrics = perchMetrics.component('source', this.id);
  }

  /** Adds the ingest route to the shared server; call before it listens. */
  register(app: FastifyInstance): void {
    app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser(
        '*',
        { parseAs: 'string', bodyLimit: this.config.maxBodyBytes },
        (_req, body, done) => done(null, body),
      );
      scope.addHook('onRequest', async (req, reply) => {
        if (!this.authorised(req)) {
          this.count('unauthorized', 401);
          reply.header('www-authenticate', 'Bearer realm="perch"');
          return reply.code(401).send({ error: 'missing or wrong bearer token' });
        }
        if (this.stopped) return this.shuttingDown(reply);
        return this.reserve(req, reply);
      });
      scope.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
        if (err.statusCode === 415) {
          // A Content-Type fastify cannot even parse ("json", ";"): the same answer as any unsupported type.
          this.count('unsupported_media_type', 415);
          return reply.code(415).send({
            error: 'unsupported Content-Type: send application/json (one alert) or application/x-ndjson',
          });
        }
        if (err.statusCode === 413) {
          this.count('too_large', 413);
          return reply.code(413).send({
            error: `body larger than sources.http.maxBodyBytes (${this.config.maxBodyBytes} bytes)`,
          });
        }
        this.metrics.error('request');
        this.log.warn({ err: err.message }, 'HTTP ingest request failed');
        return reply.code(err.statusCode ?? 500).send({ error: err.message });
      });
      scope.post(this.config.path, (req, reply) => this.ingest(req, reply));
    });
  }

  useDurability(durability: Durability): void {
    this.durability = durability;
  }

  async start(): Promise<void> {
    this.listening = true;
    this.perchMetrics.sourceUp.set({ component_id: this.id }, 1);
  }

  async stop(): Promise<void> {
    // The server stops accepting connections and waits for in-flight requests before this is called.
    this.stopped = true;
    this.listening = false;
    this.perchMetrics.sourceUp.set({ component_id: this.id }, 0);
    this.subject.complete();
  }

  status(): SourceStatus {
    return this.listening
      ? { up: true }
      : { up: false, detail: this.stopped ? 'stopped' : 'not listening yet' };
  }

  private authorised(req: FastifyRequest): boolean {
    const token = this.config.token?.reveal();
    if (token === undefined) return true;
    return bearerTokenMatches(req.headers.authorization, token);
  }

  /**
   * Holds the body's bytes against sources.http.maxInFlightBytes until the answer has gone (or the
   * connection closed), so that many concurrent senders cannot make Perch buffer without bound.
   */
  private reserve(req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    const declared = Number(req.headers['content-length']);
    const bytes = Number.isFinite(declared)
      ? Math.min(declared, this.config.maxBodyBytes)
      : this.config.maxBodyBytes;
    if (this.inFlightBytes > 0 && this.inFlightBytes + bytes > this.config.maxInFlightBytes) {
      this.count('too_busy', 429);
      return reply
        .code(429)
        .header('retry-after', String(BUSY_RETRY_AFTER_SECONDS))
        .send({
          error: `too many alert bodies in flight: ${this.inFlightBytes} bytes being parsed, this one ${bytes} more, sources.http.maxInFlightBytes is ${this.config.maxInFlightBytes}; send again shortly`,
        });
    }
    this.inFlightBytes += bytes;
    reply.raw.once('close', () => {
      this.inFlightBytes -= bytes;
    });
    return undefined;
  }

  private shuttingDown(reply: FastifyReply): FastifyReply {
    this.count('shutting_down', 503);
    return reply
      .code(503)
      .header('retry-after', String(RETRY_AFTER_SECONDS))
      .header('connection', 'close')
      .send({ error: 'Perch is shutting down; send again later' });
  }

  private async ingest(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    // A body still arriving when shutdown began: its alerts would meet a closed pipeline.
    if (this.stopped) return this.shuttingDown(reply);
    const body = typeof req.body === 'string' ? req.body : '';
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (type === 'text/plain') {
      this.count('unsupported_media_type', 415);
      this.warnOnce('text', 'Falco is sending text alerts; set json_output: true in falco.yaml');
      return reply.code(415).send({
        error:
          'Perch needs JSON alerts: set json_output: true (and json_include_output_property: true) in falco.yaml, then restart Falco',
      });
    }
    const isNdjson = NDJSON_TYPES.has(type);
    if (!isNdjson && type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
      this.count('unsupported_media_type', 415);
      return reply.code(415).send({
        error: `unsupported Content-Type "${type}": send application/json (one alert) or application/x-ndjson`,
      });
    }
    const { events, rejected, rejectedCount } = isNdjson ? parseNdjson(body) : this.parseJsonBody(body);
    this.metrics.received(events.length + rejectedCount);
    if (rejectedCount > 0) {
      this.metrics.discarded('malformed', rejectedCount);
      this.warnOnce('malformed', 'rejected malformed alerts', {
        first: rejected[0],
        rejected: rejectedCount,
      });
    }
    // The answer lists the first rejections only: its size must not grow with the body's.
    const details = rejectedCount > rejected.length ? { rejected, rejectedCount } : { rejected };
    if (events.length === 0) {
      this.count('malformed', 400);
      const error = rejected[0]?.error ?? 'empty body: expected a Falco alert in JSON';
      return reply.code(400).send({ error, ...details });
    }
    for (const event of events) this.subject.next(event);
    // The 200 is a promise: what must survive a crash is on disk before it goes out.
    if (this.durability) {
      this.durability.admit(events);
      await this.durability.committed();
    }
    this.metrics.sent(events.length);
    this.count(rejectedCount > 0 ? 'partial' : 'accepted', 200);
    return reply
      .code(200)
      .send(rejectedCount > 0 ? { accepted: events.length, ...details } : { accepted: events.length });
  }

  private parseJsonBody(body: string): BatchResult {
    if (body.trim() === '') return oneRejection('empty body: expected a Falco alert in JSON');
    try {
      return { events: [parseFalcoJson(body)], rejected: [], rejectedCount: 0 };
    } catch (err) {
      // An array first: a pretty-printed batch has newlines too, and NDJSON lines are never arrays.
      if (body.trimStart().startsWith('[')) return this.parseArray(body);
      const multiLine = body.trim().includes('\n');
      if (multiLine && err instanceof EventParseError && err.path === '$') return parseNdjson(body);
      return oneRejection((err as Error).message);
    }
  }

  /** A JSON array of alerts (some senders batch this way), parsed element by element. */
  private parseArray(body: string): BatchResult {
    const elements = jsonArrayElements(body);
    if (elements === undefined) {
      try {
        JSON.parse(body);
      } catch (err) {
        return oneRejection(`malformed JSON: ${(err as Error).message}`);
      }
      return oneRejection('malformed JSON: expected an array of Falco alerts');
    }
    const events: FalcoEvent[] = [];
    const rejected: { line: number; error: string }[] = [];
    let rejectedCount = 0;
    for (const [i, element] of elements.entries()) {
      try {
        events.push(parseFalcoJson(element));
      } catch (err) {
        rejectedCount += 1;
        if (rejected.length < 20) rejected.push({ line: 1, error: `[${i}] ${(err as Error).message}` });
        if (rejectedCount > MAX_MALFORMED_LINES) {
          rejectedCount += elements.length - i - 1;
          break;
        }
      }
    }
    return { events, rejected, rejectedCount };
  }

  private count(outcome: Outcome, status: number): void {
    this.perchMetrics.countHttpRequest(outcome, status);
  }

  private warnOnce(key: string, message: string, details: Record<string, unknown> = {}): void {
    const suppressed = this.limiter.admit(key);
    if (suppressed >= 0)
      this.log.warn({ source: this.id, ...details, suppressedSinceLast: suppressed }, message);
  }
}

function oneRejection(error: string): BatchResult {
  return { events: [], rejected: [{ line: 1, error }], rejectedCount: 1 };
}
