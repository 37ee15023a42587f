import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { validateConfig } from '../config/load-config.js';
import type { Logger } from '../logging/logger.js';
import { Agent } from './agent.js';

export const DEMO_SCENARIO = fileURLToPath(new URL('../../examples/demo/alerts.jsonl', import.meta.url));
/** The node's pods and runtime classes, as `kubectl get pods,runtimeclasses -o json` prints them. */
export const DEMO_CLUSTER = fileURLToPath(new URL('../../examples/demo/cluster.json', import.meta.url));

interface DemoOptions {
  out: Writable;
  log: Logger;
  scenario?: string;
}

/**
 * `perch demo`: starts the real agent (the same Agent as `perch run`) on a loopback port, posts a
 * bundled scenario of Falco alerts to its HTTP input exactly as Falco's http_output would (one
 * POST per alert, keep-alive), then shows what came out and shuts down gracefully.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { out } = options;
  const config = validateConfig(
    {
      nodeName: 'worker-2',
      server: { listen: '127.0.0.1:0', shutdownGrace: '5s' },
      kubernetes: { podsFile: DEMO_CLUSTER },
      sinks: { console: { type: 'console' } },
    },
    'demo',
    process.env,
  );
  const agent = new Agent(config, { stdout: out, stdin: process.stdin }, options.log);
  const { port } = await agent.start();
  const url = `http://127.0.0.1:${port}/`;
  const lines = readFileSync(options.scenario ?? DEMO_SCENARIO, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');

  out.write(
    `Perch demo: the agent listens on ${url} and knows node worker-2's pods from examples/demo/cluster.json;\n` +
      `posting ${lines.length} Falco alerts as http_output does.\n\n`,
  );
  let accepted = 0;
  for (const line of lines) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: line,
    });
    if (res.ok) accepted += 1;
    await res.arrayBuffer();
  }
  const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  out.write(
    `\n${accepted}/${lines.length} alerts accepted. Metrics are served at http://127.0.0.1:${port}/metrics, e.g.:\n`,
  );
  for (const line of headline(metrics)) out.write(`  ${line}\n`);
  const { clean } = await agent.stop('demo finished');
  out.write(
    `\nShut down ${clean ? 'cleanly' : 'with alerts left undrained'}. Try: node dist/cli.js replay examples/demo/alerts.jsonl --pods examples/demo/cluster.json --json\n`,
  );
  return clean && accepted === lines.length ? 0 : 1;
}

function headline(exposition: string): string[] {
  return exposition
    .split('\n')
    .filter((l) =>
      /^perch_(http_ingest_requests_total|enrichment_total|component_(received|sent)_events_total)\{/.test(l),
    );
}
