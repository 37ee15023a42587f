import type { Writable } from 'node:stream';
import type { ConsoleSinkConfig } from '../config/schema.js';
import type { Priority } from '../events/priority.js';
import type { ComponentMetrics } from '../metrics/perch-metrics.js';
import type { Alert } from '../pipeline/alert.js';
import { formatAlertJson } from './alert-json.js';
import { formatAlertLine } from './console-format.js';
import type { AlertSink } from './sink.js';

/** Writes alerts to a stream (stdout): a readable line each, coloured on a terminal, or JSON lines. */
export class ConsoleSink implements AlertSink {
  readonly feed = 'alerts';
  readonly minPriority: Priority;
  private readonly colour: boolean;
  private pendingDrain?: Promise<void>;

  constructor(
    readonly id: string,
    private readonly config: ConsoleSinkConfig,
    private readonly out: Writable & { isTTY?: boolean },
    private readonly metrics: ComponentMetrics,
  ) {
    this.minPriority = config.minPriority;
    this.colour =
      config.color === 'always' || (config.color === 'auto' && out.isTTY === true && !process.env.NO_COLOR);
  }

  send(alert: Alert): void {
    this.metrics.received();
    const text = this.config.format === 'json' ? formatAlertJson(alert) : formatAlertLine(alert, this.colour);
    const flushed = this.out.write(`${text}\n`);
    this.metrics.sent();
    if (!flushed && !this.pendingDrain) {
      this.pendingDrain = new Promise((resolve) =>
        this.out.once('drain', () => {
          this.pendingDrain = undefined;
          resolve();
        }),
      );
    }
  }

  async flush(): Promise<void> {
    await this.pendingDrain;
  }
}
