import { PassThrough, Writable } from 'node:stream';
import { Agent } from '../../src/app/agent.js';
import { validateConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logging/logger.js';
import { PerchMetrics } from '../../src/metrics/perch-metrics.js';

/** Collects what the console sink writes, one JSON alert per line. */
export class CapturedOutput extends Writable {
  readonly lines: string[] = [];
  private partial = '';

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    const text = this.partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    done();
  }

  alerts(): { priority: string; event: { rule: string; output_fields: Record<string, unknown> } }[] {
    return this.lines.map((l) => JSON.parse(l));
  }
}

export interface Harness {
  agent: Agent;
  url: string;
  out: CapturedOutput;
  metrics: PerchMetrics;
  stop(): Promise<void>;
}

/** Starts a real Agent on a loopback port with a JSON console sink and the given config on top. */
export async function startAgent(config: Record<string, unknown> = {}): Promise<Harness> {
  // Transport tests see every alert as it came: no default rules, no dedup, unless a test asks.
  const raw = {
    server: { listen: '127.0.0.1:0', shutdownGrace: '5s' },
    sinks: { out: { type: 'console', format: 'json' } },
    rules: { defaults: false, dedup: { window: '0s' } },
    ...config,
  };
  const out = new CapturedOutput();
  const metrics = new PerchMetrics({ processMetrics: false });
  const agent = new Agent(
    validateConfig(raw, 'test', {}),
    { stdout: out, stdin: new PassThrough() },
    createLogger('silent'),
    metrics,
  );
  const { port } = await agent.start();
  return {
    agent,
    url: `http://127.0.0.1:${port}`,
    out,
    metrics,
    stop: async () => {
      await agent.stop('test finished');
    },
  };
}

/** The value of one series in the agent's exposition, or 0 when absent. */
export async function metricValue(
  metrics: PerchMetrics,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) =>
    Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return match?.value ?? 0;
}
