import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { lastValueFrom, map, Subject, toArray } from 'rxjs';
import { validateConfig } from '../../src/config/load-config.js';
import { eventTimeMs, type FalcoEvent } from '../../src/events/falco-event.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { createLogger } from '../../src/logging/logger.js';
import { Accounting } from '../../src/pipeline/accounting.js';
import type { Alert, EventAlert } from '../../src/pipeline/alert.js';
import { EventTimeScheduler } from '../../src/pipeline/event-time-scheduler.js';
import { buildPipeline } from '../../src/pipeline/pipeline.js';
import { loadRules } from '../../src/rules/load-rules.js';
import { RulesHolder } from '../../src/rules/rules-holder.js';
import type { AlertSink, EventSink, Sink } from '../../src/sinks/sink.js';
import { collectingSink } from '../helpers/collecting-sink.js';

const dir = mkdtempSync(join(tmpdir(), 'perch-pipeline-'));
const RULES = join(dir, 'rules.yaml');
writeFileSync(
  RULES,
  `
rules:
  - { name: drop-debug, match: { priority: Debug }, drop: true }
  - { name: quiet-batch, match: { namespace: batch }, silence: { until: "2099-01-01T00:00:00Z", reason: test } }
correlations:
  - { name: burst, type: event_count, rules: ["*"], group-by: [pod], timespan: 1m, condition: { gte: 4 } }
`,
);
const config = validateConfig(
  { rules: { defaults: false, files: [RULES], dedup: { window: '30s' } } },
  't',
  {},
);
const log = createLogger('silent');

const RULE_NAMES = [
  'Terminal shell in container',
  'Read sensitive file untrusted',
  'Contact K8S API Server From Container',
];
const NAMESPACES = ['payments', 'batch', 'tools'];
const PRIORITIES = ['Debug', 'Notice', 'Warning', 'Critical'];

interface Spec {
  gapMs: number;
  rule: number;
  ns: number;
  pod: number;
  priority: number;
}

function toEvents(specs: Spec[]): FalcoEvent[] {
  let t = Date.parse('2026-11-26T10:00:00Z');
  return specs.map((s) => {
    t += s.gapMs;
    return parseFalcoJson(
      JSON.stringify({
        rule: RULE_NAMES[s.rule],
        priority: PRIORITIES[s.priority],
        time: new Date(t).toISOString(),
        output_fields: {
          'container.id': `c${s.pod}`,
          'k8s.ns.name': NAMESPACES[s.ns],
          'k8s.pod.name': `pod-${s.pod}`,
        },
      }),
    );
  });
}

/** Runs events through the real pipeline on the alerts' own clock, as replay does. */
async function run(
  events: FalcoEvent[],
  rules = () => loadRules({ config: config.rules, sinkNames: [] }).ruleSet,
  extra: { sinks?: Sink[]; onEvent?: (alert: EventAlert) => void } = {},
) {
  const scheduler = new EventTimeScheduler();
  const accounting = new Accounting();
  const sent: Alert[] = [];
  const sink = collectingSink('all', (alert) => {
    sent.push(alert);
  });
  const input = new Subject<FalcoEvent>();
  const done = lastValueFrom(
    buildPipeline(input, {
      sinks: [sink, ...(extra.sinks ?? [])],
      log,
      now: () => scheduler.now(),
      scheduler,
      rules,
      accounting,
      ...(extra.onEvent ? { onEvent: extra.onEvent } : {}),
      dedupMaxKeys: 1000,
      correlationMaxGroups: 1000,
      allowedLatenessMs: config.pipeline.allowedLateness,
    }).pipe(toArray()),
  );
  for (const event of events) {
    scheduler.advanceTo(eventTimeMs(event));
    input.next(event);
  }
  input.complete();
  await done;
  return { accounting, sent };
}

/**
 * Dedup never holds back severity: within each digest's window, the events sent at once for its
 * fingerprint are the first one and the escalations the digest lists, and the most severe of them
 * is at least as severe as anything the digest carries.
 */
function expectNothingHeldMoreSevereThanSent(sent: Alert[]): void {
  for (const digest of sent) {
    if (digest.kind !== 'digest') continue;
    const end = digest.firstSeenMs + digest.windowMs;
    const sentAtOnce = sent.filter(
      (a): a is EventAlert =>
        a.kind === 'event' &&
        a.dedup?.key === digest.fingerprint &&
        a.receivedAtMs >= digest.firstSeenMs &&
        a.receivedAtMs < end,
    );
    expect(sentAtOnce.slice(1).map((a) => ({ priority: a.priority, atMs: a.receivedAtMs }))).toEqual(
      digest.escalations ?? [],
    );
    expect(Math.max(...sentAtOnce.map((a) => a.priority))).toBeGreaterThanOrEqual(digest.priority);
  }
}

