import type { Writable } from 'node:stream';
import { filter, lastValueFrom, map, type Observable } from 'rxjs';
import type { KubernetesConfig } from '../config/schema.js';
import { EventParseError } from '../events/event-parse-error.js';
import { eventTimeMs, type FalcoEvent } from '../events/falco-event.js';
import { parseFalcoJson } from '../events/parse-falco-json.js';
import { priorityName } from '../events/priority.js';
import { ClusterState } from '../kube/cluster-state.js';
import { clusterStateOptions } from '../kube/kubernetes-context.js';
import { loadClusterDump } from '../kube/offline-cluster.js';
import type { Logger } from '../logging/logger.js';
import { PerchMetrics } from '../metrics/perch-metrics.js';
import { buildPipeline } from '../pipeline/pipeline.js';
import { ConsoleSink } from '../sinks/console-sink.js';
import { type FollowRecord, readLinesOnce } from '../sources/file-follower.js';

export interface ReplaySummary {
  lines: number;
  alerts: number;
  rejected: number;
  /** The first rejections, with line numbers; `rejected` counts them all. */
  rejections: { line: number; error: string }[];
  byPriority: Record<string, number>;
  firstTime?: string;
  lastTime?: string;
}

const MAX_REPORTED_REJECTIONS = 20;

/**
 * `perch replay FILE`: the same pipeline as `perch run`, offline over a JSON-lines file, with
 * the alerts' own timestamps as the clock. Prints what would be sent; returns the summary.
 */
export async function replayFile(
  path: string,
  options: { json: boolean; out: Writable; log: Logger; podsFile?: string; kubernetes: KubernetesConfig },
): Promise<ReplaySummary> {
  const summary: ReplaySummary = { lines: 0, alerts: 0, rejected: 0, rejections: [], byPriority: {} };
  const reject = (line: number, error: string) => {
    summary.rejected += 1;
    if (summary.rejections.length < MAX_REPORTED_REJECTIONS) summary.rejections.push({ line, error });
  };
  const metrics = new PerchMetrics({ processMetrics: false });
  const sink = new ConsoleSink(
    'replay',
    { type: 'console', format: options.json ? 'json' : 'text', color: 'auto', minPriority: 0 },
    options.out,
    metrics.component('sink', 'replay'),
  );
  let clock = 0;
  const events$: Observable<FalcoEvent> = readLinesOnce(path).pipe(
    map((record: FollowRecord) => {
      if (record.kind === 'problem') {
        reject(summary.lines + 1, `${record.reason}: ${record.detail}`);
        return undefined;
      }
      summary.lines = record.line.lineNumber;
      try {
        const event = parseFalcoJson(record.line.text);
        clock = eventTimeMs(event);
        return event;
      } catch (err) {
        reject(record.line.lineNumber, err instanceof EventParseError ? err.message : String(err));
        return undefined;
      }
    }),
    filter((event): event is FalcoEvent => event !== undefined),
  );
  const cluster = options.podsFile ? new ClusterState(clusterStateOptions(options.kubernetes)) : undefined;
  if (cluster && options.podsFile) loadClusterDump(options.podsFile, cluster);
  const alerts$ = buildPipeline(events$, {
    sinks: [sink],
    log: options.log,
    now: () => clock,
    // Offline, the dump is all there will ever be: an alert it cannot place is unresolved at once.
    ...(cluster ? { resolver: cluster, enrich: { pendingTimeoutMs: 0, maxPending: 1 } } : {}),
  });
  await lastValueFrom(
    alerts$.pipe(
      map((alert) => {
        summary.alerts += 1;
        const name = priorityName(alert.priority);
        summary.byPriority[name] = (summary.byPriority[name] ?? 0) + 1;
        summary.firstTime ??= alert.event.time;
        summary.lastTime = alert.event.time;
        return alert;
      }),
    ),
    { defaultValue: undefined },
  );
  await sink.flush();
  return summary;
}

export function formatReplaySummary(path: string, s: ReplaySummary): string {
  const lines = [`replay of ${path}: ${s.lines} lines, ${s.alerts} alerts, ${s.rejected} rejected`];
  if (s.firstTime) lines.push(`  time span: ${s.firstTime} → ${s.lastTime}`);
  const prio = Object.entries(s.byPriority)
    .map(([p, n]) => `${p} ${n}`)
    .join(', ');
  if (prio) lines.push(`  by priority: ${prio}`);
  for (const r of s.rejections) lines.push(`  line ${r.line}: ${r.error}`);
  if (s.rejected > s.rejections.length)
    lines.push(`  … and ${s.rejected - s.rejections.length} more rejected lines`);
  return lines.join('\n');
}
