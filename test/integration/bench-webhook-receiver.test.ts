import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

// The bench's webhook receiver (plain JavaScript, run by bench/run.js): the delivery figures add up
// its counts over the three measured phases, so each phase's alerts must count once, wherever their
// ranges of sequence numbers lie.
const RECEIVER = fileURLToPath(new URL('../../bench/webhook-receiver.js', import.meta.url));

const SCRIPT = `
const { WebhookReceiver } = await import(process.argv[1]);
const receiver = new WebhookReceiver();
const { port } = await receiver.start();
for (const seq of [20_000_000, 20_000_001, 20_000_002, 30_000_000, 30_000_001]) receiver.postedAt.set(seq, performance.now());
const post = (body) => fetch('http://127.0.0.1:' + port + '/', { method: 'POST', body }).then((r) => r.text());
await post('{"type":"alert.event","data":"... seq=20000000 ..."}');
await post('[{"type":"alert.event","data":"seq=20000001"},{"type":"alert.incident","data":"seq=30000000"}]');
await post('{"type":"alert.event","data":"seq=20000001 again"}');
const phase = (n, count) => ({ from: n * 10_000_000, to: n * 10_000_000 + count });
const out = {
  both: receiver.stats({ ranges: [phase(2, 3), phase(3, 2)] }),
  first: receiver.stats({ ranges: [phase(2, 3)] }),
  none: receiver.stats({ ranges: [] }),
};
await receiver.stop();
process.stdout.write(JSON.stringify(out));
`;

describe('bench webhook receiver', () => {
  it('counts the alerts of every range asked for, each once, and requests and incidents in all', () => {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT, RECEIVER], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(result.stderr).toBe('');
    const { both, first, none } = JSON.parse(result.stdout);
    expect(both).toMatchObject({ delivered: 3, requests: 3, incidents: 1, duplicates: 1 });
    expect(first).toMatchObject({ delivered: 2, requests: 3 });
    expect(none).toMatchObject({ delivered: 0, p99: null, requests: 3, incidents: 1 });
  });
});
