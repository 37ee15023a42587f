import { type BigIntStats, type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Observable, type Subscriber } from '../util/rx.js';
import {
  checkPosition,
  HEAD_BYTES,
  headDigest,
  loadPosition,
  readHead,
  type SavedPosition,
  savePosition,
} from './file-position.js';

export interface FollowOptions {
  path: string;
  /** Start at the beginning of an existing file (true) or at its end (false, like tail -F). Ignored when a saved position applies. */
  fromBeginning: boolean;
  /** When set, the position (device+inode+offset, plus a hash of the first line or first 256 bytes to detect a reused inode) is saved here and a restart resumes where it stopped, without re-reading. Written atomically (write temp + rename), at most every `positionSaveIntervalMs` and on stop. */
  positionFile?: string;
  positionSaveIntervalMs?: number; // default 1000
  /** Called right before a position is saved: whatever the emitted lines must be, they must be by now. */
  beforeSavePosition?: () => void;
  pollIntervalMs?: number; // default 250; stat polling (fs.watch is unreliable across rotation and on some filesystems; you may combine fs.watch for latency with polling for correctness)
  maxLineBytes?: number; // default 1 MiB; a longer line is emitted as an error record (see below) and skipped, never buffered without bound
}

export interface FollowedLine {
  text: string;
  /**
   * 1-based, counting every line (empty ones too) from where reading of this file began: the true
   * line number when the file was read from its start, or resumed from a position that was.
   */
  lineNumber: number;
  /** file path and inode it came from */
  origin: string;
}

export type FollowRecord =
  | { kind: 'line'; line: FollowedLine }
  | {
      kind: 'problem';
      reason: 'line_too_long' | 'truncated' | 'rotated' | 'missing' | 'read_error';
      detail: string;
    };

const DEFAULT_POSITION_SAVE_INTERVAL_MS = 1000;
const DEFAULT_POLL_INTERVAL_MS = 250;
const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
/** Reading a large backlog yields after this much so rotation checks and position saves still happen. */
const MAX_BYTES_PER_TICK = 16 * 1024 * 1024;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Follows a growing file like `tail -F`: survives rotation by rename and by copytruncate, waits for
 * a missing file, and with `positionFile` resumes after a restart where it stopped.
 * Never errors for file-system trouble; that arrives as `problem` records.
 */
export function followFile(options: FollowOptions): Observable<FollowRecord> {
  return new Observable<FollowRecord>((subscriber) => {
    const follower = new Follower(resolveOptions(options), subscriber);
    follower.start();
    return () => follower.stop();
  });
}

/**
 * Reads a whole file once from the start and completes at its end (`perch replay`). A last line
 * without a newline is emitted too. Failing to open or read the file errors the Observable.
 * Reads sequentially, so pipes such as /dev/stdin work as well as regular files.
 */
export function readLinesOnce(path: string, maxLineBytes = DEFAULT_MAX_LINE_BYTES): Observable<FollowRecord> {
  return new Observable<FollowRecord>((subscriber) => {
    let stopped = false;
    const run = async (): Promise<void> => {
      const fh = await open(path, 'r');
      try {
        const origin = describeOrigin(path, (await fh.stat({ bigint: true })).ino);
        const splitter = new LineSplitter(positiveInteger('maxLineBytes', maxLineBytes), 0, 0);
        const emit = recordEmitter(subscriber, origin, splitter.maxLineBytes);
        const keepGoing = (): boolean => !stopped;
        const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
        for (;;) {
          const { bytesRead } = await fh.read(buffer, 0, CHUNK_BYTES, null);
          if (stopped) return;
          if (bytesRead === 0) break;
          splitter.push(buffer.subarray(0, bytesRead), emit, keepGoing);
        }
        splitter.flush(emit);
        subscriber.complete();
      } finally {
        await fh.close();
      }
    };
    run().catch((err: unknown) => subscriber.error(err));
    return () => {
      stopped = true;
    };
  });
}

