import type { FalcoEvent } from '../events/falco-event.js';
import { parseFalcoJson } from '../events/parse-falco-json.js';
import { type Logger, LogLimiter } from '../logging/logger.js';
import type { ComponentMetrics } from '../metrics/perch-metrics.js';

/** Parses JSON lines for the line-oriented sources, counting and (rate-limited) logging bad lines. */
export class LineParser {
  private readonly limiter = new LogLimiter();

  constructor(
    private readonly sourceId: string,
    private readonly metrics: ComponentMetrics,
    private readonly log: Logger,
  ) {}

  parse(text: string, lineNumber: number, origin?: string): FalcoEvent | undefined {
    if (text.trim() === '') return undefined;
    this.metrics.received();
    try {
      const event = parseFalcoJson(text);
      this.metrics.sent();
      return event;
    } catch (err) {
      this.metrics.discarded('malformed');
      const suppressed = this.limiter.admit('malformed');
      if (suppressed >= 0) {
        this.log.warn(
          {
            source: this.sourceId,
            origin,
            line: lineNumber,
            error: (err as Error).message,
            suppressedSinceLast: suppressed,
          },
          looksLikeText(text)
            ? 'line is not JSON: is Falco running with json_output: true?'
            : 'skipped a line that is not a Falco alert',
        );
      }
      return undefined;
    }
  }
}

function looksLikeText(line: string): boolean {
  return /^\d{2}:\d{2}:\d{2}\.\d+: [A-Z][a-z]+ /.test(line);
}
