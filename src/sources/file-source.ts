import type { FileSourceConfig } from '../config/schema.js';
import type { FalcoEvent } from '../events/falco-event.js';
import type { Logger } from '../logging/logger.js';
import type { PerchMetrics } from '../metrics/perch-metrics.js';
import { EventFeed } from '../util/event-feed.js';
import type { Observable, Subscription } from '../util/rx.js';
import { followFile } from './file-follower.js';
import { LineParser } from './line-parser.js';
import type { Durability, Source, SourceStatus } from './source.js';

/** Falco's file_output (JSON lines), followed like `tail -F` across rotation and truncation. */
export class FileSource implements Source {
  readonly id: string;
  private readonly feed = new EventFeed<FalcoEvent>();
  readonly events$: Observable<FalcoEvent> = this.feed.events$;
  private readonly parser: LineParser;
  private subscription?: Subscription;
  private state: SourceStatus = { up: false, detail: 'not started' };
  private durability?: Durability;

  constructor(
    private readonly config: FileSourceConfig,
    private readonly perchMetrics: PerchMetrics,
    private readonly log: Logger,
  ) {
    this.id = `file:${config.path}`;
    this.parser = new LineParser(this.id, perchMetrics.component('source', this.id), log);
  }

  useDurability(durability: Durability): void {
    this.durability = durability;
  }

  async start(): Promise<void> {
    this.setState({ up: true });
    this.subscription = followFile({
      path: this.config.path,
      fromBeginning: this.config.fromBeginning,
      positionFile: this.config.positionFile,
      pollIntervalMs: this.config.pollInterval,
      maxLineBytes: this.config.maxLineBytes,
      // The saved position acknowledges every line before it: those alerts must be on disk first.
      beforeSavePosition: () => this.durability?.commitNow(),
    }).subscribe({
      next: (record) => {
        if (record.kind === 'line') {
          if (!this.state.up) this.setState({ up: true });
          const event = this.parser.parse(record.line.text, record.line.lineNumber, record.line.origin);
          if (event) {
            this.feed.next(event);
            this.durability?.admit([event]);
          }
          return;
        }
        if (record.reason === 'missing')
          this.setState({ up: false, detail: `waiting for ${this.config.path} to exist` });
        if (record.reason === 'line_too_long')
          this.perchMetrics.component('source', this.id).discarded('line_too_long');
        if (record.reason === 'read_error') this.setState({ up: false, detail: record.detail });
        const level = record.reason === 'rotated' || record.reason === 'truncated' ? 'info' : 'warn';
        this.log[level]({ source: this.id, reason: record.reason, detail: record.detail }, 'file source');
      },
      error: (err: unknown) => {
        this.setState({ up: false, detail: (err as Error).message });
        this.log.error({ source: this.id, err }, 'file source stopped');
        this.feed.complete();
      },
    });
  }

  async stop(): Promise<void> {
    // Unsubscribing saves the read position, so a restart resumes after the last emitted line.
    this.subscription?.unsubscribe();
    this.setState({ up: false, detail: 'stopped' });
    this.feed.complete();
  }

  status(): SourceStatus {
    return this.state;
  }

  private setState(state: SourceStatus): void {
    this.state = state;
    this.perchMetrics.sourceUp.set({ component_id: this.id }, state.up ? 1 : 0);
  }
}