interface ResolvedOptions {
  path: string;
  fromBeginning: boolean;
  positionFile: string | undefined;
  positionSaveIntervalMs: number;
  pollIntervalMs: number;
  maxLineBytes: number;
  beforeSavePosition?: () => void;
}

function resolveOptions(options: FollowOptions): ResolvedOptions {
  return {
    path: options.path,
    fromBeginning: options.fromBeginning,
    positionFile: options.positionFile,
    positionSaveIntervalMs: positiveInteger(
      'positionSaveIntervalMs',
      options.positionSaveIntervalMs ?? DEFAULT_POSITION_SAVE_INTERVAL_MS,
    ),
    pollIntervalMs: positiveInteger('pollIntervalMs', options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS),
    maxLineBytes: positiveInteger('maxLineBytes', options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES),
    ...(options.beforeSavePosition ? { beforeSavePosition: options.beforeSavePosition } : {}),
  };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

type SplitEvent =
  | { kind: 'line'; text: string; lineNumber: number }
  | { kind: 'too_long'; lineNumber: number; bytes: number; complete: boolean };

/**
 * Cuts bytes into lines at 0x0A before decoding, so a UTF-8 character split across reads is
 * decoded whole. Tracks the byte offset just after the last finished line, which is what a saved
 * position may point at.
 */
class LineSplitter {
  private pieces: Buffer[] = [];
  /** Bytes of the unfinished line that are kept (0 while discarding). */
  private heldBytes = 0;
  /** Bytes after `committedOffset` already read, including any being discarded. */
  private uncommittedBytes = 0;
  private discarding = false;

  constructor(
    readonly maxLineBytes: number,
    public committedOffset: number,
    public lineNumber: number,
  ) {}

  /**
   * Emits the lines finished in `chunk`. The offset and line number advance before each emit, so
   * a subscriber that unsubscribes while handling a line has that line counted as delivered.
   */
  push(chunk: Buffer, emit: (event: SplitEvent) => void, keepGoing: () => boolean): void {
    let start = 0;
    while (start < chunk.length && keepGoing()) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline === -1) {
        this.hold(chunk.subarray(start), emit);
        return;
      }
      this.finish(chunk.subarray(start, newline), 1, emit);
      start = newline + 1;
    }
  }

  /** Ends the unfinished line as if a newline followed it: the file is over. */
  flush(emit: (event: SplitEvent) => void): void {
    if (this.uncommittedBytes > 0) this.finish(Buffer.alloc(0), 0, emit);
  }

  private hold(rest: Buffer, emit: (event: SplitEvent) => void): void {
    this.uncommittedBytes += rest.length;
    if (this.discarding) return;
    this.heldBytes += rest.length;
    // +1: a trailing \r is not part of the line, and we cannot tell yet whether the last byte is one.
    if (this.heldBytes > this.maxLineBytes + 1) {
      const bytes = this.heldBytes;
      this.pieces = [];
      this.heldBytes = 0;
      this.discarding = true;
      emit({ kind: 'too_long', lineNumber: this.lineNumber + 1, bytes, complete: false });
      return;
    }
    // Copied because the caller reuses its read buffer.
    this.pieces.push(Buffer.from(rest));
  }

  private finish(segment: Buffer, newlineBytes: number, emit: (event: SplitEvent) => void): void {
    const wasDiscarding = this.discarding;
    const pieces = this.pieces;
    const totalBytes = this.heldBytes + segment.length;
    this.committedOffset += this.uncommittedBytes + segment.length + newlineBytes;
    this.lineNumber += 1;
    this.pieces = [];
    this.heldBytes = 0;
    this.uncommittedBytes = 0;
    this.discarding = false;
    // Already reported when it outgrew the limit.
    if (wasDiscarding) return;

    const lastByte =
      totalBytes === 0 ? undefined : segment.length > 0 ? segment[segment.length - 1] : lastOf(pieces);
    const contentBytes = lastByte === CARRIAGE_RETURN ? totalBytes - 1 : totalBytes;
    if (contentBytes > this.maxLineBytes) {
      emit({ kind: 'too_long', lineNumber: this.lineNumber, bytes: contentBytes, complete: true });
      return;
    }
    const bytes = pieces.length === 0 ? segment : Buffer.concat([...pieces, segment], totalBytes);
    const text = bytes.toString('utf8', 0, contentBytes);
    if (text.trim() === '') return;
    emit({ kind: 'line', text, lineNumber: this.lineNumber });
  }
}

