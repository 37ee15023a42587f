import {
  appendFileSync,
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { filter, lastValueFrom, map, type Observable, type Subscription, take, toArray } from 'rxjs';
import {
  type FollowOptions,
  type FollowRecord,
  followFile,
  readLinesOnce,
} from '../../src/sources/file-follower.js';

const POLL_MS = 20;
const WAIT_MS = 4000;

/** Collects a follower's records and lets a test wait for a condition instead of sleeping. */
class Recorder {
  readonly records: FollowRecord[] = [];
  private readonly subscription: Subscription;
  private readonly waiters = new Set<() => void>();
  private failure: unknown;

  constructor(source: Observable<FollowRecord>) {
    this.subscription = source.subscribe({
      next: (record) => {
        this.records.push(record);
        for (const wake of this.waiters) wake();
      },
      error: (err: unknown) => {
        this.failure = err;
        for (const wake of this.waiters) wake();
      },
    });
    recorders.push(this);
  }

  texts(): string[] {
    return this.records.flatMap((r) => (r.kind === 'line' ? [r.line.text] : []));
  }

  lineNumbers(): number[] {
    return this.records.flatMap((r) => (r.kind === 'line' ? [r.line.lineNumber] : []));
  }

  problems(reason?: string): FollowRecord[] {
    return this.records.filter((r) => r.kind === 'problem' && (reason === undefined || r.reason === reason));
  }

  /** Short labels in arrival order: line text, or `!reason` for a problem. */
  sequence(): string[] {
    return this.records.map((r) => (r.kind === 'line' ? r.line.text : `!${r.reason}`));
  }

  until(what: string, condition: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.failure !== undefined) finish(() => reject(this.failure));
        else if (condition()) finish(resolve);
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.sequence())}`)),
          ),
        timeoutMs,
      );
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  untilText(text: string): Promise<void> {
    return this.until(`line ${JSON.stringify(text)}`, () => this.texts().includes(text));
  }

  untilProblem(reason: string): Promise<void> {
    return this.until(`problem ${reason}`, () => this.problems(reason).length > 0);
  }

  stop(): void {
    this.subscription.unsubscribe();
  }
}

/** For state outside the record stream (files on disk, open descriptors): polls until true. */
async function eventually(what: string, condition: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let recorders: Recorder[] = [];
let dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'perch-follow-'));
  dirs.push(dir);
  return dir;
}

function follow(options: FollowOptions): Recorder {
  return new Recorder(followFile({ pollIntervalMs: POLL_MS, positionSaveIntervalMs: POLL_MS, ...options }));
}

/**
 * A follower that starts at the end gives no signal when it has opened the file, so append probe
 * lines until one arrives: everything appended after that is after the starting point.
 */
async function probeUntilFollowing(recorder: Recorder, path: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const probe = `probe-${attempt}`;
    appendFileSync(path, `${probe}\n`);
    try {
      await recorder.until(probe, () => recorder.texts().some((t) => t.startsWith('probe-')), 50);
      return;
    } catch {
      // not following yet
    }
  }
  throw new Error('follower never started');
}

afterEach(() => {
  for (const recorder of recorders) recorder.stop();
  recorders = [];
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

describe('followFile', () => {
  it('emits appended lines with line numbers, handling \\r\\n and skipping empty lines', async () => {
    const path = join(tempDir(), 'events.json');
    writeFileSync(path, 'a\r\n');
    const recorder = follow({ path, fromBeginning: true });
    await recorder.untilText('a');
    appendFileSync(path, '\r\n\n   \nb\n');
    appendFileSync(path, 'c\n');
    await recorder.untilText('c');
    expect(recorder.texts()).toEqual(['a', 'b', 'c']);
    expect(recorder.lineNumbers()).toEqual([1, 5, 6]);
    expect(recorder.problems()).toEqual([]);
    const first = recorder.records[0];
    expect(first?.kind === 'line' && first.line.origin).toBe(`${path} (inode ${statSync(path).ino})`);
  });

  it('starts at the end of an existing file unless fromBeginning', async () => {
    const dir = tempDir();
    const path = join(dir, 'events.json');
    writeFileSync(path, 'old-1\nold-2\n');

    const atEnd = follow({ path, fromBeginning: false });
    await probeUntilFollowing(atEnd, path);
    appendFileSync(path, 'new-1\n');
    await atEnd.untilText('new-1');
    expect(atEnd.texts().filter((t) => !t.startsWith('probe-'))).toEqual(['new-1']);

    const fromStart = follow({ path, fromBeginning: true });
    await fromStart.untilText('new-1');
    expect(fromStart.texts().slice(0, 2)).toEqual(['old-1', 'old-2']);
  });

  it('holds a partial last line until its newline arrives', async () => {
    const path = join(tempDir(), 'events.json');
    // One write, so the follower reads "hel" in the same read as "first".
    writeFileSync(path, 'first\nhel');
    const recorder = follow({ path, fromBeginning: true });
    await recorder.untilText('first');
    expect(recorder.texts()).toEqual(['first']);
    appendFileSync(path, 'lo\n');
    await recorder.untilText('hello');
    expect(recorder.texts()).toEqual(['first', 'hello']);
    expect(recorder.lineNumbers()).toEqual([1, 2]);
  });

  it('after a rename rotation, reads the old file to its end and then the new file, nothing lost or repeated', async () => {
    const dir = tempDir();
    const path = join(dir, 'events.json');
    writeFileSync(path, 'a1\n');
    const recorder = follow({ path, fromBeginning: true });
    await recorder.untilText('a1');

    // All synchronous, so the follower cannot observe anything in between.
    appendFileSync(path, 'a2\na3\n');
    renameSync(path, `${path}.1`);
    appendFileSync(`${path}.1`, 'a4\n'); // the writer has not reopened yet
    writeFileSync(path, 'b1\nb2\n');
    await recorder.untilText('b2');

    appendFileSync(path, 'b3\n');
    await recorder.untilText('b3');
    // A poll landing between the rename and the create may also report the path missing for a moment.
    const sequence = recorder.sequence().filter((s) => s !== '!missing');
    expect(sequence).toEqual(['a1', 'a2', 'a3', 'a4', '!rotated', 'b1', 'b2', 'b3']);
    const b1 = recorder.records.find((r) => r.kind === 'line' && r.line.text === 'b1');
    expect(b1?.kind === 'line' && b1.line).toEqual({
      text: 'b1',
      lineNumber: 1,
      origin: `${path} (inode ${statSync(path).ino})`,
    });
  });

  it('after copytruncate, reads the same file again from the start', async () => {
    const path = join(tempDir(), 'events.json');
    writeFileSync(path, 'c1 first line\nc2 second line\n');
    const recorder = follow({ path, fromBeginning: true });
    await recorder.untilText('c2 second line');

    copyFileSync(path, `${path}.1`);
    truncateSync(path, 0);
    appendFileSync(path, 'd1\n');
    await recorder.untilText('d1');
    expect(recorder.sequence()).toEqual(['c1 first line', 'c2 second line', '!truncated', 'd1']);
    expect(recorder.lineNumbers()).toEqual([1, 2, 1]);
  });

  it('notices a truncation even when the file has regrown past our offset before the next poll', async () => {
    const path = join(tempDir(), 'events.json');
    writeFileSync(path, 'c1\n');
    const recorder = follow({ path, fromBeginning: true });
    await recorder.untilText('c1');

    truncateSync(path, 0);
    appendFileSync(path, 'd1 a longer line than before\nd2\n');
    await recorder.untilText('d2');
    expect(recorder.sequence()).toEqual(['c1', '!truncated', 'd1 a longer line than before', 'd2']);
  });

  it('waits for a missing file and reads it from its start once it appears', async () => {
    const path = join(tempDir(), 'events.json');
    // fromBeginning false: the whole file is newer than the follower, so none of it is skipped.
    const recorder = follow({ path, fromBeginning: false });
    await recorder.untilProblem('missing');
    writeFileSync(path, 'm1\nm2\n');
    await recorder.untilText('m2');
    expect(recorder.sequence()).toEqual(['!missing', 'm1', 'm2']);
  });

  it('resumes from the position file after a restart: no re-reading, no loss', async () => {
    const dir = tempDir();
    const path = join(dir, 'events.json');
    const positionFile = join(dir, 'events.position');
    writeFileSync(path, 'p1\np2\n');
    const options = { path, fromBeginning: true, positionFile, positionSaveIntervalMs: 60_000 };

    const before = follow(options);
    await before.untilText('p2');
    // The first save happened as p1 and p2 were read; with a 60 s interval, only the save on
    // unsubscribe can record p3.
    appendFileSync(path, 'p3\np4-par');
    await before.untilText('p3');
    before.stop();
    const saved = JSON.parse(readFileSync(positionFile, 'utf8')) as Record<string, unknown>;
    expect(saved).toMatchObject({ version: 1, ino: String(statSync(path).ino), offset: 9, lineNumber: 3 });

    appendFileSync(path, 't\np5\n');
    const after = follow(options);
    await after.untilText('p5');
    expect(after.texts()).toEqual(['p4-part', 'p5']);
    expect(after.lineNumbers()).toEqual([4, 5]);
    expect(after.problems()).toEqual([]);
  });

  it('reads a file rotated while stopped from its beginning, losing nothing written meanwhile', async () => {
    const dir = tempDir();
    const path = join(dir, 'events.json');
    const positionFile = join(dir, 'events.position');
    writeFileSync(path, 'r1\nr2\n');
    const before = follow({ path, fromBeginning: true, positionFile });
    await before.untilText('r2');
    before.stop();

    renameSync(path, `${path}.1`);
    writeFileSync(path, 'n1\nn2\n');
    // Even when asked to start at the end, the saved position says we were following this path.
    const after = follow({ path, fromBeginning: false, positionFile });
    await after.untilText('n2');
    expect(after.texts()).toEqual(['n1', 'n2']);
    expect(after.problems().map((p) => (p.kind === 'problem' ? p.reason : 'line'))).toEqual(['rotated']);
  });

  it('saves the position periodically while following, not only on stop', async () => {
    const dir = tempDir();
    const path = join(dir, 'events.json');
    const positionFile = join(dir, 'events.position');
    writeFileSync(path, 's1\n');
    const recorder = follow({ path, fromBeginning: true, positionFile, positionSaveIntervalMs: 30 });
    await recorder.untilText('s1');
    appendFileSync(path, 's2\ns3\n');
    await recorder.untilText('s3');
    const savedOffset = (): unknown => {
      try {
        return (JSON.parse(readFileSync(positionFile, 'utf8')) as { offset?: unknown }).offset;
      } catch {
        return undefined;
      }
    };
    await eventually('the position to reach the end of the file', () => savedOffset() === 9);
  });

  it('counts a line as delivered once handed to a subscriber that unsubscribes while handling it', async () => {
    const dir = tempDir();
    const path = join(dir, 'events.json');
    const positionFile = join(dir, 'events.position');
    writeFileSync(path, 'q1\nq2\nq3\n');
    const options = {
      path,
      fromBeginning: true,
      positionFile,
      pollIntervalMs: POLL_MS,
      positionSaveIntervalMs: 60_000,
    };
    const firstTwo = await lastValueFrom(
      followFile(options).pipe(
        filter((r) => r.kind === 'line'),
        map((r) => r.line.text),
        take(2),
        toArray(),
      ),
    );
    expect(firstTwo).toEqual(['q1', 'q2']);
    const rest = follow(options);
    await rest.untilText('q3');
    expect(rest.texts()).toEqual(['q3']);
  });

  describe('ignores a position file that does not fit, and starts per fromBeginning', () => {
    const cases: Array<{
      name: string;
      reason: string;
      position: (path: string, saved: Record<string, unknown>) => string;
    }> = [
      {
        name: 'another inode',
        reason: 'rotated',
        position: (_path, saved) => JSON.stringify({ ...saved, ino: '1' }),
      },
      {
        name: 'same inode, different first bytes (inode reused)',
        reason: 'rotated',
        position: (_path, saved) => JSON.stringify({ ...saved, headSha256: '0'.repeat(64) }),
      },
      {
        name: 'offset beyond the end of the file',
        reason: 'truncated',
        position: (_path, saved) => JSON.stringify({ ...saved, offset: 10_000 }),
      },
      { name: 'not JSON', reason: 'read_error', position: () => '{"version":1,' },
      {
        name: 'invalid fields',
        reason: 'read_error',
        position: (_path, saved) => JSON.stringify({ ...saved, offset: -5 }),
      },
    ];
    for (const { name, reason, position } of cases) {
      it(name, async () => {
        const dir = tempDir();
        const path = join(dir, 'events.json');
        const positionFile = join(dir, 'events.position');
        writeFileSync(path, 'x1\nx2\n');
        const options = { path, fromBeginning: true, positionFile };
        const first = follow(options);
        await first.untilText('x2');
        first.stop();
        const saved = JSON.parse(readFileSync(positionFile, 'utf8')) as Record<string, unknown>;
        writeFileSync(positionFile, position(path, saved));

        const recorder = follow(options);
        await recorder.untilText('x2');
        expect(recorder.sequence()).toEqual([`!${reason}`, 'x1', 'x2']);
      });
    }

    it('a file replaced while stopped (new inode)', async () => {
      const dir = tempDir();
      const path = join(dir, 'events.json');
      const positionFile = join(dir, 'events.position');
      writeFileSync(path, 'y1\n');
      const options = { path, fromBeginning: true, positionFile };
      const first = follow(options);
      await first.untilText('y1');
      first.stop();
      // Created before the old one goes, so it cannot get the old inode number.
      writeFileSync(`${path}.new`, 'z1\nz2\n');
      renameSync(`${path}.new`, path);

      const recorder = follow(options);
      await recorder.untilText('z2');
      expect(recorder.sequence()).toEqual(['!rotated', 'z1', 'z2']);
    });
  });

  it('reports an overlong line and skips it, without waiting for its end, while later lines still arrive', async () => {
    const path = join(tempDir(), 'events.json');
    writeFileSync(path, `ok1\n${'x'.repeat(500)}\nok2\n`);
    const recorder = follow({ path, fromBeginning: true, maxLineBytes: 100 });
    await recorder.untilText('ok2');
    expect(recorder.sequence()).toEqual(['ok1', '!line_too_long', 'ok2']);
    expect(recorder.lineNumbers()).toEqual([1, 3]);

    // An unfinished overlong line is reported as soon as it passes the limit, not buffered.
    appendFileSync(path, 'y'.repeat(300));
    await recorder.until('second line_too_long', () => recorder.problems('line_too_long').length === 2);
    appendFileSync(path, `${'y'.repeat(300)}\nok3\n`);
    await recorder.untilText('ok3');
    expect(recorder.sequence()).toEqual(['ok1', '!line_too_long', 'ok2', '!line_too_long', 'ok3']);
    expect(recorder.lineNumbers()).toEqual([1, 3, 5]);
    // A line of exactly the limit, with \r\n, is still a line.
    appendFileSync(path, `${'z'.repeat(100)}\r\n`);
    await recorder.untilText('z'.repeat(100));
  });

  it('decodes multi-byte UTF-8 split across a 64 KiB read and across appends', async () => {
    const path = join(tempDir(), 'events.json');
    // '€' is 3 bytes; it starts one byte before the 64 KiB boundary.
    const long = `${'a'.repeat(64 * 1024 - 1)}€ end`;
    writeFileSync(path, `${long}\n`);
    const recorder = follow({ path, fromBeginning: true, maxLineBytes: 128 * 1024 });
    await recorder.untilText(long);

    const emoji = Buffer.from('😀', 'utf8');
    // One write, so the follower has read the first half of the emoji once "marker" arrives.
    appendFileSync(path, Buffer.concat([Buffer.from('marker\nsmile '), emoji.subarray(0, 2)]));
    await recorder.untilText('marker');
    appendFileSync(path, Buffer.concat([emoji.subarray(2), Buffer.from(' é\n')]));
    await recorder.untilText('smile 😀 é');
    expect(recorder.texts()).toEqual([long, 'marker', 'smile 😀 é']);
  });

  const onLinux = process.platform === 'linux' ? it : it.skip;
  onLinux('releases the file handle on unsubscribe', async () => {
    const fdDir = '/proc/self/fd';
    const path = join(tempDir(), 'events.json');
    writeFileSync(path, 'h1\n');
    const handlesOnFile = (): number =>
      readdirSync(fdDir).filter((fd) => {
        try {
          return readlinkSync(join(fdDir, fd)) === path;
        } catch {
          return false;
        }
      }).length;
    const recorder = follow({ path, fromBeginning: true });
    await recorder.untilText('h1');
    expect(handlesOnFile()).toBe(1);
    recorder.stop();
    await eventually('the file handle to close', () => handlesOnFile() === 0);
  });
});

describe('readLinesOnce', () => {
  it('reads the whole file with 1-based line numbers, including a last line without newline, then completes', async () => {
    const path = join(tempDir(), 'events.json');
    const before = `r1\n\nr3\r\n${'x'.repeat(50)}\n`;
    // 'ü' (2 bytes) straddles the first 64 KiB read.
    const long = `${'b'.repeat(64 * 1024 - 1 - Buffer.byteLength(before))}ü!`;
    writeFileSync(path, `${before}${long}\nr6`);
    const records = await lastValueFrom(readLinesOnce(path, 128 * 1024).pipe(toArray()));
    const summary = records.map((r) => (r.kind === 'line' ? [r.line.lineNumber, r.line.text] : r.reason));
    expect(summary).toEqual([
      [1, 'r1'],
      [3, 'r3'],
      [4, 'x'.repeat(50)],
      [5, long],
      [6, 'r6'],
    ]);
    const tooShort = await lastValueFrom(readLinesOnce(path, 10).pipe(toArray()));
    expect(tooShort.map((r) => (r.kind === 'line' ? r.line.lineNumber : r.reason))).toEqual([
      1,
      3,
      'line_too_long',
      'line_too_long',
      6,
    ]);
  });

  it('errors for a missing file', async () => {
    await expect(lastValueFrom(readLinesOnce(join(tempDir(), 'nope.json')))).rejects.toThrow(/ENOENT/);
  });
});
