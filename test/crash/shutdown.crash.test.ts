import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { deliveredIds, idAlert, post, sleep, startAgent, writeConfig } from './crash-harness.js';

let dir: string;
let receiver: HttpReceiver;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'perch-shutdown-'));
  receiver = await HttpReceiver.start();
});

afterAll(async () => {
  await receiver.stop();
  rmSync(dir, { recursive: true, force: true });
});

function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function sendAll(url: string, prefix: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (let i = 0; i < count; i += 50) {
    expect(
      await post(
        url,
        ids.slice(i, i + 50).map((id) => idAlert(id)),
        true,
      ),
    ).toBe(200);
  }
  return ids;
}

describe('SIGTERM with a backlog: shutdown tells the truth', () => {
  it('without a spool: answers 503 with Retry-After while draining, then counts every alert it could not deliver', async () => {
    // A slow destination: part of the backlog goes out during the grace, the rest cannot. Slow
    // enough for that with the webhook's 8 requests in flight (about 80 alerts a second).
    receiver.setDefault({ status: 200, delayMs: 100 });
    const config = writeConfig({ dir, receiverUrl: receiver.url, shutdownGrace: '1500ms' });
    const { perch, url } = await startAgent(config);
    const accepted = await sendAll(url, 'unspooled', 300);
    perch.child.kill('SIGTERM');
    await sleep(200);

    const ingest = await fetch(`${url}/`, { method: 'POST', body: idAlert('late') });
    expect(ingest.status).toBe(503);
    expect(ingest.headers.get('retry-after')).toBe('5');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { status: string }).status).toBe('shutting down');
    expect((await fetch(`${url}/metrics`)).status).toBe(200);

    const code = await perch.exited;
    const delivered = accepted.filter((id) => deliveredIds(receiver.accepted()).has(id)).length;
    const summary = logLines(perch.stderr).find(
      (l) => typeof l.discarded === 'number' && l.level === 'error',
    );
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThan(300);
    expect(code).toBe(3);
    expect(summary?.msg).toMatch(/neither delivered nor spooled and are lost/);
    // Every accepted alert is either delivered or in the count: the numbers add up.
    expect(Number(summary?.discarded) + delivered).toBe(accepted.length);
    receiver.setDefault({ status: 200 });
  });

  it('with a spool: what is not delivered stays on disk, exit 0, and the next start delivers it', async () => {
    await receiver.down();
    const config = writeConfig({
      dir,
      receiverUrl: receiver.url,
      shutdownGrace: '1s',
      spoolPath: join(dir, 'spooled', 'spool.db'),
      sinkExtra: '    spoolMinPriority: Warning\n',
    });
    const { perch, url } = await startAgent(config);
    const accepted = await sendAll(url, 'spooled', 300);
    perch.child.kill('SIGTERM');
    expect(await perch.exited).toBe(0);
    const done = logLines(perch.stderr).find((l) => String(l.msg).startsWith('shutdown complete'));
    expect(done?.spooled).toBe(300);

    await receiver.up();
    const again = await startAgent(config);
    const by = Date.now() + 15_000;
    while (Date.now() < by && accepted.some((id) => !deliveredIds(receiver.accepted()).has(id)))
      await sleep(200);
    again.perch.child.kill('SIGTERM');
    expect(await again.perch.exited).toBe(0);
    expect(accepted.filter((id) => !deliveredIds(receiver.accepted()).has(id))).toEqual([]);
  });
});
