import type { FastifyReply } from 'fastify';
import { ImmediateTurn } from '../util/next-turn.js';

/** What is used of fastify's reply. */
export type Reply = Pick<FastifyReply, 'code' | 'send'>;

/**
 * Ingest answers written together once the event loop's turn has read its requests, instead of one
 * by one between them. Why: the write of an answer wakes its sender, and on a busy server those
 * system calls, spread between every two requests, made Perch's own per-alert code run markedly
 * slower, by more than the writes themselves cost (docs/performance.md, "Per-alert CPU over HTTP:
 * the answers of a turn written together"). The write runs by setImmediate, so it goes out within
 * the same turn, never on a timer, and before a setImmediate asked for after it (the intake's run
 * of the pipeline, when the source answers before it hands the alerts on).
 */
export class TurnEndReplies {
  private replies: Reply[] = [];
  private bodies: object[] = [];
  private readonly turn = new ImmediateTurn(() => this.flush());

  /** Answers `reply` with status `code` and `body` at the end of this turn. */
  send(reply: Reply, code: number, body: object): void {
    reply.code(code);
    this.replies.push(reply);
    this.bodies.push(body);
    this.turn.request();
  }

  /** Writes every answer still waiting, now (shutdown: none may be left unanswered). */
  flush(): void {
    this.turn.cancel();
    // Taken before writing: an answer's write can run code that answers another request.
    const { replies, bodies } = this;
    this.replies = [];
    this.bodies = [];
    for (let i = 0; i < replies.length; i++) replies[i]?.send(bodies[i]);
  }
}
