import type { Writable } from 'node:stream';
import type { PerchConfig } from '../config/schema.js';
import { EventParseError } from '../events/event-parse-error.js';
import { eventTimeMs, type FalcoEvent } from '../events/falco-event.js';
import { parseFalcoJson } from '../events/parse-falco-json.js';
import { priorityName } from '../events/priority.js';
import { ClusterState } from '../kube/cluster-state.js';
import { clusterStateOptions } from '../kube/kubernetes-context.js';
import { loadClusterDump } from '../kube/offline-cluster.js';
import type { Logger } from '../logging/logger.js';
import { PerchMetrics } from '../metrics/perch-metrics.js';
import { Accounting, type EventOutcome } from '../pipeline/accounting.js';
import { EventTimeScheduler } from '../pipeline/event-time-scheduler.js';
import { buildPipeline } from '../pipeline/pipeline.js';
import { loadRules } from '../rules/load-rules.js';
import { RulesError } from '../rules/rules-holder.js';
import { ConsoleSink } from '../sinks/console-sink.js';
import { type FollowRecord, readLinesOnce } from '../sources/file-follower.js';
import { filter, from, lastValueFrom, map, type Observable, takeWhile, tap } from '../util/rx.js';
import { TimeSortedLines } from './time-sorted-lines.js';

export interface ReplaySummary {
  lines: number;
  /** Input events parsed from the file. */
  events: number;
  rejected: number;
  /** The first rejections, with line numbers; `rejected` counts them all. */
  rejections: { line: number; error: string }[];
  /** Where every event ended (sums to `events`). */
  outcomes: Record<EventOutcome, number>;
  /** What would be sent, by kind: event, digest, incident. */
  sent: Record<string, number>;
  byPriority: Record<string, number>;
  enrichment: Record<string, number>;
  warnings: string[];
  /** The earliest and the latest alert time in the file. */
  firstTime?: string;
  lastTime?: string;
}

const MAX_REPORTED_REJECTIONS = 20;

/**
 * `perch replay FILE`: the same pipeline as `perch run` (rules, enrichment from a dump, dedup,
 * correlation), offline over a JSON-lines file. The alerts go through in the order of their own
 * times, which are also the clock, so a recorded hour gives the same digests and incidents on
 * every run, in seconds, and a file of several nodes' logs one after the other gives the same as
 * those logs merged in time order.
 */
export async function replayFile(
  path: string,
  options: { json: boolean; out: Writable; log: Logger; config: PerchConfig },
): Promise<ReplaySummary> {
  const { config } = options;
  const summary: ReplaySummary = {
    lines: 0,
    events: 0,
    rejected: 0,
    rejections: [],
    outcomes: { routed: 0, digested: 0, silenced: 0, dropped: 0, shed: 0 },
    sent: {},
    byPriority: {},
    enrichment: {},
    warnings: [],
  };
  const reject = (line: number, error: string) => {
    summary.rejected += 1;
    if (summary.rejections.length < MAX_REPORTED_REJECTIONS) summary.rejections.push({ line, error });
  };
  const rules = loadRules({ config: config.rules, sinkNames: Object.keys(config.sinks) });
  if (rules.errors.length > 0) throw new RulesError(rules.errors);
  summary.warnings = rules.warnings;
  const metrics = new PerchMetrics({ processMetrics: false });
  const sink = new ConsoleSink(
    'replay',
    { type: 'console', format: options.json ? 'json' : 'text', color: 'auto', minPriority: 0 },
    options.out,
    metrics.component('sink', 'replay'),
  );
  const scheduler = new EventTimeScheduler();
  const podsFile = config.kubernetes.podsFile;
  const cluster = podsFile
    ? new ClusterState(clusterStateOptions(config.kubernetes, config.nodeName))
    : undefined;
  if (cluster && podsFile) loadClusterDump(podsFile, cluster);

  // The alerts go through in time order: a later line may hold an earlier alert. A file already in
  // time order (one node's log) goes through as it is read, checked on the way. Any other file is
  // first read and checked whole (rejections keep their line numbers), then read again, sorted if
  // it has to be.
  const checker = new LineChecker(summary, reject);
  let sorted: TimeSortedLines | undefined;
  let inOrder$: Observable<FalcoEvent>;
  if (await timesVisiblyInOrder(path)) {
    inOrder$ = readLinesOnce(path).pipe(
      map((record) => checker.check(record)),
      filter((event): event is FalcoEvent => event !== undefined),
    );
  } else {
    await lastValueFrom(readLinesOnce(path).pipe(tap((record) => checker.check(record))), {
      defaultValue: undefined,
    });
    sorted = checker.inTimeOrder ? undefined : await sortByTime(path, summary.lines);
    inOrder$ = sorted
      ? from(sorted.lines()).pipe(map((text) => parseFalcoJson(text)))
      : alertsInFileOrder(path, summary.lines);
  }
  try {
    const events$ = inOrder$.pipe(
      // Windows that closed before this alert fire first, exactly as they would have live.
      tap((event) => scheduler.advanceTo(eventTimeMs(event))),
    );
    const accounting = new Accounting();
    const alerts$ = buildPipeline(events$, {
      sinks: [sink],
      log: options.log,
      now: () => scheduler.now(),
      scheduler,
      rules: () => rules.ruleSet,
      accounting,
      dedupMaxKeys: config.rules.dedup.maxKeys,
      correlationMaxGroups: config.pipeline.maxCorrelationGroups,
      allowedLatenessMs: config.pipeline.allowedLateness,
      // Offline, the dump is all there will ever be: an alert it cannot place is unresolved at once.
      enrich: {
        pendingTimeoutMs: 0,
        maxPending: 1,
        onOutcome: (outcome) => {
          summary.enrichment[outcome] = (summary.enrichment[outcome] ?? 0) + 1;
        },
      },
      ...(cluster ? { resolver: cluster } : {}),
    });
    await lastValueFrom(
      alerts$.pipe(
        tap((alert) => {
          summary.sent[alert.kind] = (summary.sent[alert.kind] ?? 0) + 1;
          const name = priorityName(alert.priority);
          summary.byPriority[name] = (summary.byPriority[name] ?? 0) + 1;
        }),
      ),
      { defaultValue: undefined },
    );
    await sink.flush();
    summary.outcomes = { ...accounting.counts };
    return summary;
  } finally {
    sorted?.dispose();
  }
}

