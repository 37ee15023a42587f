// What the soak test watches Perch with. Everything here keeps O(backlog) state, never O(alerts):
// the observers share the process (and the heap that is measured) with the agent, so a collector
// that kept every line would itself look like a leak.

import { get, Agent as HttpAgent } from 'node:http';
import { Writable } from 'node:stream';
import { PRIORITY_NAMES, Priority } from '../../src/events/priority.js';
import type { HttpReceiver } from '../fakes/http-receiver.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function priorityOf(name: unknown): Priority {
  const index = PRIORITY_NAMES.indexOf(String(name));
  if (index < 0) throw new Error(`unknown priority ${String(name)}`);
  return index as Priority;
}

interface AlertLine {
  kind: 'event' | 'digest' | 'incident';
  id: string;
  priority: string;
  rule?: string;
  count?: number;
  correlation?: string;
  event?: { rule: string };
}

/**
 * Ids of Error-and-above alerts seen at the console, matched against the ids the webhook receiver
 * accepted, in whichever order the two arrive. Only the unmatched ones are held.
 */
export class DeliveryMatcher {
  private readonly awaitingReceiver = new Map<string, number>();
  private readonly unknownToConsole = new Map<string, number>();
  matched = 0;
  maxAwaiting = 0;

  fromConsole(id: string, atMs: number): void {
    if (this.unknownToConsole.delete(id)) {
      this.matched += 1;
      return;
    }
    this.awaitingReceiver.set(id, atMs);
    this.maxAwaiting = Math.max(this.maxAwaiting, this.awaitingReceiver.size);
  }

  /** The first acceptance of an id (duplicates are filtered before). */
  fromReceiver(id: string, atMs: number): void {
    if (this.awaitingReceiver.delete(id)) {
      this.matched += 1;
      return;
    }
    this.unknownToConsole.set(id, atMs);
  }

  get awaiting(): number {
    return this.awaitingReceiver.size;
  }

  /** Ids the receiver accepted that the console never showed: would be alerts out of nowhere. */
  get unexplained(): number {
    return this.unknownToConsole.size;
  }

  sampleAwaiting(n: number): string[] {
    return [...this.awaitingReceiver.keys()].slice(0, n);
  }
}

/** The console sink's stream: counts JSON lines by kind and rule, keeps nothing else. */
export class ConsoleTally extends Writable {
  readonly events = new Map<string, number>();
  readonly digestCounts = new Map<string, number>();
  readonly incidents = new Map<string, number>();
  eventLines = 0;
  digestLines = 0;
  incidentLines = 0;
  /** Alerts at or above Warning: what the webhook sink (minPriority Warning) must have received. */
  warningOrAbove = 0;
  errorOrAbove = 0;
  malformed = 0;
  private partial = '';

  constructor(private readonly matcher: DeliveryMatcher) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) if (line !== '') this.take(line);
    done();
  }

  get digestedTotal(): number {
    let sum = 0;
    for (const n of this.digestCounts.values()) sum += n;
    return sum;
  }

  private take(line: string): void {
    let alert: AlertLine;
    try {
      alert = JSON.parse(line) as AlertLine;
    } catch {
      this.malformed += 1;
      return;
    }
    switch (alert.kind) {
      case 'event': {
        this.eventLines += 1;
        const rule = alert.event?.rule ?? '?';
        this.events.set(rule, (this.events.get(rule) ?? 0) + 1);
        break;
      }
      case 'digest': {
        this.digestLines += 1;
        const rule = alert.rule ?? '?';
        this.digestCounts.set(rule, (this.digestCounts.get(rule) ?? 0) + (alert.count ?? 0));
        break;
      }
      case 'incident': {
        this.incidentLines += 1;
        const name = alert.correlation ?? '?';
        this.incidents.set(name, (this.incidents.get(name) ?? 0) + 1);
        break;
      }
      default:
        this.malformed += 1;
        return;
    }
    const priority = priorityOf(alert.priority);
    if (priority >= Priority.Warning) this.warningOrAbove += 1;
    if (priority >= Priority.Error) {
      this.errorOrAbove += 1;
      this.matcher.fromConsole(alert.id, Date.now());
    }
  }
}

/**
 * Takes the webhook receiver's recorded requests as they come (and empties its list, which would
 * otherwise grow with the run). Duplicates are found among ids accepted in the last
 * `duplicateWindowMs`: a retry of an accepted request comes within a timeout and a backoff, not
 * minutes, and a longer window would itself grow the heap being measured during warm-up.
 */
export class WebhookTally {
  accepted = 0;
  uniqueAccepted = 0;
  duplicates = 0;
  acceptedErrorOrAbove = 0;
  acceptedBelowError = 0;
  /** Answers other than 2xx, by status or `reset`. */
  readonly refused = new Map<string, number>();
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly receiver: HttpReceiver,
    private readonly matcher: DeliveryMatcher,
    private readonly duplicateWindowMs: number,
  ) {}

  drain(): void {
    const requests = this.receiver.requests.splice(0);
    for (const request of requests) {
      if (typeof request.answer !== 'number' || request.answer >= 300) {
        const key = String(request.answer);
        this.refused.set(key, (this.refused.get(key) ?? 0) + 1);
        continue;
      }
      this.accepted += 1;
      const envelope = JSON.parse(request.body) as { data: { id: string; priority: string } };
      const { id, priority } = envelope.data;
      if (this.recent.has(id)) {
        this.duplicates += 1;
        continue;
      }
      this.recent.set(id, request.atMs);
      this.uniqueAccepted += 1;
      if (priorityOf(priority) >= Priority.Error) {
        this.acceptedErrorOrAbove += 1;
        this.matcher.fromReceiver(id, request.atMs);
      } else {
        this.acceptedBelowError += 1;
      }
    }
    const horizon = Date.now() - this.duplicateWindowMs;
    // Map order is insertion order, i.e. acceptance time: stop at the first recent one.
    for (const [id, at] of this.recent) {
      if (at >= horizon) break;
      this.recent.delete(id);
    }
  }
}

