import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { deliveredIds, idAlert, post, sleep, startAgent, warnings, writeConfig } from './crash-harness.js';

// Kill rounds; PERCH_CRASH_KILLS raises it for the long form (`PERCH_CRASH_KILLS=50 npm run test:crash`).
const KILLS = Math.max(5, Number(process.env.PERCH_CRASH_KILLS ?? 6));

let dir: string;
let receiver: HttpReceiver;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'perch-crash-'));
  receiver = await HttpReceiver.start();
});

afterAll(async () => {
  await receiver.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('SIGKILL at random moments: an acknowledged alert at or above spoolMinPriority is never lost', () => {
  it(`holds over ${KILLS} kills, single alerts and NDJSON batches, receiver up and down`, async () => {
    const config = writeConfig({
      dir,
      receiverUrl: receiver.url,
      sinkExtra: '    spoolMinPriority: Warning\n',
    });
    const acknowledged = new Set<string>();
    const acknowledgedBelow = new Set<string>();
    let next = 0;
    // What each agent logged at warn and above, shown when an alert is lost.
    const rounds: string[] = [];
    for (let round = 0; round < KILLS; round++) {
      // Odd rounds: the destination is down, so everything waits in the spool.
      if (round % 2 === 1) await receiver.down();
      else await receiver.up();
      const { perch, url } = await startAgent(config);
      // Every third round kills at the moment a large batch's 200 arrives (as the pipeline is still
      // working through it); the others at a random moment of a mixed stream.
      const killOnBigAck = round % 3 === 2;
      let running = true;
      let requests = 0;
      const sender = (async () => {
        while (running) {
          requests += 1;
          // Mostly what Falco sends (one alert), some small batches, and now and then one larger
          // than the pipeline takes in one turn.
          const big = requests % 25 === 0 || (killOnBigAck && requests > 5);
          const size = big ? 1500 : requests % 3 === 0 ? 1 + (requests % 50) : 1;
          const batch = Array.from({ length: size }, () => {
            next += 1;
            const priority = next % 5 === 0 ? 'Notice' : next % 7 === 0 ? 'Critical' : 'Warning';
            return { id: `r${round}-${next}`, priority };
          });
          const status = await post(
            url,
            batch.map((a) => idAlert(a.id, a.priority)),
            size > 1 || requests % 2 === 0,
          );
          if (status !== 200) continue;
          if (big && killOnBigAck) perch.child.kill('SIGKILL');
          for (const a of batch) (a.priority === 'Notice' ? acknowledgedBelow : acknowledged).add(a.id);
        }
      })();
      if (!killOnBigAck) {
        // A random moment: sometimes right after start, sometimes deep into the stream.
        await sleep(50 + Math.floor(Math.random() * 700));
        perch.child.kill('SIGKILL');
      }
      await perch.exited;
      running = false;
      await sender;
      rounds.push(
        `round ${round}: receiver ${receiver.isUp ? 'up' : 'down'} on port ${receiver.port}, Perch on ${url}; ${warnings(perch.stderr)}`,
      );
    }

    await receiver.up();
    const { perch } = await startAgent(config);
    // The receiver shares this process: check now and then, not in a tight loop that would starve it.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const delivered = deliveredIds(receiver.accepted());
      if ([...acknowledged].every((id) => delivered.has(id))) break;
      await sleep(250);
    }
    perch.child.kill('SIGTERM');
    expect(await perch.exited).toBe(0);

    const delivered = deliveredIds(receiver.accepted());
    const lost = [...acknowledged].filter((id) => !delivered.has(id));
    const duplicates = [...delivered.values()].filter((n) => n > 1).length;
    process.stdout.write(
      `crash suite: ${KILLS} kills, ${acknowledged.size} acknowledged at Warning or above, ${lost.length} lost, ` +
        `${duplicates} delivered more than once; below the threshold ${acknowledgedBelow.size} acknowledged, ` +
        `${[...acknowledgedBelow].filter((id) => !delivered.has(id)).length} lost (best effort)\n`,
    );
    if (lost.length > 0)
      process.stdout.write(`${[...rounds, `last: ${warnings(perch.stderr)}`].join('\n')}\n`);
    expect(acknowledged.size).toBeGreaterThan(KILLS * 20);
    expect(lost).toEqual([]);
  });
});
