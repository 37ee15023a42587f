import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { Subject } from 'rxjs';
import { validateConfig } from '../../src/config/load-config.js';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { createLogger } from '../../src/logging/logger.js';
import { Accounting } from '../../src/pipeline/accounting.js';
import type { Alert, DigestAlert, IncidentAlert } from '../../src/pipeline/alert.js';
import { EventTimeScheduler } from '../../src/pipeline/event-time-scheduler.js';
import { buildPipeline } from '../../src/pipeline/pipeline.js';
import { loadRules } from '../../src/rules/load-rules.js';
import { formatAlertLine } from '../../src/sinks/console-format.js';
import type { AlertSink } from '../../src/sinks/sink.js';
import { collectingSink } from '../helpers/collecting-sink.js';

const SHELL = 'Terminal shell in container';
const READ = 'Read sensitive file untrusted';

const dir = mkdtempSync(join(tmpdir(), 'perch-event-time-'));
const RULES = join(dir, 'rules.yaml');
writeFileSync(
  RULES,
  `
correlations:
  - name: shell-then-read
    type: temporal_ordered
    rules: ["${SHELL}", "${READ}"]
    group-by: [pod]
    timespan: 2m
`,
);
const config = validateConfig(
  { rules: { defaults: false, files: [RULES], dedup: { window: '5m' } } },
  't',
  {},
);
const ruleSet = loadRules({ config: config.rules, sinkNames: [] }).ruleSet;

const T = Date.UTC(2026, 0, 1, 9, 15, 0);

function falcoEvent(rule: string, timeMs: number): FalcoEvent {
  return parseFalcoJson(
    JSON.stringify({
      rule,
      priority: 'Warning',
      time: new Date(timeMs).toISOString(),
      output: rule,
      output_fields: { 'container.id': 'c1', 'k8s.ns.name': 'payments', 'k8s.pod.name': 'api-1' },
    }),
  );
}

/** The live pipeline, with a virtual wall clock: windows close by it, alerts carry Falco's times. */
function live() {
  const clock = new EventTimeScheduler();
  const input = new Subject<FalcoEvent>();
  const sent: Alert[] = [];
  const sink = collectingSink('chat', (alert) => {
    sent.push(alert);
  });
  buildPipeline(input, {
    sinks: [sink],
    log: createLogger('silent'),
    now: () => clock.now(),
    scheduler: clock,
    rules: () => ruleSet,
    accounting: new Accounting(),
    dedupMaxKeys: 100,
    correlationMaxGroups: 100,
    allowedLatenessMs: config.pipeline.allowedLateness,
  }).subscribe();
  return {
    sent,
    clock,
    /** At wall-clock time `nowMs`, Falco's alert of `rule` stamped `eventTimeMs`. */
    arrive(nowMs: number, rule: string, eventTimeMs: number) {
      clock.advanceTo(nowMs);
      input.next(falcoEvent(rule, eventTimeMs));
    },
  };
}

const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 23);

describe('one clock for events, digests and incidents', () => {
  it('dates an incident by its events’ own times, its header never before its first event', () => {
    // The node's clock runs 20 s ahead of Perch's (within the default allowedLateness of 30 s).
    const run = live();
    const ahead = 20_000;
    run.arrive(T, SHELL, T + ahead);
    run.arrive(T + 10_000, READ, T + 10_000 + ahead);
    const incident = run.sent.find((a): a is IncidentAlert => a.kind === 'incident');
    expect(incident?.timeline.map((t) => t.timeMs)).toEqual([T + ahead, T + 10_000 + ahead]);
    expect([incident?.firstSeenMs, incident?.lastSeenMs]).toEqual([T + ahead, T + 10_000 + ahead]);
    const header = formatAlertLine(incident as IncidentAlert, false).split(' ')[0] ?? '';
    expect(header).toBe(hhmmss(T + 10_000 + ahead));
    expect(header >= hhmmss(T + ahead)).toBe(true);
  });

  it('dates a digest by its alerts’ own times while its window closes on the wall clock', () => {
    // A node whose Falco lags 10 minutes: the digest's times are when things happened, and it
    // still goes out 5 m 30 s after its window opened, without waiting for another alert.
    const run = live();
    const lag = 600_000;
    run.arrive(T + lag, SHELL, T);
    run.arrive(T + lag + 1000, SHELL, T + 1000);
    run.arrive(T + lag + 2000, SHELL, T + 2000);
    run.clock.advanceTo(T + lag + 330_000 - 1);
    expect(run.sent.filter((a) => a.kind === 'digest')).toHaveLength(0);
    run.clock.advanceTo(T + lag + 330_000);
    const digest = run.sent.find((a): a is DigestAlert => a.kind === 'digest');
    expect(digest).toMatchObject({ count: 2, firstSeenMs: T, lastSeenMs: T + 2000 });
    expect(formatAlertLine(digest as DigestAlert, false).split(' ')[0]).toBe(hhmmss(T + 2000));
  });
});
