import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PRIORITY_NAMES, type Priority, parsePriority } from '../events/priority.js';
import { Secret } from './secret.js';
import { showValue } from './show-value.js';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as `500ms`, `10s`, `2m`, `1h`; parsed to milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const m = typeof value === 'string' ? DURATION.exec(value.trim()) : null;
  if (!m?.[1] || !m[2]) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration with a unit such as 500ms, 10s, 2m or 1h, got ${showValue(value)}`,
    });
    return z.NEVER;
  }
  const ms = Math.round(Number(m[1]) * (UNIT_MS[m[2]] ?? 1));
  // Node's timers take at most 2^31-1 ms (about 24.8 days); beyond it they would fire at once.
  if (!Number.isFinite(ms) || ms > MAX_TIMER_MS) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration of at most 24d (timers cannot wait longer), got ${showValue(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ListenAddress {
  host: string;
  port: number;
}

/** `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces). */
export const listenAddress = z.string().transform((text, ctx): ListenAddress => {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m?.[3] === undefined ? Number.NaN : Number(m[3]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    ctx.addIssue({
      code: 'custom',
      message: `expected HOST:PORT such as 0.0.0.0:2804, [::]:2804 or :2804 (port 0-65535), got ${showValue(text)}`,
    });
    return z.NEVER;
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
});

export const priority = z.union([z.string(), z.number()]).transform((value, ctx): Priority => {
  const p = parsePriority(value);
  if (p === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a Falco priority (${PRIORITY_NAMES.join(', ')}), got ${showValue(value)}`,
    });
    return z.NEVER;
  }
  return p;
});

/** Whether a text is an http(s) URL that fetch and `new URL` will take (a port above 65535 is not). */
export function isHttpUrl(text: string): boolean {
  return /^https?:\/\//.test(text) && URL.canParse(text);
}

/** An http(s) URL that is not a secret as a whole but may carry credentials (`https://user:pass@host`): quoted redacted. */
export const httpUrl = z.string().superRefine((text, ctx) => {
  if (!isHttpUrl(text))
    ctx.addIssue({
      code: 'custom',
      message: `expected an http(s) URL such as http://host:9093, got ${showValue(text)}`,
    });
});

/**
 * A credential: written inline (from `${ENV}` interpolation, typically) or as `file:/path`, read
 * once at load. Error messages name the file, never its content.
 */
export const secret = z.string().transform((text, ctx): Secret => {
  if (!text.startsWith('file:')) return new Secret(text);
  const path = text.slice('file:'.length);
  try {
    const content = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    if (content === '') {
      ctx.addIssue({ code: 'custom', message: `secret file ${path} is empty` });
      return z.NEVER;
    }
    return new Secret(content);
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      message: `cannot read secret file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    });
    return z.NEVER;
  }
});