function lastOf(pieces: Buffer[]): number | undefined {
  const piece = pieces[pieces.length - 1];
  return piece === undefined ? undefined : piece[piece.length - 1];
}

function recordEmitter(
  subscriber: Subscriber<FollowRecord>,
  origin: string,
  maxLineBytes: number,
): (event: SplitEvent) => void {
  return (event) => {
    if (event.kind === 'line') {
      subscriber.next({ kind: 'line', line: { text: event.text, lineNumber: event.lineNumber, origin } });
      return;
    }
    const size = event.complete ? `${event.bytes} bytes` : `more than ${maxLineBytes} bytes so far`;
    subscriber.next({
      kind: 'problem',
      reason: 'line_too_long',
      detail: `line ${event.lineNumber} of ${origin} is longer than the limit of ${maxLineBytes} bytes (${size}); skipped`,
    });
  };
}

function describeOrigin(path: string, ino: bigint): string {
  return `${path} (inode ${ino})`;
}

interface OpenFile {
  fh: FileHandle;
  dev: bigint;
  ino: bigint;
  origin: string;
  /** Where the next read starts; the splitter's committed offset plus its unfinished line. */
  readOffset: number;
  /** The file's first bytes as last seen: tells a rewrite after truncation from plain growth. */
  head: Buffer;
  splitter: LineSplitter;
  emit: (event: SplitEvent) => void;
}

type Problem = Extract<FollowRecord, { kind: 'problem' }>;