const spec = fc.record({
  gapMs: fc.integer({ min: 0, max: 40_000 }),
  rule: fc.integer({ min: 0, max: 2 }),
  ns: fc.integer({ min: 0, max: 2 }),
  pod: fc.integer({ min: 0, max: 3 }),
  priority: fc.integer({ min: 0, max: 3 }),
});

describe('pipeline accounting', () => {
  it('every input event ends in exactly one of delivered, digested, silenced, dropped, shed (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(spec, { maxLength: 200 }), async (specs) => {
        const events = toEvents(specs);
        const { accounting, sent } = await run(events);
        const c = accounting.counts;
        expect(accounting.total).toBe(events.length);
        // What went out matches the books: one event alert per delivered, digests carry the digested.
        expect(sent.filter((a) => a.kind === 'event')).toHaveLength(c.routed);
        const digested = sent.reduce((n, a) => n + (a.kind === 'digest' ? a.count : 0), 0);
        expect(digested).toBe(c.digested);
        expect(c.dropped).toBe(events.filter((e) => e.priority === 0).length);
        expect(c.shed).toBe(0);
        expectNothingHeldMoreSevereThanSent(sent);
      }),
      { numRuns: 60 },
    );
  });

  it('shows every event to onEvent before the rules, and every event past them, repeats included, to an event sink', async () => {
    const events = toEvents(
      Array.from({ length: 40 }, (_, i) => ({
        gapMs: 100,
        rule: i % 2,
        ns: i % 3,
        pod: i % 2,
        priority: i % 4,
      })),
    );
    const seen: FalcoEvent[] = [];
    const counted: FalcoEvent[] = [];
    const eventSink: EventSink = {
      id: 'counter',
      feed: 'events',
      minPriority: 0,
      send: (a) => counted.push(a.event),
      flush: async () => {},
    };
    const { accounting } = await run(events, undefined, {
      sinks: [eventSink],
      onEvent: (alert) => {
        // Before the rules: no dedup setting yet.
        expect(alert.dedup).toBeUndefined();
        seen.push(alert.event);
      },
    });
    expect(seen).toEqual(events);
    const { dropped, silenced } = accounting.counts;
    expect(counted).toEqual(
      events.filter((e) => e.priority !== 0 && e.outputFields?.['k8s.ns.name'] !== 'batch'),
    );
    expect(counted).toHaveLength(events.length - dropped - silenced);
  });

  it('gives the same digests and incidents on every run over the same recording', async () => {
    const events = toEvents(
      Array.from({ length: 300 }, (_, i) => ({
        gapMs: (i * 7919) % 3000,
        rule: i % 3,
        ns: i % 2 === 0 ? 0 : 2,
        pod: i % 4,
        priority: 1 + (i % 3),
      })),
    );
    const shape = (alerts: Alert[]) =>
      alerts.map((a) =>
        a.kind === 'event'
          ? `e:${a.event.rule}`
          : a.kind === 'digest'
            ? `d:${a.rule}:${a.count}:${a.firstSeenMs}`
            : `i:${a.correlation}:${a.eventCount}:${a.lastSeenMs}`,
      );
    const first = shape((await run(events)).sent);
    const second = shape((await run(events)).sent);
    expect(first).toEqual(second);
    expect(first.some((s) => s.startsWith('d:'))).toBe(true);
    expect(first.some((s) => s.startsWith('i:burst'))).toBe(true);
  });

  it('keeps dedup state across a rules reload', async () => {
    const holder = new RulesHolder(config.rules, [], log);
    const scheduler = new EventTimeScheduler();
    const accounting = new Accounting();
    const input = new Subject<FalcoEvent>();
    const kinds: string[] = [];
    const done = lastValueFrom(
      buildPipeline(input, {
        sinks: [],
        log,
        now: () => scheduler.now(),
        scheduler,
        rules: () => holder.current,
        accounting,
        dedupMaxKeys: 100,
        correlationMaxGroups: 100,
        allowedLatenessMs: config.pipeline.allowedLateness,
      }).pipe(
        map((a) => (a.kind === 'digest' ? `digest×${a.count}` : a.kind)),
        toArray(),
      ),
    );
    const events = toEvents(
      [0, 1000, 2000, 3000].map((gapMs) => ({ gapMs, rule: 0, ns: 0, pod: 1, priority: 2 })),
    );
    scheduler.advanceTo(eventTimeMs(events[0] as FalcoEvent));
    input.next(events[0] as FalcoEvent);
    input.next(events[1] as FalcoEvent);
    expect(holder.reload('test')).toBe(true);
    input.next(events[2] as FalcoEvent);
    input.next(events[3] as FalcoEvent);
    input.complete();
    kinds.push(...(await done));
    // One first occurrence, then the three repeats in one digest, across the reload.
    expect(kinds.filter((k) => k !== 'incident')).toEqual(['event', 'digest×3']);
    expect(accounting.counts).toMatchObject({ routed: 1, digested: 3 });
    holder.close();
  });
});
