import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { validateConfig } from '../../src/config/load-config.js';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { createLogger } from '../../src/logging/logger.js';
import { Accounting } from '../../src/pipeline/accounting.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { buildPipeline } from '../../src/pipeline/pipeline.js';
import { loadRules } from '../../src/rules/load-rules.js';
import type { AlertSink } from '../../src/sinks/sink.js';
import { eventAt } from '../helpers/alert-time.js';
import { collectingSink } from '../helpers/collecting-sink.js';

const SHELL = 'Terminal shell in container';
const READ = 'Read sensitive file untrusted';
const API = 'Contact K8S API Server From Container';
const PKG = 'Launch Package Management Process in Container';

const dir = mkdtempSync(join(tmpdir(), 'perch-correlation-timing-'));
const RULES = join(dir, 'rules.yaml');
writeFileSync(
  RULES,
  `
correlations:
  - name: shell-read-api
    type: temporal_ordered
    rules: ["${SHELL}", "${READ}", "${API}"]
    group-by: [pod]
    timespan: 2m
  - name: package-burst
    type: event_count
    rules: ["${PKG}"]
    group-by: [pod]
    timespan: 2m
    condition: { gte: 3 }
`,
);
const config = validateConfig(
  { rules: { defaults: false, files: [RULES], dedup: { window: '5m' } } },
  't',
  {},
);
const ruleSet = loadRules({ config: config.rules, sinkNames: [] }).ruleSet;
const log = createLogger('silent');

function falcoEvent(rule: string, priority: string): FalcoEvent {
  return parseFalcoJson(
    JSON.stringify({
      rule,
      priority,
      time: '2026-01-01T09:15:02Z',
      output: `${rule} (${priority})`,
      output_fields: { 'container.id': 'c1', 'k8s.ns.name': 'payments', 'k8s.pod.name': 'api-1' },
    }),
  );
}

function describeAlert(alert: Alert): string {
  switch (alert.kind) {
    case 'event':
      return `event ${alert.event.output}`;
    case 'digest':
      return `digest ${alert.rule} ×${alert.count}`;
    case 'incident':
      return `incident ${alert.correlation} of ${alert.eventCount}`;
  }
}

/**
 * Runs marble-timed Falco events through the whole pipeline on a TestScheduler (1 frame = 1 ms) and
 * records when each alert reached the alert sink. Each event happened at the frame it arrives at.
 */
function sentAt(marbles: string, events: Record<string, FalcoEvent>): [number, string][] {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  const sent: [number, string][] = [];
  const sink = collectingSink('chat', (alert) => {
    sent.push([scheduler.now(), describeAlert(alert)]);
  });
  scheduler.run(({ hot }) => {
    const arriving = hot(marbles, events).pipe(map((event) => eventAt(event, scheduler.now())));
    buildPipeline(arriving, {
      sinks: [sink],
      log,
      now: () => scheduler.now(),
      scheduler,
      rules: () => ruleSet,
      accounting: new Accounting(),
      dedupMaxKeys: 100,
      correlationMaxGroups: 100,
      allowedLatenessMs: config.pipeline.allowedLateness,
    }).subscribe();
  });
  return sent;
}

describe('correlation does not delay the events it joins', () => {
  it('sends each event of an incident to the alert sinks when it arrives, before the incident', () => {
    const sent = sentAt('s 9999ms r 9999ms a 1m |', {
      s: falcoEvent(SHELL, 'Warning'),
      r: falcoEvent(READ, 'Warning'),
      a: falcoEvent(API, 'Notice'),
    });
    expect(sent).toEqual([
      [0, `event ${SHELL} (Warning)`],
      [10_000, `event ${READ} (Warning)`],
      [20_000, `event ${API} (Notice)`],
      [20_000, 'incident shell-read-api of 3'],
    ]);
  });

  it('sends escalating events of one dedup key at once while they build an incident', () => {
    // One rule in one pod: one dedup key. Each event is more severe than the last, so dedup sends
    // each at once; the fourth is a repeat and waits for the digest, as any repeat does: the window
    // ends at 5 m and waits pipeline.allowedLateness (30 s by default) for late alerts.
    const sent = sentAt('n 4999ms w 4999ms c 4999ms C 6m |', {
      n: falcoEvent(PKG, 'Notice'),
      w: falcoEvent(PKG, 'Warning'),
      c: falcoEvent(PKG, 'Critical'),
      C: falcoEvent(PKG, 'Critical'),
    });
    expect(sent).toEqual([
      [0, `event ${PKG} (Notice)`],
      [5_000, `event ${PKG} (Warning)`],
      [10_000, `event ${PKG} (Critical)`],
      [10_000, 'incident package-burst of 3'],
      [330_000, `digest ${PKG} ×1`],
    ]);
  });
});
