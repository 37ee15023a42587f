// Shutdown must not wait on a client: one that stalls in the middle of a request body would hold the
// process until Node's request timeout (5 minutes), past a pod's termination grace, and Kubernetes
// would SIGKILL it before the sinks were closed.

import { connect, type Socket } from 'node:net';
import { afterEach, expect, it } from '@jest/globals';
import { CLOSE_WAIT_MS } from '../../src/server/http-server.js';
import { startAgent } from '../helpers/agent-harness.js';

let socket: Socket | undefined;
afterEach(() => {
  socket?.destroy();
});

it('stop ends within the grace and the close wait while a client stalls mid-body, and cuts its connection', async () => {
  const graceMs = 1000;
  const harness = await startAgent({ server: { listen: '127.0.0.1:0', shutdownGrace: `${graceMs}ms` } });
  const stalled = connect(Number(new URL(harness.url).port), '127.0.0.1');
  socket = stalled;
  await new Promise((resolve) => stalled.once('connect', resolve));
  const closed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
  // Headers and the start of a 1,000-byte body, then nothing more.
  stalled.write(
    'POST / HTTP/1.1\r\nHost: perch\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"rule":',
  );
  await new Promise((resolve) => setTimeout(resolve, 200));

  const started = Date.now();
  await harness.stop();
  const took = Date.now() - started;
  await closed;
  // The drain has nothing to wait for here; the close waits CLOSE_WAIT_MS, then cuts the stalled one.
  expect(took).toBeGreaterThanOrEqual(CLOSE_WAIT_MS - 50);
  expect(took).toBeLessThan(graceMs + CLOSE_WAIT_MS + 3000);
}, 20_000);
