import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

/**
 * Where a file follower stopped, so that a restart resumes without re-reading or losing lines.
 *
 * Stored as one small JSON object:
 * ```json
 * { "version": 1, "path": "/var/log/falco/events.json", "dev": "2049", "ino": "1311032",
 *   "offset": 52311, "lineNumber": 118, "headLength": 256, "headSha256": "9f86d081…" }
 * ```
 * - `dev`, `ino`: the file's identity, as decimal strings because inode numbers can exceed 2^53.
 * - `offset`: the byte just after the last line handed to the subscriber. A partial line is not
 *   counted, so it is read again, whole, after a restart.
 * - `lineNumber`: the number of that last line, so numbering continues across restarts.
 * - `headLength`, `headSha256`: SHA-256 of the file's first `headLength` bytes (at most
 *   {@link HEAD_BYTES}, never past `offset`). A deleted file's inode number can be given to a new
 *   file, and the first bytes of two different logs differ (Falco's lines start with a timestamp).
 * - `path` is for people reading the file; identity is dev + ino.
 */
export interface SavedPosition {
  version: 1;
  path: string;
  dev: string;
  ino: string;
  offset: number;
  lineNumber: number;
  headLength: number;
  headSha256: string;
}

/** How many leading bytes identify a file's content. */
export const HEAD_BYTES = 256;

const decimal = z.string().regex(/^\d+$/, 'expected a decimal string');
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const SavedPositionSchema = z
  .object({
    version: z.literal(1),
    path: z.string(),
    dev: decimal,
    ino: decimal,
    offset: count,
    lineNumber: count,
    headLength: z.number().int().nonnegative().max(HEAD_BYTES),
    headSha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits'),
  })
  .refine((p) => p.headLength <= p.offset, { message: 'headLength is beyond offset', path: ['headLength'] });

export type PositionLoad =
  | { kind: 'none' }
  | { kind: 'loaded'; position: SavedPosition }
  | { kind: 'corrupt'; detail: string };

/** Reads a position file; a missing one is normal (first start), anything unusable is `corrupt`. */
export function loadPosition(positionFile: string): PositionLoad {
  let text: string;
  try {
    text = readFileSync(positionFile, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { kind: 'none' };
    return { kind: 'corrupt', detail: `cannot read position file ${positionFile}: ${errorMessage(err)}` };
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    return { kind: 'corrupt', detail: `position file ${positionFile} is not JSON: ${errorMessage(err)}` };
  }
  const parsed = SavedPositionSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return {
      kind: 'corrupt',
      detail: `position file ${positionFile} is invalid: ${where}${issue?.message ?? 'unknown problem'}`,
    };
  }
  return { kind: 'loaded', position: parsed.data };
}

/**
 * Replaces the position file atomically (temp file + rename), so a crash leaves the old or the new
 * position, never half of one.
 *
 * Synchronous on purpose: it runs in the subscription's teardown, which cannot wait, and an
 * asynchronous periodic save still in flight could otherwise land after the final one and move the
 * position backwards. The file is tiny and written at most once per save interval. It is not
 * fsynced: after a power loss it may be empty, which reads as `corrupt` and is then ignored.
 */
export function savePosition(positionFile: string, position: SavedPosition): void {
  const temp = `${positionFile}.${process.pid}.tmp`;
  try {
    // As the spool does: a state directory that does not exist yet is created, not a reason to lose the position.
    mkdirSync(dirname(positionFile), { recursive: true });
    writeFileSync(temp, `${JSON.stringify(position)}\n`);
    renameSync(temp, positionFile);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/** Digest of the bytes before `offset` that we hold of the file's head (see {@link SavedPosition}). */
export function headDigest(head: Buffer, offset: number): { headLength: number; headSha256: string } {
  const headLength = Math.min(head.length, offset, HEAD_BYTES);
  return { headLength, headSha256: sha256(head.subarray(0, headLength)) };
}

/** Reads up to `length` bytes from the start of the file. */
export async function readHead(fh: FileHandle, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(Math.min(length, HEAD_BYTES));
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await fh.read(buffer, filled, buffer.length - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

export type PositionMismatch = { reason: 'rotated' | 'truncated'; detail: string };

/** Why a saved position does not apply to the open file, or undefined when it does. */
export async function checkPosition(
  saved: SavedPosition,
  fh: FileHandle,
  file: { dev: bigint; ino: bigint; size: number },
): Promise<PositionMismatch | undefined> {
  if (saved.dev !== file.dev.toString() || saved.ino !== file.ino.toString()) {
    return {
      reason: 'rotated',
      detail: `saved position is for inode ${saved.ino} on device ${saved.dev}, but the file is now inode ${file.ino} on device ${file.dev}`,
    };
  }
  if (file.size < saved.offset) {
    return {
      reason: 'truncated',
      detail: `saved position is byte ${saved.offset}, but the file now has ${file.size} bytes`,
    };
  }
  const head = await readHead(fh, saved.headLength);
  if (head.length !== saved.headLength || sha256(head) !== saved.headSha256) {
    return {
      reason: 'rotated',
      detail: `the first ${saved.headLength} bytes differ from the saved position's, so inode ${file.ino} now holds another file`,
    };
  }
  return undefined;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
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
