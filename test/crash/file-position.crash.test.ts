import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { deliveredIds, idAlert, sleep, startAgent, writeConfig } from './crash-harness.js';

let dir: string;
let receiver: HttpReceiver;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'perch-position-'));
  receiver = await HttpReceiver.start();
});

afterAll(async () => {
  await receiver.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the file source: a saved position acknowledges only what is durable', () => {
  it('SIGKILL the moment a position is saved: every line before it is delivered after the restart', async () => {
    const events = join(dir, 'events.json');
    const position = join(dir, 'state', 'events.pos');
    appendFileSync(events, '');
    const config = writeConfig({
      dir,
      receiverUrl: receiver.url,
      sinkExtra: `    spoolMinPriority: Warning
sources:
  http: { enabled: true }
  files:
    - path: ${events}
      positionFile: ${position}
      fromBeginning: true
      pollInterval: 20ms
`,
    });
    const written: string[] = [];
    for (let round = 0; round < 4; round++) {
      if (round % 2 === 0) await receiver.down();
      else await receiver.up();
      const { perch } = await startAgent(config);
      const savedBefore = existsSync(position) ? statSync(position).mtimeMs : 0;
      const lines = Array.from({ length: 3000 }, (_, i) => `file-${round}-${i}`);
      appendFileSync(events, `${lines.map((id) => idAlert(id)).join('\n')}\n`);
      written.push(...lines);
      // The moment a new position is on disk, the process dies.
      const by = Date.now() + 10_000;
      while (Date.now() < by && (!existsSync(position) || statSync(position).mtimeMs === savedBefore))
        await new Promise((r) => setImmediate(r));
      perch.child.kill('SIGKILL');
      await perch.exited;
      expect(existsSync(position)).toBe(true);
    }
    await receiver.up();
    const { perch } = await startAgent(config);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && written.some((id) => !deliveredIds(receiver.accepted()).has(id)))
      await sleep(250);
    perch.child.kill('SIGTERM');
    expect(await perch.exited).toBe(0);
    const delivered = deliveredIds(receiver.accepted());
    const lost = written.filter((id) => !delivered.has(id));
    process.stdout.write(
      `file source: ${written.length} lines, ${lost.length} lost, position ${readFileSync(position, 'utf8').slice(0, 80)}\n`,
    );
    expect(lost).toEqual([]);
  });
});
