import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from '@jest/globals';
import { CURRENT_ALERT, INTERNAL_DROP_ALERT, PRE_033_ALERT } from '../fixtures/falco-alerts.js';
import { type Harness, metricValue, startAgent } from '../helpers/agent-harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

async function post(body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  if (!harness) throw new Error('no agent');
  const res = await fetch(`${harness.url}/`, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** One POST over the given (keep-alive) agent: its status and body text. */
function postVia(agent: HttpAgent, port: string, body: string, contentType: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path: '/', agent, headers: { 'content-type': contentType } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const requests = (outcome: string, status: string) =>
  harness ? metricValue(harness.metrics, 'perch_http_ingest_requests_total', { outcome, status }) : 0;

describe('HTTP source: a drop-in target for Falco http_output and falcosidekick POST /', () => {
  it('accepts one alert per request (200) and delivers it with exact fields', async () => {
    harness = await startAgent();
    const res = await post(CURRENT_ALERT);
    expect(res).toEqual({ status: 200, body: { accepted: 1 } });
    await harness.stop();
    expect(harness.out.lines).toHaveLength(1);
    expect(harness.out.lines[0]).toContain('"evt.time":1767258902123456789');
    expect(harness.out.alerts()[0]?.event.rule).toBe('Contact K8S API Server From Container');
    expect(await requests('accepted', '200')).toBe(1);
  });

  it('accepts NDJSON batches and reports bad lines without losing good ones', async () => {
    harness = await startAgent();
    const body = `${CURRENT_ALERT}\n${PRE_033_ALERT}\n{"rule":"x"}\n${INTERNAL_DROP_ALERT}\n`;
    const res = await post(body, { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(3);
    expect(res.body.rejected).toEqual([{ line: 3, error: expect.stringMatching(/^priority:/) }]);
    await harness.stop();
    expect(harness.out.alerts().map((a) => a.event.rule)).toEqual([
      'Contact K8S API Server From Container',
      'Read sensitive file untrusted',
      'Falco internal: syscall event drop',
    ]);
    expect(await requests('partial', '200')).toBe(1);
  });

  it('accepts a JSON array of alerts, each keeping its own exact integers, and reports bad elements', async () => {
    harness = await startAgent();
    // Two times that round to the same double: only each element's own text tells them apart.
    const times = ['1767258902123456789', '1767258902123456790', '1767258902123456791'];
    const alerts = times.map((t) =>
      CURRENT_ALERT.replace('"evt.time":1767258902123456789', `"evt.time":${t}`),
    );
    const body = `[${alerts[0]}, {"rule":"x"},\n${alerts[1]},${alerts[2]}]`;
    const res = await post(body);
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(3);
    expect(res.body.rejected).toEqual([{ line: 1, error: expect.stringMatching(/^\[1\] priority:/) }]);
    const truncated = await post(`[${alerts[0]},`);
    expect(truncated.status).toBe(400);
    expect(String(truncated.body.error)).toMatch(/malformed JSON/);
    await harness.stop();
    // The JSON output keeps the digits; read them from the text, as JSON.parse would round them.
    expect(harness.out.lines.map((line) => /"evt\.time":(\d+)/.exec(line)?.[1])).toEqual(times);
  });

  it('answers malformed JSON with 400 and the reason', async () => {
    harness = await startAgent();
    const res = await post('{"rule": "x", ');
    expect(res.status).toBe(400);
    expect(String(res.body.error)).toMatch(/malformed JSON/);
    const invalid = await post('{"rule":"R","priority":"Loud","time":"2026-01-01T00:00:00Z"}');
    expect(invalid.status).toBe(400);
    expect(String(invalid.body.error)).toMatch(/^priority: expected one of Debug/);
    expect(await requests('malformed', '400')).toBe(2);
    await harness.stop();
    expect(harness.out.lines).toHaveLength(0);
  });

  it('answers text/plain with 415 telling the operator to set json_output: true', async () => {
    harness = await startAgent();
    const res = await post('09:15:02.123456789: Notice A shell was spawned', {
      'content-type': 'text/plain',
    });
    expect(res.status).toBe(415);
    expect(String(res.body.error)).toContain('json_output: true');
    const other = await post('<xml/>', { 'content-type': 'application/xml' });
    expect(other.status).toBe(415);
    expect(await requests('unsupported_media_type', '415')).toBe(2);
  });

  it('answers a body over the limit with 413', async () => {
    harness = await startAgent({ sources: { http: { maxBodyBytes: 2048 } } });
    const big = JSON.stringify({
      rule: 'R',
      priority: 'Notice',
      time: '2026-01-01T00:00:00Z',
      output: 'x'.repeat(4096),
    });
    const res = await post(big);
    expect(res.status).toBe(413);
    expect(String(res.body.error)).toContain('maxBodyBytes (2048 bytes)');
    expect(await requests('too_large', '413')).toBe(1);
    expect((await post(CURRENT_ALERT)).status).toBe(200);
  });

  it('answers 429 while the bodies in flight exceed maxInFlightBytes, and takes one body whatever its size', async () => {
    const padded = CURRENT_ALERT.padEnd(4000, ' ');
    harness = await startAgent({ sources: { http: { maxInFlightBytes: 5000 } } });
    const { port } = new URL(harness.url);
    // A sender that has declared 4,000 bytes and sent half of them holds its place until answered.
    const slow = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(padded)) },
    });
    const slowStatus = new Promise<number>((resolve, reject) => {
      slow.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      slow.on('error', reject);
    });
    slow.write(padded.slice(0, 2000));
    slow.flushHeaders();
    await new Promise((resolve) => setTimeout(resolve, 100));

    let refused: Response;
    try {
      refused = await fetch(`${harness.url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: CURRENT_ALERT,
      });
    } finally {
      // Whatever the answer, the slow sender finishes, so that a failure cannot hang the shutdown.
      slow.end(padded.slice(2000));
    }
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(String(((await refused.json()) as { error: string }).error)).toContain('maxInFlightBytes is 5000');
    expect(await requests('too_busy', '429')).toBe(1);
    expect(await slowStatus).toBe(200);
    // Answered: its bytes are free again.
    expect((await post(CURRENT_ALERT)).status).toBe(200);
    // A body larger than the whole allowance is still taken when it is the only one.
    expect((await post(CURRENT_ALERT.padEnd(6000, ' '))).status).toBe(200);
    await harness.stop();
    expect(harness.out.lines).toHaveLength(3);
  });

  it('frees a body’s bytes in flight whatever its answer, and when its sender goes away mid-body', async () => {
    harness = await startAgent({ sources: { http: { maxInFlightBytes: 5000 } } });
    const { port } = new URL(harness.url);
    // Each body takes 4,000 of the 5,000 bytes: one still held would turn the next into a 429.
    expect((await post('{"rule": "x", '.padEnd(4000, ' '))).status).toBe(400);
    expect((await post('x'.repeat(4000), { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post('x'.repeat(4000), { 'content-type': 'application/xml' })).status).toBe(415);
    expect((await post(CURRENT_ALERT.padEnd(4000, ' '))).status).toBe(200);
    expect((await post(CURRENT_ALERT.padEnd(4000, ' '))).status).toBe(200);

    const gone = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/json', 'content-length': '4000' },
    });
    gone.on('error', () => undefined);
    gone.write('x'.repeat(2000));
    gone.flushHeaders();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await post(CURRENT_ALERT.padEnd(4000, ' '))).status).toBe(429);
    gone.destroy();
    let status = 0;
    const deadline = Date.now() + 5000;
    while (status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      status = (await post(CURRENT_ALERT.padEnd(4000, ' '))).status;
    }
    expect(status).toBe(200);
    expect(await requests('too_busy', '429')).toBeGreaterThanOrEqual(1);
  });

  it('requires the bearer token when one is configured (401 otherwise)', async () => {
    harness = await startAgent({ sources: { http: { token: 's3cret-token' } } });
    expect((await post(CURRENT_ALERT)).status).toBe(401);
    expect(
      (await post(CURRENT_ALERT, { 'content-type': 'application/json', authorization: 'Bearer wrong' }))
        .status,
    ).toBe(401);
    const ok = await post(CURRENT_ALERT, {
      'content-type': 'application/json',
      authorization: 'Bearer s3cret-token',
    });
    expect(ok.status).toBe(200);
    expect(await requests('unauthorized', '401')).toBe(2);
    await harness.stop();
    expect(harness.out.lines).toHaveLength(1);
  });

  it('serves many alerts over one keep-alive connection', async () => {
    harness = await startAgent();
    let connections = 0;
    harness.agent.server.app.server.on('connection', () => {
      connections += 1;
    });
    const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const { port } = new URL(harness.url);
    for (let i = 0; i < 20; i++) {
      const { status } = await postVia(keepAlive, port, CURRENT_ALERT, 'application/json');
      expect(status).toBe(200);
    }
    keepAlive.destroy();
    expect(connections).toBe(1);
    await harness.stop();
    expect(harness.out.lines).toHaveLength(20);
  });

  it('answers each of many requests posted at once with its own count, none lost', async () => {
    harness = await startAgent();
    const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 8 });
    const { port } = new URL(harness.url);
    // Request i carries i % 3 + 1 alerts, so an answer given to the wrong request shows.
    const answers = await Promise.all(
      Array.from({ length: 64 }, async (_, i) => ({
        i,
        ...(await postVia(keepAlive, port, `${CURRENT_ALERT}\n`.repeat((i % 3) + 1), 'application/x-ndjson')),
      })),
    );
    keepAlive.destroy();
    for (const { i, status, body } of answers) {
      expect({ i, status, body: JSON.parse(body) }).toEqual({
        i,
        status: 200,
        body: { accepted: (i % 3) + 1 },
      });
    }
    const alerts = answers.reduce((sum, { i }) => sum + (i % 3) + 1, 0);
    expect(await requests('accepted', '200')).toBe(64);
    await harness.stop();
    expect(harness.out.lines).toHaveLength(alerts);
  });

  it('answers before the pipeline runs over the alert: a serial sender (Falco) never waits for it', async () => {
    harness = await startAgent();
    const { agent } = harness;
    // How many alerts the pipeline had settled when each answer was written.
    const settledWhenAnswered: number[] = [];
    agent.server.app.server.prependListener('request', (_req, res) => {
      const end = res.end.bind(res) as (...args: unknown[]) => typeof res;
      res.end = ((...args: unknown[]) => {
        settledWhenAnswered.push(agent.accounting.total);
        return end(...args);
      }) as typeof res.end;
    });
    for (let i = 0; i < 3; i++) expect((await post(CURRENT_ALERT)).status).toBe(200);
    await harness.stop();
    expect(settledWhenAnswered).toEqual([0, 1, 2]);
    expect(harness.out.lines).toHaveLength(3);
  });

  it('reports readiness, health and metrics on the same server', async () => {
    harness = await startAgent();
    expect((await fetch(`${harness.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${harness.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: [{ name: 'source http', up: true }] });
    const metrics = await fetch(`${harness.url}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    expect(await metrics.text()).toContain('perch_component_received_events_total');
    const open = await fetch(`${harness.url}/metrics`, {
      headers: { accept: 'application/openmetrics-text' },
    });
    expect(open.headers.get('content-type')).toContain('application/openmetrics-text');
    expect(await open.text()).toMatch(/# EOF\n?$/);
  });
});