/**
 * Counts the file's lines and events as they are read, rejects what is not an alert, and notes the
 * earliest and latest alert time and whether the alerts came in time order.
 */
class LineChecker {
  private earliestNs: bigint | undefined;
  private latestNs: bigint | undefined;
  inTimeOrder = true;

  constructor(
    private readonly summary: ReplaySummary,
    private readonly reject: (line: number, error: string) => void,
  ) {}

  check(record: FollowRecord): FalcoEvent | undefined {
    const { summary } = this;
    if (record.kind === 'problem') {
      this.reject(summary.lines + 1, `${record.reason}: ${record.detail}`);
      return undefined;
    }
    summary.lines = record.line.lineNumber;
    let event: FalcoEvent;
    try {
      event = parseFalcoJson(record.line.text);
    } catch (err) {
      this.reject(record.line.lineNumber, err instanceof EventParseError ? err.message : String(err));
      return undefined;
    }
    summary.events += 1;
    if (this.earliestNs === undefined || event.timeNs < this.earliestNs) {
      this.earliestNs = event.timeNs;
      summary.firstTime = event.time;
    }
    if (this.latestNs === undefined || event.timeNs >= this.latestNs) {
      this.latestNs = event.timeNs;
      summary.lastTime = event.time;
    } else this.inTimeOrder = false;
    return event;
  }
}

/** Falco's own form of `time`, in UTC: two of the same length compare as text as they do in time. */
const FALCO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z$/;
const TIME_MEMBER = '"time":"';

/**
 * Whether every line's `time` can be read without parsing the line (one `"time":"…"` member, in
 * Falco's form, all of one length) and the times never go back. False when in doubt: such a file is
 * then checked whole before anything is sent, which gives the same result at the cost of a second parse.
 */
async function timesVisiblyInOrder(path: string): Promise<boolean> {
  let previous: string | undefined;
  let inOrder = true;
  await lastValueFrom(
    readLinesOnce(path).pipe(
      takeWhile(() => inOrder),
      tap((record) => {
        if (record.kind !== 'line') return;
        const text = record.line.text;
        const at = text.indexOf(TIME_MEMBER);
        const from = at + TIME_MEMBER.length;
        const end = at < 0 ? -1 : text.indexOf('"', from);
        const time = end < 0 ? undefined : text.slice(from, end);
        inOrder =
          time !== undefined &&
          text.indexOf(TIME_MEMBER, end) < 0 &&
          FALCO_TIME.test(time) &&
          (previous === undefined || (time.length === previous.length && time >= previous));
        previous = time;
      }),
    ),
    { defaultValue: undefined },
  );
  return inOrder;
}

/**
 * The alerts among the first `lastLine` lines of the file, in file order: lines appended since the
 * scan are left out, so that every event the summary counted ends in exactly one outcome.
 */
function alertsInFileOrder(path: string, lastLine: number): Observable<FalcoEvent> {
  return readLinesOnce(path).pipe(
    takeWhile((record) => record.kind === 'problem' || record.line.lineNumber <= lastLine),
    map((record) => (record.kind === 'line' ? tryParse(record.line.text) : undefined)),
    filter((event): event is FalcoEvent => event !== undefined),
  );
}

/** Only the lines of a file that is not in time order are held (the parsed alerts take several times their memory). */
async function sortByTime(path: string, lastLine: number): Promise<TimeSortedLines> {
  const sorted = new TimeSortedLines();
  try {
    await lastValueFrom(
      readLinesOnce(path).pipe(
        takeWhile((record) => record.kind === 'problem' || record.line.lineNumber <= lastLine),
        tap((record: FollowRecord) => {
          if (record.kind !== 'line') return;
          const event = tryParse(record.line.text);
          if (event) sorted.add(record.line.text, event.timeNs);
        }),
      ),
      { defaultValue: undefined },
    );
  } catch (err) {
    sorted.dispose();
    throw err;
  }
  return sorted;
}

/** The scan has already rejected (and reported) what does not parse; later passes skip it silently. */
function tryParse(text: string): FalcoEvent | undefined {
  try {
    return parseFalcoJson(text);
  } catch {
    return undefined;
  }
}

export function formatReplaySummary(path: string, s: ReplaySummary): string {
  const list = (record: Record<string, number>) =>
    Object.entries(record)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  const lines = [`replay of ${path}: ${s.lines} lines, ${s.events} events, ${s.rejected} rejected`];
  if (s.firstTime) lines.push(`  time span: ${s.firstTime} → ${s.lastTime}`);
  lines.push(`  events ended as: ${list(s.outcomes)}`);
  lines.push(`  would send: ${list(s.sent)}`);
  lines.push(`  by priority: ${list(s.byPriority)}`);
  lines.push(`  kubernetes context: ${list(s.enrichment)}`);
  for (const w of s.warnings) lines.push(`  rules warning: ${w}`);
  for (const r of s.rejections) lines.push(`  line ${r.line}: ${r.error}`);
  if (s.rejected > s.rejections.length)
    lines.push(`  … and ${s.rejected - s.rejections.length} more rejected lines`);
  return lines.join('\n');
}
