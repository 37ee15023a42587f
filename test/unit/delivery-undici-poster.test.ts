import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { RenderedRequest } from '../../src/delivery/destination.js';
import { UndiciPoster } from '../../src/delivery/undici-poster.js';

interface Received {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base: string;
let received: Received[];
let connections: number;
let answer: (res: ServerResponse) => void;
let poster: UndiciPoster;

beforeEach(async () => {
  received = [];
  connections = 0;
  answer = (res) => res.end();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      answer(res);
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  poster = new UndiciPoster();
});

afterEach(async () => {
  await poster.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function request(path = '/hook?token=1'): RenderedRequest {
  return {
    url: `${base}${path}`,
    body: '{"a":1}',
    headers: { 'content-type': 'application/json', 'x-sig': 's1' },
  };
}

const never = new AbortController().signal;

describe('UndiciPoster', () => {
  it('posts the body and headers to the path and query, and reads the answer', async () => {
    answer = (res) => {
      res.writeHead(429, { 'retry-after': '7', 'set-cookie': ['a=1', 'b=2'] });
      res.end('slow down');
    };
    const result = await poster.post(request(), 1000, never);
    expect(received).toEqual([
      expect.objectContaining({ method: 'POST', url: '/hook?token=1', body: '{"a":1}' }),
    ]);
    expect(received[0]?.headers).toMatchObject({ 'content-type': 'application/json', 'x-sig': 's1' });
    if (result.kind !== 'answered') throw new Error(`expected an answer, got ${JSON.stringify(result)}`);
    expect(result.response.status).toBe(429);
    expect(result.response.body).toBe('slow down');
    expect(result.response.headers.get('Retry-After')).toBe('7');
    expect(result.response.headers.get('set-cookie')).toBe('a=1, b=2');
    expect(result.response.headers.get('x-missing')).toBeNull();
  });

  it('keeps one connection alive across requests', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await poster.post(request(), 1000, never)).kind).toBe('answered');
    }
    expect(received).toHaveLength(3);
    expect(connections).toBe(1);
  });

  it('does not follow a redirect: the 3xx is the answer', async () => {
    answer = (res) => {
      res.writeHead(302, { location: `${base}/elsewhere` });
      res.end();
    };
    const result = await poster.post(request(), 1000, never);
    expect(result).toMatchObject({ kind: 'answered', response: { status: 302 } });
    expect(received.map((r) => r.url)).toEqual(['/hook?token=1']);
  });

  it('reads at most 64 KiB of an answer', async () => {
    answer = (res) => {
      res.writeHead(500);
      res.end('x'.repeat(200 * 1024));
    };
    const result = await poster.post(request(), 2000, never);
    if (result.kind !== 'answered') throw new Error(`expected an answer, got ${JSON.stringify(result)}`);
    expect(result.response.body).toHaveLength(64 * 1024);
  });

  it('times out a body that never ends, as it does an answer that never comes', async () => {
    answer = (res) => {
      res.writeHead(200);
      res.write('partial');
    };
    expect(await poster.post(request(), 150, never)).toEqual({
      kind: 'failed',
      failure: { type: 'timeout', reason: 'no answer within 150 ms' },
    });
    answer = () => undefined;
    expect(await poster.post(request(), 150, never)).toEqual({
      kind: 'failed',
      failure: { type: 'timeout', reason: 'no answer within 150 ms' },
    });
  });

  it('reports an abort through the signal as aborted, not as a failure', async () => {
    answer = () => undefined;
    const abort = new AbortController();
    const pending = poster.post(request(), 5000, abort.signal);
    setTimeout(() => abort.abort(), 50);
    expect(await pending).toEqual({ kind: 'aborted' });
  });

  it('names a refused connection by its code', async () => {
    const port = (server.address() as AddressInfo).port;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    const result = await poster.post(request(), 1000, never);
    expect(result).toEqual({
      kind: 'failed',
      failure: {
        type: 'connection',
        reason: `connection failed: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:${port})`,
      },
    });
    // afterEach closes it again.
    server.listen(0, '127.0.0.1');
  });

  it('does not send to a URL with credentials, and keeps them out of the reason', async () => {
    const result = await poster.post(
      { ...request(), url: base.replace('http://', 'http://user:SECRET@') },
      1000,
      never,
    );
    expect(result).toMatchObject({ kind: 'failed', failure: { type: 'request' } });
    expect(JSON.stringify(result)).not.toContain('SECRET');
    expect(received).toHaveLength(0);
  });

  it('lets go of its kept-alive connection on close', async () => {
    await poster.post(request(), 1000, never);
    expect(await openConnections()).toBe(1);
    await poster.close();
    await until(async () => (await openConnections()) === 0);
  });
});

function openConnections(): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
  );
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100 && !(await condition()); i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  expect(await condition()).toBe(true);
}
