import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { validateConfig } from '../config/load-config.js';
import { formatEventTime } from '../events/event-time.js';
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
      body: stampNow(line),
    });
    if (res.ok) accepted += 1;
    await res.arrayBuffer();
  }
  out.write('\nAll alerts posted. Shutting down: open dedup windows go out as digests.\n\n');
  const { clean } = await agent.stop('demo finished');
  const counts = agent.accounting.counts;
  out.write(
    `\n${accepted}/${lines.length} alerts accepted. Where they ended: ${counts.routed} routed to the sinks, ${counts.digested} collapsed into digests, ` +
      `${counts.silenced} silenced, ${counts.dropped} dropped by rules, ${counts.shed} shed.\n` +
      `While running, metrics were served at http://127.0.0.1:${port}/metrics, among them:\n`,
  );
  for (const line of headline(await agent.metrics.registry.metrics())) out.write(`  ${line}\n`);
  out.write(
    `\nShut down ${clean ? 'cleanly' : 'with alerts left undrained'}. Next: node dist/cli.js replay examples/demo/alerts.jsonl --pods examples/demo/cluster.json --json\n` +
      'This agent saw one node. In a cluster, each node runs an agent; with a hub (node dist/cli.js hub, sink type hub on the agents),\n' +
      'repeats are digested and detections correlated across all nodes, and each message is sent once per cluster (docs/operations.md).\n',
  );
  return clean && accepted === lines.length ? 0 : 1;
}

/**
 * Stamps an alert with the moment it is posted, as a live Falco would (time, evt.time and the
 * clock in the output text), so that Perch's windows and the alerts' own times agree.
 */
function stampNow(line: string): string {
  const nowNs = BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000));
  const iso = formatEventTime(nowNs);
  return line
    .replace(/"time":"[^"]+"/, `"time":"${iso}"`)
    .replace(/"evt\.time":\d+/, `"evt.time":${nowNs}`)
    .replace(/"output":"\d{2}:\d{2}:\d{2}\.\d{9}/, `"output":"${iso.slice(11, 29)}`);
}

function headline(exposition: string): string[] {
  return exposition
    .split('\n')
    .filter((l) =>
      /^perch_(http_ingest_requests_total|enrichment_total|events_total|incidents_total|digests_total)\{/.test(
        l,
      ),
    );
}
