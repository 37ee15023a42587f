import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpSourceConfig } from '../config/schema.js';
import { EventParseError } from '../events/event-parse-error.js';
import { jsonArrayElements } from '../events/exact-integers.js';
import type { FalcoEvent } from '../events/falco-event.js';
import { parseFalcoJson } from '../events/parse-falco-json.js';
import { type BatchResult, MAX_MALFORMED_LINES, parseNdjson } from '../events/parse-ndjson.js';
import { type Logger, LogLimiter } from '../logging/logger.js';
import type { ComponentMetrics, PerchMetrics } from '../metrics/perch-metrics.js';
import { bearerTokenMatches } from '../util/bearer-token-match.js';
import { EventFeed } from '../util/event-feed.js';
import type { Observable } from '../util/rx.js';
import type { Durability, IntakeRoom, Source, SourceStatus } from './source.js';
import { TurnEndReplies } from './turn-end-replies.js';

const NDJSON_TYPES = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/jsonlines',
]);

/** Each answer's outcome label and the status it is answered with (perch_http_ingest_requests_total). */
const OUTCOME_STATUS = {
  accepted: 200,
  partial: 200,
  malformed: 400,
  unauthorized: 401,
  too_large: 413,
  too_busy: 429,
  unsupported_media_type: 415,
  shutting_down: 503,
} as const;

type Outcome = keyof typeof OUTCOME_STATUS;

/**
 * The longest an NDJSON batch is held unread while the intake buffer is full; after it, the batch is
 * taken (and what does not fit is shed by priority, as for any alert), so a stuck pipeline cannot
 * hold senders for ever.
 */
export const MAX_HOLD_MS = 10_000;

/** What a client is told to wait before it tries again while Perch shuts down. */
const RETRY_AFTER_SECONDS = 5;
/** …and while too many bodies are in flight: they are parsed within milliseconds. */
const BUSY_RETRY_AFTER_SECONDS = 1;

/**
 * Drop-in target for Falco's http_output and for anything that posts to falcosidekick's `POST /`:
 * one alert per request, or NDJSON batches. Answers in the same event-loop turn, once the body is
 * parsed and the alerts that a spooled sink must keep are committed to the intake journal (one
 * commit serves every request of a turn), because Falco posts serially and our latency caps its
 * throughput.
 */
export class HttpSource implements Source {
  readonly id = 'http';
  private readonly feed = new EventFeed<FalcoEvent>();
  readonly events$: Observable<FalcoEvent> = this.feed.events$;
  private readonly metrics: ComponentMetrics;
  private readonly limiter = new LogLimiter();
  private listening = false;
  private stopped = false;
  private durability?: Durability;
  private room?: IntakeRoom;
  /** Lets a held batch go on; one per request held back while the intake buffer is full. */
  private readonly held = new Set<() => void>();
  private readonly countHeld: () => void;
  /** Bytes of the request bodies taken and not yet answered: what ingest holds in memory. */
  private inFlightBytes = 0;
  /** One listener for every response, so that a request's reservation costs no closure of its own. */
  private readonly releaseOnClose: (this: ServerResponse) => void;
  private readonly requestCounters: Record<Outcome, () => void>;
  /** The 200s, written together once the turn's requests are read (turn-end-replies.ts). */
  private readonly acceptances = new TurnEndReplies();

