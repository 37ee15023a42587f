import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { deliveredIds, idAlert, metric, post, sleep, startAgent, writeConfig } from './crash-harness.js';

// A real full disk: a 1 MiB tmpfs for the spool. Mounting needs root, as CI has; elsewhere the
// suite says why it cannot run instead of passing without testing anything.
let dir: string;
let disk: string;
let receiver: HttpReceiver;
let mounted = false;

function fill(): void {
  // Fill every free byte: dd stops at ENOSPC, which is the point.
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${join(disk, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
  } catch {
    // "No space left on device" is the expected end.
  }
}

function free(): void {
  rmSync(join(disk, 'filler'), { force: true });
}

async function readyz(
  url: string,
): Promise<{ status: string; checks: { name: string; up: boolean; detail?: string }[] }> {
  return (await fetch(`${url}/readyz`)).json() as Promise<{
    status: string;
    checks: { name: string; up: boolean; detail?: string }[];
  }>;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'perch-disk-'));
  disk = join(dir, 'disk');
  mkdirSync(disk);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk], { stdio: 'ignore' });
    mounted = true;
  } catch {
    mounted = false;
  }
  receiver = await HttpReceiver.start();
});

afterAll(async () => {
  await receiver.stop();
  if (mounted) execFileSync('umount', [disk]);
  rmSync(dir, { recursive: true, force: true });
});

describe('a full spool disk: Perch starts, degrades visibly, keeps ingesting and recovers on its own', () => {
  it('needs root to mount a small tmpfs (CI runs as root)', () => {
    if (!mounted) writeFileSync(join(dir, 'why'), 'mount failed');
    expect(mounted || process.env.CI !== 'true').toBe(true);
  });

  it('starts on a full disk, counts what it cannot spool, and spools again once the disk frees', async () => {
    if (!mounted) return;
    fill();
    const config = writeConfig({
      dir,
      receiverUrl: receiver.url,
      spoolPath: join(disk, 'spool.db'),
      sinkExtra: '    spoolMinPriority: Warning\n',
    });
    const { perch, url } = await startAgent(config);

    // Down, named, and still taking alerts in (delivered from memory while the receiver is up).
    const spoolCheck = (await readyz(url)).checks.find((c) => c.name === 'spool');
    expect(spoolCheck?.up).toBe(false);
    expect(spoolCheck?.detail).toMatch(/disk is full|SQLITE_FULL|ENOSPC|no space/i);
    expect(await metric(url, 'perch_spool_up')).toBe(0);
    for (let i = 0; i < 20; i++) expect(await post(url, [idAlert(`full-${i}`)], false)).toBe(200);
    expect(
      await metric(url, 'perch_spool_write_failures_total', 'component_id="intake"'),
    ).toBeGreaterThanOrEqual(20);
    const deadline = Date.now() + 10_000;
    while (deliveredIds(receiver.accepted()).size < 20 && Date.now() < deadline) await sleep(100);
    expect(deliveredIds(receiver.accepted()).size).toBe(20);
    const deliveredBefore = await metric(
      url,
      'perch_sink_deliveries_total',
      'sink="hook",status="delivered"',
    );
    expect(deliveredBefore).toBe(20);

    // The disk frees: the spool comes back by itself and alerts are durable again.
    free();
    const upBy = Date.now() + 10_000;
    while ((await metric(url, 'perch_spool_up')) !== 1 && Date.now() < upBy) await sleep(100);
    expect(await metric(url, 'perch_spool_up')).toBe(1);
    expect((await readyz(url)).checks.find((c) => c.name === 'spool')?.up).toBe(true);
    await receiver.down();
    for (let i = 0; i < 10; i++) expect(await post(url, [idAlert(`after-${i}`)], false)).toBe(200);
    await sleep(300);
    expect(await metric(url, 'perch_sink_spool_entries', 'sink="hook"')).toBeGreaterThanOrEqual(10);
    // SIGKILL: the spooled ones must come back with the next start.
    perch.child.kill('SIGKILL');
    await perch.exited;
    await receiver.up();
    const again = await startAgent(config);
    const by = Date.now() + 10_000;
    const ids = () => deliveredIds(receiver.accepted());
    while (
      Date.now() < by &&
      !Array.from({ length: 10 }, (_, i) => `after-${i}`).every((id) => ids().has(id))
    )
      await sleep(100);
    again.perch.child.kill('SIGTERM');
    expect(await again.perch.exited).toBe(0);
    expect(Array.from({ length: 10 }, (_, i) => `after-${i}`).filter((id) => !ids().has(id))).toEqual([]);
  });

  it('fills up while running: alerts still get 200, the loss of durability is counted, nothing is counted as delivered that was not', async () => {
    if (!mounted) return;
    free();
    rmSync(join(disk, 'spool.db'), { force: true });
    rmSync(join(disk, 'spool.db-wal'), { force: true });
    rmSync(join(disk, 'spool.db-shm'), { force: true });
    await receiver.down();
    const config = writeConfig({
      dir,
      receiverUrl: receiver.url,
      spoolPath: join(disk, 'spool.db'),
      sinkExtra: '    spoolMinPriority: Warning\n    queueSize: 100000\n',
    });
    const { perch, url } = await startAgent(config);
    expect(await metric(url, 'perch_spool_up')).toBe(1);
    fill();
    const accepted: string[] = [];
    for (let i = 0; i < 40; i++) {
      const batch = Array.from({ length: 25 }, (_, j) => `fill-${i}-${j}`);
      expect(
        await post(
          url,
          batch.map((id) => idAlert(id)),
          true,
        ),
      ).toBe(200);
      accepted.push(...batch);
    }
    expect(await metric(url, 'perch_spool_up')).toBe(0);
    expect((await readyz(url)).checks.find((c) => c.name === 'spool')?.up).toBe(false);
    const failures =
      (await metric(url, 'perch_spool_write_failures_total', 'component_id="intake"')) +
      (await metric(url, 'perch_spool_write_failures_total', 'component_id="hook"'));
    expect(failures).toBeGreaterThan(0);
    expect(await metric(url, 'perch_sink_deliveries_total', 'sink="hook",status="delivered"')).toBe(0);

    // The disk frees and the destination comes back: every accepted alert arrives (this process kept them).
    free();
    await receiver.up();
    const by = Date.now() + 20_000;
    while (Date.now() < by && deliveredIds(receiver.accepted()).size < accepted.length + 30) await sleep(200);
    const ids = deliveredIds(receiver.accepted());
    expect(accepted.filter((id) => !ids.has(id))).toEqual([]);
    expect(await metric(url, 'perch_spool_up')).toBe(1);
    perch.child.kill('SIGTERM');
    expect(await perch.exited).toBe(0);
  });
});
