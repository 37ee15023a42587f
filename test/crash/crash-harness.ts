import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerchProcess } from '../helpers/cli-process.js';

/** A Falco alert whose output carries a unique id, so that deliveries can be counted by id. */
export function idAlert(id: string, priority = 'Warning'): string {
  return JSON.stringify({
    hostname: 'node-a',
    output: `12:00:00.000000000: ${priority} crash-test id=${id} (proc.pid=1)`,
    priority,
    rule: 'Crash test alert',
    source: 'syscall',
    tags: ['test'],
    time: '2026-12-06T12:00:00.000000000Z',
    output_fields: { 'proc.pid': 1, 'test.id': id },
  });
}

const ID = /crash-test id=([\w-]+)/;

/** Ids of the event alerts a webhook receiver accepted, with how often each arrived. */
export function deliveredIds(bodies: readonly string[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const body of bodies) {
    if (!body.includes('"type":"alert.event"')) continue;
    const id = ID.exec(body)?.[1];
    if (id) seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  return seen;
}

const WARN_OR_ABOVE = new Set(['warn', 'error', 'fatal']);

/** The warnings and errors a Perch logged, each message with how often: what a failed crash test shows. */
export function warnings(stderr: string): string {
  const counts = new Map<string, number>();
  for (const line of stderr.split('\n')) {
    let entry: { level?: unknown; msg?: unknown };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (!WARN_OR_ABOVE.has(String(entry.level)) || typeof entry.msg !== 'string') continue;
    const key = `${entry.level}: ${entry.msg}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([msg, n]) => `${msg} ×${n}`).join('; ') || 'none';
}

export interface AgentFiles {
  dir: string;
  receiverUrl: string;
  /** Extra perch.yaml lines under the webhook sink. */
  sinkExtra?: string;
  spoolPath?: string;
  shutdownGrace?: string;
  spoolRetryInterval?: string;
}

/** A perch.yaml with one webhook sink and no dedup (every unique alert is its own delivery). */
export function writeConfig(files: AgentFiles): string {
  const path = join(files.dir, 'perch.yaml');
  writeFileSync(
    path,
    `server:
  listen: 127.0.0.1:0
  shutdownGrace: ${files.shutdownGrace ?? '10s'}
log:
  level: info
rules:
  dedup:
    window: 0s
delivery:
  spoolPath: ${files.spoolPath ?? join(files.dir, 'spool', 'spool.db')}
  spoolRetryInterval: ${files.spoolRetryInterval ?? '200ms'}
sinks:
  hook:
    type: webhook
    url: ${files.receiverUrl}/hook
    minPriority: Notice
    rateLimit: { perSecond: 100000, burst: 10000 }
    retry: { initial: 50ms, max: 200ms, giveUpAfter: 0s }
    timeout: 2s
${files.sinkExtra ?? ''}`,
  );
  return path;
}

export async function startAgent(config: string): Promise<{ perch: PerchProcess; url: string }> {
  const perch = new PerchProcess(['run', '-c', config]);
  const port = await perch.port(20_000);
  return { perch, url: `http://127.0.0.1:${port}` };
}

/** Posts alerts; resolves with the HTTP status (0 when the connection failed). */
export async function post(url: string, alerts: readonly string[], ndjson: boolean): Promise<number> {
  try {
    const res = await fetch(`${url}/`, {
      method: 'POST',
      headers: { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
      body: ndjson ? `${alerts.join('\n')}\n` : (alerts[0] as string),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

export async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}` : ''}`));
  return line ? Number(line.split(' ').pop()) : Number.NaN;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
