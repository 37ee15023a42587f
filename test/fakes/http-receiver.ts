import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { RestartableServer } from './restartable-server.js';

/** How the receiver answers one request. */
export type Reply =
  | { status: number; body?: string; headers?: Record<string, string>; delayMs?: number }
  /** Drops the connection without an answer (the client sees a reset / "other side closed"). */
  | { reset: true };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Date.now() when the body was complete. */
  atMs: number;
  /** What the receiver did with it: the status sent, or `reset`. */
  answer: number | 'reset';
}

/**
 * A webhook receiver on 127.0.0.1 for delivery tests: records every request and answers each with
 * the next scripted reply (then the default). It can go down (refusing connections) and come back
 * on the same port, like a destination during an outage.
 */
export class HttpReceiver {
  readonly requests: RecordedRequest[] = [];
  private readonly script: Reply[] = [];
  private defaultReply: Reply = { status: 200, body: 'ok' };
  private readonly http: RestartableServer;
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private waiters: { count: number; resolve: () => void }[] = [];

  private constructor(port: number) {
    this.http = new RestartableServer((req, res) => this.handle(req, res), port);
  }

  static async start(port = 0): Promise<HttpReceiver> {
    const receiver = new HttpReceiver(port);
    await receiver.up();
    return receiver;
  }

  get port(): number {
    return this.http.port;
  }

  get url(): string {
    return this.http.url;
  }

  get isUp(): boolean {
    return this.http.isUp;
  }

  /** Queues replies for the next requests, in order. */
  reply(...replies: Reply[]): this {
    this.script.push(...replies);
    return this;
  }

  /** The answer once the script is used up. */
  setDefault(reply: Reply): this {
    this.defaultReply = reply;
    return this;
  }

  /** Bodies of requests that were answered with a 2xx: what the destination accepted, in order. */
  accepted(): string[] {
    return this.requests.filter((r) => typeof r.answer === 'number' && r.answer < 300).map((r) => r.body);
  }

  /** Resolves once `count` requests have been recorded (rejects after timeoutMs). */
  waitForRequests(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${count} requests, got ${this.requests.length}`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Starts listening (again), on the same port as before once one was bound. */
  up(): Promise<void> {
    return this.http.up();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const reply = this.script.shift() ?? this.defaultReply;
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        atMs: Date.now(),
        answer: 'reset' in reply ? 'reset' : reply.status,
      };
      this.requests.push(recorded);
      this.notify();
      if ('reset' in reply) {
        req.socket.destroy();
        return;
      }
      this.answer(res, reply);
    });
  }

  /** Stops listening and drops every connection: new requests are refused (ECONNREFUSED). */
  async down(): Promise<void> {
    for (const timer of this.pendingTimers) clearTimeout(timer);
    this.pendingTimers.clear();
    await this.http.down();
  }

  stop(): Promise<void> {
    return this.down();
  }

  private answer(res: ServerResponse, reply: Extract<Reply, { status: number }>): void {
    const send = () => {
      if (res.destroyed) return; // the client gave up (timeout) before the slow answer
      res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
      res.end(reply.body ?? '');
    };
    if (!reply.delayMs) {
      send();
      return;
    }
    const timer = setTimeout(() => {
      this.pendingTimers.delete(timer);
      send();
    }, reply.delayMs);
    this.pendingTimers.add(timer);
  }

  private notify(): void {
    const ready = this.waiters.filter((w) => this.requests.length >= w.count);
    this.waiters = this.waiters.filter((w) => this.requests.length < w.count);
    for (const waiter of ready) waiter.resolve();
  }
}
