/** An alert's receipt time is when the pipeline took the event in, whatever waited in between. */
import { describe, expect, it } from '@jest/globals';
import { Subject } from 'rxjs';
import { validateConfig } from '../../src/config/load-config.js';
import { containerId, type FalcoEvent } from '../../src/events/falco-event.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import { createLogger } from '../../src/logging/logger.js';
import { Accounting } from '../../src/pipeline/accounting.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { buildPipeline } from '../../src/pipeline/pipeline.js';
import { loadRules } from '../../src/rules/load-rules.js';
import type { AlertSink } from '../../src/sinks/sink.js';
import { collectingSink } from '../helpers/collecting-sink.js';

const config = validateConfig({ rules: { defaults: false } }, 't', {});

function event(rule: string, container: string): FalcoEvent {
  return parseFalcoJson(
    JSON.stringify({
      rule,
      priority: 'Warning',
      time: '2026-11-26T10:00:00.000000000Z',
      output_fields: { 'container.id': container },
    }),
  );
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('receipt time', () => {
  it('is stamped as the event comes in, before the intake buffer and a wait for its pod', async () => {
    const known = new Set(['aaaaaaaaaaaa']);
    const changes$ = new Subject<void>();
    const resolver = {
      resolve: (e: FalcoEvent): Enrichment | undefined =>
        known.has(containerId(e) ?? '') ? { outcome: 'container_id' } : undefined,
      changes$,
    };
    let clock = 1_000;
    const sent: Alert[] = [];
    const sink = collectingSink('all', (alert) => {
      sent.push(alert);
    });
    const input = new Subject<FalcoEvent>();
    const subscription = buildPipeline(input, {
      sinks: [sink],
      log: createLogger('silent'),
      now: () => clock,
      rules: () => loadRules({ config: config.rules, sinkNames: [] }).ruleSet,
      accounting: new Accounting(),
      intake: { capacity: 10 },
      resolver,
      enrich: { pendingTimeoutMs: 60_000, maxPending: 10 },
      dedupMaxKeys: 100,
      correlationMaxGroups: 100,
      allowedLatenessMs: 0,
    }).subscribe();

    input.next(event('known pod', 'aaaaaaaaaaaa'));
    input.next(event('pod not yet known', 'bbbbbbbbbbbb'));
    // The intake buffer hands the events on in a later turn, when the clock has moved on.
    clock = 2_000;
    await tick();
    expect(sent.map((a) => [a.kind === 'event' && a.event.rule, a.receivedAtMs])).toEqual([
      ['known pod', 1_000],
    ]);

    clock = 3_000;
    known.add('bbbbbbbbbbbb');
    changes$.next();
    expect(sent.map((a) => [a.kind === 'event' && a.event.rule, a.receivedAtMs])).toEqual([
      ['known pod', 1_000],
      ['pod not yet known', 1_000],
    ]);
    subscription.unsubscribe();
  });
});
