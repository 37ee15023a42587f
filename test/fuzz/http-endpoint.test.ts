import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { stringifyExact } from '../../src/events/serialize-event.js';
import { type Harness, startAgent } from '../helpers/agent-harness.js';
import { alertLikeText, deepJson, deepSpec, nastyString, validAlert } from './arbitraries.js';

const TOKEN = 'fuzz-Token_0123456789';
const MAX_BODY = 64 * 1024;
const ALLOWED = new Set([200, 400, 401, 413, 415]);

let harness: Harness;
beforeAll(async () => {
  harness = await startAgent({ sources: { http: { maxBodyBytes: MAX_BODY, token: TOKEN } } });
});
afterAll(async () => {
  await harness?.stop();
});

interface FuzzRequest {
  body: string | Uint8Array;
  contentType: string | undefined;
  authorization: string | undefined;
  headers: Record<string, string>;
}

interface Answer {
  status: number;
  body: unknown;
  bytes: number;
}

/** Header values fetch can send: printable Latin-1 and tabs, no CR/LF/NUL. */
const headerValue = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
    fc.constant('\t'),
  ),
  maxLength: 60,
});

const token = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_'.split('')),
  minLength: 1,
  maxLength: 12,
});

const authorization = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(`Bearer ${TOKEN}`, `Bearer   ${TOKEN}  `) },
  {
    weight: 4,
    arbitrary: fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(
        '',
        'Bearer',
        'Bearer ',
        `bearer ${TOKEN}`,
        `BEARER ${TOKEN}`,
        `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`,
        `Bearer ${TOKEN.slice(0, -1)}`,
        `Bearer ${TOKEN}x`,
        `Bearer ${TOKEN.toLowerCase()}`,
        `Bearer\t${TOKEN}`,
        'Bearer é',
      ),
      headerValue,
      headerValue.map((v) => `Bearer ${v}`),
    ),
  },
);

const contentType = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/x-ndjson',
      'application/ndjson',
      'application/cloudevents+json',
    ),
  },
  fc.constantFrom(
    undefined,
    'application/json',
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'application/cloudevents+json',
    'application/x-ndjson',
    'application/ndjson',
    'application/jsonl',
    'application/x-jsonlines',
    'text/plain',
    'text/plain; charset=utf-8',
    'application/xml',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    '',
    '*/*',
    'application/json;;',
    ';',
    'json',
    'a/b/c',
  ),
  headerValue,
);

const extraHeaders = fc.dictionary(
  fc.oneof(
    token.map((t) => `x-fuzz-${t}`),
    fc.constantFrom(
      'accept',
      'accept-encoding',
      'content-encoding',
      'user-agent',
      'cookie',
      'x-forwarded-for',
      'content-language',
    ),
  ),
  fc.oneof(headerValue, fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'application/json', '*/*')),
  { maxKeys: 4 },
);

const ndjson = fc
  .array(
    fc.oneof(
      validAlert.map((a) => stringifyExact(a)),
      alertLikeText,
      nastyString,
      fc.constantFrom('', '\r', ' '),
    ),
    {
      maxLength: 12,
    },
  )
  .map((lines) => lines.join('\n'));

const body: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: validAlert.map((a) => stringifyExact(a)) },
  { weight: 3, arbitrary: alertLikeText },
  { weight: 2, arbitrary: ndjson },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  {
    weight: 1,
    arbitrary: fc
      .array(
        fc.oneof(
          validAlert.map((a) => a as unknown),
          alertLikeText.map((t) => JSON.parse(t) as unknown),
        ),
        { maxLength: 5 },
      )
      .map((a) => stringifyExact(a)),
  },
  { weight: 1, arbitrary: deepSpec(1, 30_000).map(deepJson) },
  {
    weight: 1,
    arbitrary: deepSpec(1, 2500).map(
      (spec) =>
        `{"rule":"R","priority":"Notice","time":"2026-01-01T00:00:00Z","output_fields":{"x":${deepJson(spec)}}}`,
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ extra: fc.integer({ min: -2, max: 4096 }), unit: fc.constantFrom('x', '{', 'é', '\n') })
      .map(({ extra, unit }) => unit.repeat(Math.ceil((MAX_BODY + extra) / Buffer.byteLength(unit)))),
  },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\n', '{}', '[]', 'null', '[[]]') },
);

const request: fc.Arbitrary<FuzzRequest> = fc.record({
  body,
  contentType,
  authorization,
  headers: extraHeaders,
});

/** Content-Type values Fastify itself refuses as media types (KNOWN BUG below: answered but not counted). */
const UNPARSEABLE_TYPES = ['', 'json', ';', 'a/b/c', 'application', '/json', 'text/', 'application/json/x'];
const parseableType = contentType.filter((t) => t === undefined || /^[\w.+*-]+\/[\w.+*-]+\s*(;.*)?$/.test(t));

function bodyBytes(b: string | Uint8Array): number {
  return typeof b === 'string' ? Buffer.byteLength(b) : b.byteLength;
}

