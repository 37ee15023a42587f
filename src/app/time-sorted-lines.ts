import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

/** Characters of lines held in memory before they are sorted and written out as one run. */
export const DEFAULT_MAX_HELD_CHARS = 32 * 1024 * 1024;
const READ_BYTES = 64 * 1024;

interface Entry {
  timeNs: bigint;
  text: string;
}

const byTime = (a: Entry, b: Entry) => (a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : 0);

/**
 * Lines put back in the order of their times, for `perch replay`: a file merged from several nodes'
 * logs (or two logs one after the other) must give the same windows as the same alerts in time
 * order. Lines of the same time keep the order they were added in.
 *
 * Memory stays bounded whatever the file's size: up to `maxHeldChars` of lines are held; beyond it
 * they are sorted and written to a temporary file (a run), and the runs are merged when read back.
 * A file that fits is sorted in memory and never touches the disk.
 */
export class TimeSortedLines {
  private held: Entry[] = [];
  private heldChars = 0;
  private readonly runs: string[] = [];
  private dir: string | undefined;

  constructor(private readonly maxHeldChars = DEFAULT_MAX_HELD_CHARS) {}

  add(text: string, timeNs: bigint): void {
    this.held.push({ timeNs, text });
    this.heldChars += text.length;
    if (this.heldChars >= this.maxHeldChars) this.spill();
  }

  /** How many temporary runs were written (0 when everything fitted in memory). */
  get spilled(): number {
    return this.runs.length;
  }

  /** Every line added, in time order; read it once, then call dispose(). */
  lines(): Iterable<string> | AsyncIterable<string> {
    if (this.runs.length === 0) {
      const entries = this.held.sort(byTime);
      this.held = [];
      return entries.map((entry) => entry.text);
    }
    if (this.held.length > 0) this.spill();
    return this.merge();
  }

  /** Removes the temporary runs, if any. */
  dispose(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private spill(): void {
    this.dir ??= mkdtempSync(join(tmpdir(), 'perch-replay-'));
    const path = join(this.dir, `run-${this.runs.length}`);
    // Each line is led by its time and a space: a number has no space, so the first one ends it.
    writeFileSync(
      path,
      this.held
        .sort(byTime)
        .map((e) => `${e.timeNs} ${e.text}\n`)
        .join(''),
    );
    this.runs.push(path);
    this.held = [];
    this.heldChars = 0;
  }

  private async *merge(): AsyncGenerator<string> {
    const readers: RunReader[] = [];
    try {
      for (const path of this.runs) readers.push(new RunReader(await open(path, 'r')));
      const heads = await Promise.all(readers.map((reader) => reader.next()));
      for (;;) {
        // Few runs (one per maxHeldChars of input): a scan for the earliest is cheaper than a heap.
        // The earlier run wins a tie, which keeps lines of the same time in file order.
        let first = -1;
        for (let i = 0; i < heads.length; i += 1) {
          const head = heads[i];
          if (head && (first === -1 || head.timeNs < (heads[first] as Entry).timeNs)) first = i;
        }
        if (first === -1) return;
        yield (heads[first] as Entry).text;
        heads[first] = await (readers[first] as RunReader).next();
      }
    } finally {
      await Promise.all(readers.map((reader) => reader.close()));
    }
  }
}

/** Reads a run back one entry at a time. */
class RunReader {
  private readonly buffer = Buffer.allocUnsafe(READ_BYTES);
  private readonly decoder = new StringDecoder('utf8');
  private pending: string[] = [];
  private index = 0;
  private rest = '';
  private ended = false;

  constructor(private readonly file: FileHandle) {}

  async next(): Promise<Entry | undefined> {
    while (this.index >= this.pending.length) {
      if (this.ended) return undefined;
      const { bytesRead } = await this.file.read(this.buffer, 0, READ_BYTES, null);
      if (bytesRead === 0) this.ended = true;
      // Runs are written by spill(), every line ending in a newline: nothing is left at the end.
      const text = this.rest + this.decoder.write(this.buffer.subarray(0, bytesRead));
      const lines = text.split('\n');
      this.rest = lines.pop() ?? '';
      this.pending = lines;
      this.index = 0;
    }
    const line = this.pending[this.index++] as string;
    const space = line.indexOf(' ');
    return { timeNs: BigInt(line.slice(0, space)), text: line.slice(space + 1) };
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
