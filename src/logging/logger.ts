import { type DestinationStream, type Logger, pino } from 'pino';
import { redactFields, redactSecrets } from '../util/redact.js';

export type { Logger };

/**
 * Logs go to stderr as JSON lines: stdout belongs to alerts (the console sink, `replay --json`),
 * so a pipe such as `perch replay x.jsonl --json | jq` never mixes the two. Every field and message
 * is redacted on the way out: the callers redact what they know to be an echo, and this catches
 * what nobody thought would quote a secret (an error's message or stack).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'perch' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (fields) => redactFields(fields, pino.stdSerializers.err) as Record<string, unknown>,
      },
      serializers: {
        msg: (msg: unknown) => (typeof msg === 'string' ? redactSecrets(msg) : msg),
        // formatters.log has made errors plain fields already; serializing them again would lose their type.
        err: (err: unknown) => err,
      },
    },
    destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** Logs one line per key at most once per interval, and says how many were held back. */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly intervalMs = 60_000,
    private readonly maxKeys = 1000,
  ) {}

  /** Returns how many lines were suppressed since the last one, or -1 when this one must be suppressed. */
  admit(key: string, now = Date.now()): number {
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed += 1;
      return -1;
    }
    if (!entry && this.last.size >= this.maxKeys) this.last.clear();
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: now, suppressed: 0 });
    return suppressed;
  }
}