export interface MemorySample {
  atS: number;
  heapUsedMB: number;
  rssMB: number;
}

/** heapUsed after a full collection (node --expose-gc), so the samples show what is live, not garbage. */
export function sampleMemory(startedAt: number): MemorySample {
  globalThis.gc?.();
  const usage = process.memoryUsage();
  return {
    atS: Math.round((Date.now() - startedAt) / 1000),
    heapUsedMB: usage.heapUsed / 2 ** 20,
    rssMB: usage.rss / 2 ** 20,
  };
}

export interface MemoryVerdict {
  warmupS: number;
  firstMeanMB: number;
  lastMeanMB: number;
  growthMB: number;
  allowedMB: number;
  slopeMBPerMin: number;
  ok: boolean;
}

/**
 * Flat: after warm-up, the mean of the last third of the samples exceeds the mean of the first
 * third by at most max(fixedMB, fraction × first mean). Means of thirds rather than single points,
 * because one sample can land on a spool burst or a flap backlog. The least-squares slope is
 * reported for long runs, where it is the better read of a slow leak.
 */
export function judgeMemory(
  samples: readonly MemorySample[],
  warmupS: number,
  fixedMB: number,
  fraction: number,
): MemoryVerdict {
  const steady = samples.filter((s) => s.atS >= warmupS);
  const third = Math.max(1, Math.floor(steady.length / 3));
  const mean = (xs: readonly MemorySample[]) => xs.reduce((sum, s) => sum + s.heapUsedMB, 0) / xs.length;
  const firstMeanMB = mean(steady.slice(0, third));
  const lastMeanMB = mean(steady.slice(-third));
  const growthMB = lastMeanMB - firstMeanMB;
  const allowedMB = Math.max(fixedMB, fraction * firstMeanMB);
  const n = steady.length;
  const mx = steady.reduce((sum, s) => sum + s.atS, 0) / n;
  const my = steady.reduce((sum, s) => sum + s.heapUsedMB, 0) / n;
  const sxy = steady.reduce((sum, s) => sum + (s.atS - mx) * (s.heapUsedMB - my), 0);
  const sxx = steady.reduce((sum, s) => sum + (s.atS - mx) ** 2, 0);
  const slopeMBPerMin = sxx > 0 ? (sxy / sxx) * 60 : 0;
  return {
    warmupS,
    firstMeanMB,
    lastMeanMB,
    growthMB,
    allowedMB,
    slopeMBPerMin,
    ok: steady.length >= 3 && growthMB <= allowedMB,
  };
}

/** Polls /healthz every second (and scrapes /metrics every fifth time, as Prometheus would). */
export class HealthPoller {
  polls = 0;
  failures = 0;
  readonly failureSamples: string[] = [];
  maxLatencyMs = 0;
  scrapes = 0;
  scrapeFailures = 0;
  maxScrapeMs = 0;
  private running = false;
  private loop?: Promise<void>;
  private readonly agent = new HttpAgent({ keepAlive: true, maxSockets: 2 });

  constructor(private readonly port: number) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.agent.destroy();
  }

  private async run(): Promise<void> {
    for (let tick = 0; this.running; tick++) {
      const next = Date.now() + 1000;
      const started = Date.now();
      const health = await this.get('/healthz');
      this.polls += 1;
      this.maxLatencyMs = Math.max(this.maxLatencyMs, Date.now() - started);
      if (health !== 200) {
        this.failures += 1;
        if (this.failureSamples.length < 5) this.failureSamples.push(`${started}: ${health}`);
      }
      if (tick % 5 === 4) {
        const scrapeStarted = Date.now();
        const metrics = await this.get('/metrics');
        this.scrapes += 1;
        this.maxScrapeMs = Math.max(this.maxScrapeMs, Date.now() - scrapeStarted);
        if (metrics !== 200) this.scrapeFailures += 1;
      }
      await sleep(Math.max(0, next - Date.now()));
    }
  }

  private get(path: string): Promise<number | string> {
    return new Promise((resolve) => {
      const req = get(
        { host: '127.0.0.1', port: this.port, path, agent: this.agent, timeout: 2000 },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', (err) => resolve(err.message));
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
      req.on('error', (err) => resolve(err.message));
    });
  }
}

/** Perch's log at warn and above: counted by level and message (bounded), first errors kept. */
export class LogTally extends Writable {
  readonly counts = new Map<string, number>();
  readonly errors: string[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      const key = `${entry.level ?? '?'}: ${entry.msg ?? '?'}`;
      if (this.counts.has(key) || this.counts.size < 100)
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      if ((entry.level === 'error' || entry.level === 'fatal') && this.errors.length < 10)
        this.errors.push(line);
    }
    done();
  }
}
