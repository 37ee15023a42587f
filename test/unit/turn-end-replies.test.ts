import { describe, expect, it } from '@jest/globals';
import type { FastifyReply } from 'fastify';
import { type Reply, TurnEndReplies } from '../../src/sources/turn-end-replies.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A reply that records what was written to it, into one log shared by all of them. */
function recordingReply(name: string, log: string[]): Reply {
  let status = 0;
  const reply = {
    code(code: number) {
      status = code;
      return reply as unknown as FastifyReply;
    },
    send(body: unknown) {
      log.push(`${name} ${status} ${JSON.stringify(body)}`);
      return reply as unknown as FastifyReply;
    },
  };
  return reply;
}

describe('TurnEndReplies: ingest answers written together at the end of the turn', () => {
  it('writes nothing while the turn runs, then every answer in the order given, each with its status and body', async () => {
    const log: string[] = [];
    const replies = new TurnEndReplies();
    replies.send(recordingReply('a', log), 200, { accepted: 1 });
    replies.send(recordingReply('b', log), 200, { accepted: 3, rejected: [{ line: 2, error: 'x' }] });
    replies.send(recordingReply('c', log), 200, { accepted: 1 });
    expect(log).toEqual([]);
    await nextTurn();
    expect(log).toEqual([
      'a 200 {"accepted":1}',
      'b 200 {"accepted":3,"rejected":[{"line":2,"error":"x"}]}',
      'c 200 {"accepted":1}',
    ]);
  });

  it('answers what is given while it writes on a later turn, and what comes after on the turn after', async () => {
    const log: string[] = [];
    const replies = new TurnEndReplies();
    const late = recordingReply('late', log);
    const first = recordingReply('first', log);
    const writeAndAnswerAnother = {
      code: first.code,
      send(body: unknown) {
        first.send(body);
        replies.send(late, 200, { accepted: 2 });
        return this as unknown as FastifyReply;
      },
    };
    replies.send(writeAndAnswerAnother, 200, { accepted: 1 });
    await nextTurn();
    expect(log).toEqual(['first 200 {"accepted":1}']);
    await nextTurn();
    expect(log).toEqual(['first 200 {"accepted":1}', 'late 200 {"accepted":2}']);
    replies.send(recordingReply('next', log), 200, { accepted: 1 });
    await nextTurn();
    expect(log).toHaveLength(3);
  });

  it('flush writes every waiting answer at once (shutdown), and the turn then writes none twice', async () => {
    const log: string[] = [];
    const replies = new TurnEndReplies();
    replies.send(recordingReply('a', log), 200, { accepted: 1 });
    replies.send(recordingReply('b', log), 200, { accepted: 1 });
    replies.flush();
    expect(log).toEqual(['a 200 {"accepted":1}', 'b 200 {"accepted":1}']);
    await nextTurn();
    await nextTurn();
    expect(log).toHaveLength(2);
  });
});