  constructor(
    private readonly config: HttpSourceConfig,
    private readonly perchMetrics: PerchMetrics,
    private readonly log: Logger,
    /** How long a batch may be held unread (tests shorten it). */
    private readonly maxHoldMs = MAX_HOLD_MS,
  ) {
    this.metrics = perchMetrics.component('source', this.id);
    this.countHeld = () => perchMetrics.httpIngestHeld.inc();
    this.requestCounters = Object.fromEntries(
      Object.entries(OUTCOME_STATUS).map(([outcome, status]) => [
        outcome,
        perchMetrics.httpRequestCounter(outcome, status),
      ]),
    ) as Record<Outcome, () => void>;
    const release = (res: ServerResponse) => {
      this.inFlightBytes -= this.reservedBytes(res.req.headers['content-length']);
    };
    this.releaseOnClose = function (this: ServerResponse) {
      release(this);
    };
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
      // A callback hook, not an async one: an async hook costs a promise and a microtask per request.
      // A request answered here goes no further: done is not called.
      scope.addHook('onRequest', (req, reply, done) => {
        if (!this.admit(req, reply)) return;
        if (!this.room || !isNdjsonRequest(req) || !this.holdUntilRoom(this.room, () => done())) done();
      });
      scope.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
        if (err.statusCode === 415) {
          // A Content-Type fastify cannot even parse ("json", ";"): the same answer as any unsupported type.
          this.count('unsupported_media_type');
          return reply.code(415).send({
            error: 'unsupported Content-Type: send application/json (one alert) or application/x-ndjson',
          });
        }
        if (err.statusCode === 413) {
          this.count('too_large');
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

  useIntakeRoom(room: IntakeRoom): void {
    this.room = room;
  }

  /**
   * Holds an NDJSON batch unread (its bytes stay with the sender and the kernel) until the intake
   * buffer has room, so that a batch sender slows down instead of having its alerts shed. One alert
   * per request, as Falco's http_output posts, is never held: Falco would stall, and the buffer's
   * shedding keeps its most important alerts. False when there is room now: the batch goes on at once.
   */
  private holdUntilRoom(room: IntakeRoom, proceed: () => void): boolean {
    const release = () => {
      if (!this.held.delete(release)) return;
      clearTimeout(timer);
      leaveLine?.();
      proceed();
    };
    const leaveLine = room.whenRoom(release);
    if (leaveLine === undefined) return false;
    this.countHeld();
    const timer = setTimeout(release, this.maxHoldMs);
    this.held.add(release);
    return true;
  }

  async start(): Promise<void> {
    this.listening = true;
    this.perchMetrics.sourceUp.set({ component_id: this.id }, 1);
  }

  async stop(): Promise<void> {
    // The server stops accepting connections and waits for in-flight requests before this is called.
    this.stopped = true;
    this.listening = false;
    // Held batches go on now, to be answered 503 like any body that meets the shutdown.
    for (const release of [...this.held]) release();
    this.acceptances.flush();
    this.perchMetrics.sourceUp.set({ component_id: this.id }, 0);
    this.feed.complete();
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

  /** Before the body is read: true to go on, false once the request has been answered (401, 503, 429). */
  private admit(req: FastifyRequest, reply: FastifyReply): boolean {
    if (!this.authorised(req)) {
      this.count('unauthorized');
      reply.header('www-authenticate', 'Bearer realm="perch"');
      reply.code(401).send({ error: 'missing or wrong bearer token' });
      return false;
    }
    if (this.stopped) {
      this.shuttingDown(reply);
      return false;
    }
    return this.reserve(req, reply);
  }

  /**
   * Holds the body's bytes against sources.http.maxInFlightBytes until the answer has gone (or the
   * connection closed), so that many concurrent senders cannot make Perch buffer without bound.
   */
  private reserve(req: FastifyRequest, reply: FastifyReply): boolean {
    const bytes = this.reservedBytes(req.headers['content-length']);
    if (this.inFlightBytes > 0 && this.inFlightBytes + bytes > this.config.maxInFlightBytes) {
      this.count('too_busy');
      reply
        .code(429)
        .header('retry-after', String(BUSY_RETRY_AFTER_SECONDS))
        .send({
          error: `too many alert bodies in flight: ${this.inFlightBytes} bytes being parsed, this one ${bytes} more, sources.http.maxInFlightBytes is ${this.config.maxInFlightBytes}; send again shortly`,
        });
      return false;
    }
    this.inFlightBytes += bytes;
    // A response closes exactly once, whether answered or its connection dropped; the listener reads
    // the same header again to release what was reserved here.
    reply.raw.on('close', this.releaseOnClose);
    return true;
  }

  /** What a request holds while in flight: its declared length, or the most a body may be. */
  private reservedBytes(contentLength: string | undefined): number {
    const declared = Number(contentLength);
    return Number.isFinite(declared)
      ? Math.min(declared, this.config.maxBodyBytes)
      : this.config.maxBodyBytes;
  }

  private shuttingDown(reply: FastifyReply): void {
    this.count('shutting_down');
    reply
      .code(503)
      .header('retry-after', String(RETRY_AFTER_SECONDS))
      .header('connection', 'close')
      .send({ error: 'Perch is shutting down; send again later' });
  }

  /**
   * Takes the body's alerts in and answers within the turn (turn-end-replies.ts), with no promise
   * of its own per request, unless a spooled sink needs the alerts on disk first.
   */
  private ingest(req: FastifyRequest, reply: FastifyReply): Promise<void> | undefined {
    // A body still arriving when shutdown began: its alerts would meet a closed pipeline.
    if (this.stopped) {
      this.shuttingDown(reply);
      return undefined;
    }
    const body = typeof req.body === 'string' ? req.body : '';
    const type = mediaType(req.headers['content-type']);
    if (type === 'text/plain') {
      this.count('unsupported_media_type');
      this.warnOnce('text', 'Falco is sending text alerts; set json_output: true in falco.yaml');
      reply.code(415).send({
        error:
          'Perch needs JSON alerts: set json_output: true (and json_include_output_property: true) in falco.yaml, then restart Falco',
      });
      return undefined;
    }
    const isNdjson = NDJSON_TYPES.has(type);
    if (!isNdjson && type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
      this.count('unsupported_media_type');
      reply.code(415).send({
        error: `unsupported Content-Type "${type}": send application/json (one alert) or application/x-ndjson`,
      });
      return undefined;
    }
    const batch = isNdjson ? parseNdjson(body) : this.parseJsonBody(body);
    const { events, rejected, rejectedCount } = batch;
    this.metrics.received(events.length + rejectedCount);
    if (rejectedCount > 0) {
      this.metrics.discarded('malformed', rejectedCount);
      this.warnOnce('malformed', 'rejected malformed alerts', {
        first: rejected[0],
        rejected: rejectedCount,
      });
    }
    if (events.length === 0) {
      this.count('malformed');
      const error = rejected[0]?.error ?? 'empty body: expected a Falco alert in JSON';
      reply.code(400).send({ error, ...rejections(batch) });
      return undefined;
    }
    // The 200 is a promise: what must survive a crash is on disk before it goes out.
    if (this.durability) {
      for (const event of events) this.feed.next(event);
      return this.acceptOnceDurable(this.durability, batch, reply);
    }
    // Answered before the alerts go in: the answers' turn-end write is then asked for before the
    // intake's run of the pipeline, and goes first. A sender that posts serially, as Falco does,
    // gets its answer without waiting for the pipeline, and posts its next alert meanwhile.
    this.acceptances.send(reply, 200, this.accepted(batch));
    for (const event of events) this.feed.next(event);
    return undefined;
  }

  private async acceptOnceDurable(durability: Durability, batch: BatchResult, reply: FastifyReply) {
    durability.admit(batch.events);
    await durability.committed();
    // Written at once: the commit serves every request of its turn, so their answers already go
    // out together; a turn-end write asked for now would wait for the next turn of the loop.
    reply.code(200).send(this.accepted(batch));
  }

  /** Counts a batch taken in, and what its 200 says. */
  private accepted(batch: BatchResult): object {
    const accepted = batch.events.length;
    this.metrics.sent(accepted);
    if (batch.rejectedCount > 0) {
      this.count('partial');
      return { accepted, ...rejections(batch) };
    }
    this.count('accepted');
    return { accepted };
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

  private count(outcome: Outcome): void {
    this.requestCounters[outcome]();
  }

  private warnOnce(key: string, message: string, details: Record<string, unknown> = {}): void {
    const suppressed = this.limiter.admit(key);
    if (suppressed >= 0)
      this.log.warn({ source: this.id, ...details, suppressedSinceLast: suppressed }, message);
  }
}

/** The rejections an answer lists: the first ones only, so that its size does not grow with the body's. */
function rejections({ rejected, rejectedCount }: BatchResult): Pick<BatchResult, 'rejected'> & {
  rejectedCount?: number;
} {
  return rejectedCount > rejected.length ? { rejected, rejectedCount } : { rejected };
}

/** Whether a request's body is a batch of NDJSON alerts (the kind that may be held). */
function isNdjsonRequest(req: FastifyRequest): boolean {
  return NDJSON_TYPES.has(mediaType(req.headers['content-type']));
}

/** The media type of a Content-Type header, lower case, without parameters ('' when there is none). */
function mediaType(header: string | undefined): string {
  // What Falco sends, as it sends it: no need to split and fold it.
  if (header === 'application/json') return header;
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function oneRejection(error: string): BatchResult {
  return { events: [], rejected: [{ line: 1, error }], rejectedCount: 1 };
}