/** One subscription's worth of following. All file work happens in `tick`, never two at once. */
class Follower {
  private current: OpenFile | undefined;
  private stopped = false;
  private running = false;
  private tickAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  /** The first successful open decides where to start; later files (after rotation) start at 0. */
  private firstOpen = true;
  /** The file did not exist when we started, so everything in it is new to us. */
  private missingAtStart = false;
  private missingReported = false;
  private lastErrorDetail: string | undefined;
  private lastSavedKey: string | undefined;
  private lastSaveAt = 0;
  private readonly buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private readonly keepGoing = (): boolean => !this.stopped;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly subscriber: Subscriber<FollowRecord>,
  ) {}

  start(): void {
    this.watchDirectory();
    this.requestTick();
  }

  stop(): void {
    if (this.stopped) return;
    this.savePositionIfDue(true);
    this.stopped = true;
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
    const file = this.current;
    this.current = undefined;
    // FileHandle.close waits for a read in flight; the tick then sees `stopped` and returns.
    file?.fh.close().catch(() => undefined);
  }

  /** fs.watch only lowers latency; polling alone is what keeps us correct. */
  private watchDirectory(): void {
    const name = basename(this.options.path);
    try {
      this.watcher = watch(dirname(this.options.path), (_event, filename) => {
        if (filename === null || filename === name) this.requestTick();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.watcher = undefined;
    }
  }

  private requestTick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.tickAgain = true;
      return;
    }
    this.running = true;
    clearTimeout(this.timer);
    void this.runTicks();
  }

  private async runTicks(): Promise<void> {
    do {
      this.tickAgain = false;
      try {
        await this.tick();
        this.lastErrorDetail = undefined;
      } catch (err) {
        if (!this.stopped) this.reportError(`${this.options.path}: ${errorMessage(err)}`);
      }
      if (!this.stopped) this.savePositionIfDue(false);
    } while (this.tickAgain && !this.stopped);
    this.running = false;
    if (!this.stopped) this.timer = setTimeout(() => this.requestTick(), this.options.pollIntervalMs);
  }

  private async tick(): Promise<void> {
    if (this.current === undefined) {
      await this.openPath();
      if (this.current === undefined) return;
    }
    const file = this.current;
    if (await this.drain(file)) {
      this.tickAgain = true;
      return;
    }
    await this.checkRotation(file);
  }

  private async openPath(): Promise<void> {
    const { path } = this.options;
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      if (this.firstOpen) this.missingAtStart = true;
      if (!this.missingReported) {
        this.missingReported = true;
        this.problem('missing', `${path} does not exist; waiting for it to appear`);
      }
      return;
    }
    try {
      const info = await fh.stat({ bigint: true });
      if (!info.isFile()) throw new Error('not a regular file');
      const size = Number(info.size);
      const origin = describeOrigin(path, info.ino);
      const start = this.firstOpen ? await this.initialPosition(fh, info.dev, info.ino, size) : undefined;
      const head = await readHead(fh, HEAD_BYTES);
      if (this.stopped) {
        await fh.close();
        return;
      }
      this.firstOpen = false;
      this.missingReported = false;
      const splitter = new LineSplitter(
        this.options.maxLineBytes,
        start?.offset ?? 0,
        start?.lineNumber ?? 0,
      );
      this.current = {
        fh,
        dev: info.dev,
        ino: info.ino,
        origin,
        readOffset: splitter.committedOffset,
        head,
        splitter,
        emit: recordEmitter(this.subscriber, origin, this.options.maxLineBytes),
      };
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  private async initialPosition(
    fh: FileHandle,
    dev: bigint,
    ino: bigint,
    size: number,
  ): Promise<{ offset: number; lineNumber: number }> {
    const fromStart = this.options.fromBeginning || this.missingAtStart;
    const fallback = { offset: fromStart ? 0 : size, lineNumber: 0 };
    const { positionFile } = this.options;
    if (positionFile === undefined) return fallback;
    const loaded = loadPosition(positionFile);
    if (loaded.kind === 'none') return fallback;
    const startingAt = fromStart ? 'starting at the beginning' : 'starting at the end';
    if (loaded.kind === 'corrupt') {
      this.problem('read_error', `${loaded.detail}; ignoring it and ${startingAt}`);
      return fallback;
    }
    const mismatch = await checkPosition(loaded.position, fh, { dev, ino, size });
    if (mismatch !== undefined) {
      // We were following this path before: the file there now (rotated or truncated while Perch was
      // stopped) holds only lines written since, so reading it whole loses nothing and repeats nothing.
      this.problem(
        mismatch.reason,
        `${this.options.path}: ${mismatch.detail}; ignoring position file ${positionFile} and reading the file from its beginning`,
      );
      return { offset: 0, lineNumber: 0 };
    }
    return { offset: loaded.position.offset, lineNumber: loaded.position.lineNumber };
  }

  /** Reads what the file has beyond our offset. True when it stopped early with more to read. */
  private async drain(file: OpenFile): Promise<boolean> {
    const size = Number((await file.fh.stat({ bigint: true })).size);
    if (this.stopped) return false;
    if (size < file.readOffset) {
      this.restartFile(file, `shrank to ${size} bytes, below our offset ${file.readOffset}`);
      return true;
    }
    let budget = MAX_BYTES_PER_TICK;
    while (budget > 0) {
      const { bytesRead } = await file.fh.read(this.buffer, 0, CHUNK_BYTES, file.readOffset);
      if (this.stopped || bytesRead === 0) return false;
      const headChanged = await this.headChanged(file);
      if (this.stopped) return false;
      if (headChanged) {
        this.restartFile(file, 'was truncated and rewritten (its first bytes changed)');
        return true;
      }
      file.readOffset += bytesRead;
      budget -= bytesRead;
      file.splitter.push(this.buffer.subarray(0, bytesRead), file.emit, this.keepGoing);
      if (this.stopped) return false;
      this.savePositionIfDue(false);
    }
    return true;
  }

  /**
   * copytruncate keeps the inode and empties it. When the writer has already written past our
   * offset again by the time we look, the size does not show it, but the first bytes do. Checked
   * after each read rather than before: a truncation between a check and the read would go unseen
   * and we would emit the middle of the new content.
   */
  private async headChanged(file: OpenFile): Promise<boolean> {
    const head = await readHead(file.fh, HEAD_BYTES);
    const common = Math.min(head.length, file.head.length);
    if (!head.subarray(0, common).equals(file.head.subarray(0, common))) return true;
    if (head.length > file.head.length) file.head = head;
    return false;
  }

  private restartFile(file: OpenFile, why: string): void {
    this.problem('truncated', `${file.origin} ${why}; reading it again from the start`);
    file.readOffset = 0;
    file.head = Buffer.alloc(0);
    file.splitter = new LineSplitter(this.options.maxLineBytes, 0, 0);
  }

  private async checkRotation(file: OpenFile): Promise<void> {
    const { path } = this.options;
    let info: BigIntStats;
    try {
      info = await stat(path, { bigint: true });
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      if (!this.missingReported) {
        this.missingReported = true;
        this.problem('missing', `${path} was removed; still reading ${file.origin} until a new file appears`);
      }
      return;
    }
    if (this.stopped) return;
    this.missingReported = false;
    if (info.dev === file.dev && info.ino === file.ino) return;

    // Lines written between our last read and the rename are still in the old file.
    while (await this.drain(file)) {
      if (this.stopped) return;
    }
    if (this.stopped) return;
    file.splitter.flush(file.emit);
    this.problem(
      'rotated',
      `${path} now is a new file (inode ${info.ino}); read ${file.origin} to its end (byte ${file.readOffset})`,
    );
    if (this.stopped) return;
    this.current = undefined;
    await file.fh.close().catch(() => undefined);
    this.tickAgain = true;
  }

  private savePositionIfDue(force: boolean): void {
    const { positionFile } = this.options;
    const file = this.current;
    // stop() saves before it sets `stopped`; a tick finishing later must not write an older position.
    if (positionFile === undefined || file === undefined || this.stopped) return;
    const { committedOffset: offset, lineNumber } = file.splitter;
    const key = `${file.dev}:${file.ino}:${offset}:${lineNumber}`;
    if (key === this.lastSavedKey) return;
    const now = Date.now();
    if (!force && now - this.lastSaveAt < this.options.positionSaveIntervalMs) return;
    const position: SavedPosition = {
      version: 1,
      path: this.options.path,
      dev: file.dev.toString(),
      ino: file.ino.toString(),
      offset,
      lineNumber,
      ...headDigest(file.head, offset),
    };
    this.lastSaveAt = now;
    try {
      this.options.beforeSavePosition?.();
      savePosition(positionFile, position);
      this.lastSavedKey = key;
    } catch (err) {
      // After stop there is nobody left to tell.
      if (!this.stopped) this.reportError(`cannot save position to ${positionFile}: ${errorMessage(err)}`);
    }
  }

  /** A failure that repeats every poll is reported once, until something succeeds. */
  private reportError(detail: string): void {
    if (detail === this.lastErrorDetail) return;
    this.lastErrorDetail = detail;
    this.problem('read_error', detail);
  }

  private problem(reason: Problem['reason'], detail: string): void {
    this.subscriber.next({ kind: 'problem', reason, detail });
  }
}

// Structural, not instanceof: errors from another realm (vm contexts, as under jest) fail instanceof Error.
function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

function errorMessage(err: unknown): string {
  return typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string'
    ? err.message
    : String(err);
}
