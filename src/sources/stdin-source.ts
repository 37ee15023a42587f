import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { FalcoEvent } from '../events/falco-event.js';
import type { Logger } from '../logging/logger.js';
import type { PerchMetrics } from '../metrics/perch-metrics.js';
import { EventFeed } from '../util/event-feed.js';
import type { Observable } from '../util/rx.js';
import { LineParser } from './line-parser.js';
import type { Source, SourceStatus } from './source.js';

/** JSON lines on standard input: `falco -o json_output=true | perch run --stdin`. */
export class StdinSource implements Source {
  readonly id = 'stdin';
  private readonly feed = new EventFeed<FalcoEvent>();
  readonly events$: Observable<FalcoEvent> = this.feed.events$;
  private readonly parser: LineParser;
  private open = false;
  private closed?: Promise<void>;
  private stopReading?: () => void;

  constructor(
    private readonly input: Readable,
    private readonly perchMetrics: PerchMetrics,
    log: Logger,
  ) {
    this.parser = new LineParser(this.id, perchMetrics.component('source', this.id), log);
  }

  async start(): Promise<void> {
    const lines = createInterface({ input: this.input, crlfDelay: Number.POSITIVE_INFINITY });
    this.open = true;
    this.perchMetrics.sourceUp.set({ component_id: this.id }, 1);
    let lineNumber = 0;
    lines.on('line', (text) => {
      lineNumber += 1;
      const event = this.parser.parse(text, lineNumber);
      if (event) this.feed.next(event);
    });
    this.closed = new Promise((resolve) =>
      lines.once('close', () => {
        this.open = false;
        this.perchMetrics.sourceUp.set({ component_id: this.id }, 0);
        this.feed.complete();
        resolve();
      }),
    );
    this.stopReading = () => lines.close();
  }

  async stop(): Promise<void> {
    this.stopReading?.();
    await this.closed;
  }

  status(): SourceStatus {
    return this.open ? { up: true } : { up: false, detail: 'standard input is closed' };
  }
}