async function send(req: FuzzRequest, path = '/'): Promise<Answer> {
  const headers: Record<string, string> = { ...req.headers };
  if (req.contentType !== undefined) headers['content-type'] = req.contentType;
  if (req.authorization !== undefined) headers.authorization = req.authorization;
  const res = await fetch(`${harness.url}${path}`, {
    method: 'POST',
    headers,
    body: req.body,
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, bytes: Buffer.byteLength(text) };
}

/** What fetch sends for the header, per the Fetch standard: leading/trailing HTTP whitespace removed. */
const normalise = (v: string | undefined) => v?.replace(/^[\t ]+|[\t ]+$/g, '');

async function countedRequests(): Promise<number> {
  const metric = await harness.metrics.registry.getSingleMetric('perch_http_ingest_requests_total')?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

let accepted = 0;
let requests = 0;

function checkAnswer(req: FuzzRequest, answer: Answer): void {
  requests += 1;
  if (!ALLOWED.has(answer.status))
    throw new Error(`status ${answer.status} (${JSON.stringify(answer.body).slice(0, 300)})`);
  const auth = normalise(req.authorization);
  if (!auth?.includes(TOKEN)) expect(answer.status).toBe(401);
  if (auth === `Bearer ${TOKEN}` && bodyBytes(req.body) > MAX_BODY)
    expect([413, 415]).toContain(answer.status);
  if (answer.status === 200) {
    const ok = answer.body as { accepted?: unknown; rejected?: unknown };
    expect(typeof ok.accepted).toBe('number');
    expect(ok.accepted).toBeGreaterThan(0);
    accepted += ok.accepted as number;
  } else {
    expect(typeof answer.body).toBe('object');
    const error = (answer.body as { error?: unknown }).error;
    expect(typeof error).toBe('string');
    expect((error as string).length).toBeGreaterThan(0);
  }
}

describe('fuzz: the HTTP ingest endpoint', () => {
  it('answers every generated request with 200/400/401/413/415 and a JSON body, never 5xx or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        checkAnswer(req, await send(req));
      }),
      { numRuns: 250 },
    );
  });

  it('a well-formed alert with the right token and type is always accepted', async () => {
    await fc.assert(
      fc.asyncProperty(
        validAlert,
        fc.constantFrom('application/json', 'application/json; charset=utf-8', undefined),
        async (alert, type) => {
          const text = stringifyExact(alert);
          fc.pre(Buffer.byteLength(text) <= MAX_BODY);
          const req = {
            body: new TextEncoder().encode(text),
            contentType: type,
            authorization: `Bearer ${TOKEN}`,
            headers: {},
          };
          const answer = await send(req);
          checkAnswer(req, answer);
          expect(answer).toMatchObject({ status: 200, body: { accepted: 1 } });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('bursts of concurrent fuzzed requests are all answered', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 2, maxLength: 12 }), async (burst) => {
        const answers = await Promise.all(burst.map((r) => send(r)));
        burst.forEach((r, i) => {
          const answer = answers[i];
          if (answer) checkAnswer(r, answer);
        });
      }),
      { numRuns: 15 },
    );
  });

  it('afterwards the agent is healthy, still accepts an alert, and delivered every accepted one', async () => {
    const health = await fetch(`${harness.url}/healthz`, { signal: AbortSignal.timeout(5000) });
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const sentinel = `fuzz sentinel ${Date.now()}`;
    const answer = await send({
      body: JSON.stringify({ rule: sentinel, priority: 'Critical', time: '2026-01-01T00:00:00.000000001Z' }),
      contentType: 'application/json',
      authorization: `Bearer ${TOKEN}`,
      headers: {},
    });
    expect(answer).toMatchObject({ status: 200, body: { accepted: 1 } });
    const deadline = Date.now() + 5000;
    while (!harness.out.lines.some((l) => l.includes(sentinel)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(harness.out.lines.some((l) => l.includes(sentinel))).toBe(true);
    // Nothing accepted was lost on the way: one console line per accepted alert, plus the sentinel.
    expect(harness.out.lines).toHaveLength(accepted + 1);
    expect(requests).toBeGreaterThan(250);
  });

  it('every answered request is counted once in perch_http_ingest_requests_total', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ body, contentType: parseableType, authorization, headers: extraHeaders }),
        async (req) => {
          const before = await countedRequests();
          checkAnswer(req, await send(req));
          expect(await countedRequests()).toBe(before + 1);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a Content-Type Fastify cannot parse is answered 415 but never counted as an ingest request', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...UNPARSEABLE_TYPES), body, async (type, b) => {
        const before = await countedRequests();
        const answer = await send({
          body: b,
          contentType: type,
          authorization: `Bearer ${TOKEN}`,
          headers: {},
        });
        expect(answer.status).toBe(415);
        expect(await countedRequests()).toBe(before + 1);
      }),
      { numRuns: 10 },
    );
  });
});
