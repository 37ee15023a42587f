import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/**
 * Logs go to stderr as JSON lines: stdout belongs to alerts (the console sink, `replay --json`),
 * so a pipe such as `perch replay x.jsonl --json | jq` never mixes the two.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'perch' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
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
