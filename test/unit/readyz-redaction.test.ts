import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../../src/logging/logger.js';
import { PerchMetrics } from '../../src/metrics/perch-metrics.js';
import { HttpServer } from '../../src/server/http-server.js';

describe('/readyz', () => {
  it('shows each check with its detail, credentials redacted', async () => {
    const server = new HttpServer(new PerchMetrics({ processMetrics: false }), createLogger('silent'));
    server.addReadinessCheck({
      name: 'sink hook',
      check: () => ({
        up: false,
        detail: 'HTTP 503: /services/T0001/B0002/SlackSecret via bot1:TelegramSecret',
      }),
    });
    server.addReadinessCheck({ name: 'source http', check: () => ({ up: true }) });
    const res = await server.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.body).not.toContain('SlackSecret');
    expect(res.body).not.toContain('TelegramSecret');
    expect(res.json()).toEqual({
      status: 'not ready',
      checks: [
        { name: 'sink hook', up: false, detail: 'HTTP 503: /services/<redacted> via bot<redacted>' },
        { name: 'source http', up: true },
      ],
    });
    await server.app.close();
  });
});
