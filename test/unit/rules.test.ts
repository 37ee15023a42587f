import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { validateConfig } from '../../src/config/load-config.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import type { Enrichment, PodContext } from '../../src/kube/pod-context.js';
import {
  alertFromEvent,
  copyEventAlert,
  EVENT_ALERT_FIELDS,
  type EventAlert,
} from '../../src/pipeline/alert.js';
import { compileMatch } from '../../src/rules/compile-match.js';
import { anyOf } from '../../src/rules/glob.js';
import { loadRules } from '../../src/rules/load-rules.js';
import type { MatchBlock } from '../../src/rules/rule-schema.js';
import { deepFreeze } from '../../src/util/deep-freeze.js';
import { podContext } from '../fixtures/pod-context.js';
import { shareHiddenClass, WARM_UP_OBJECTS } from '../helpers/hidden-class.js';

const dir = mkdtempSync(join(tmpdir(), 'perch-rules-'));
const NOW = Date.parse('2026-11-26T12:00:00Z');

function rulesFile(yaml: string): string {
  const path = join(dir, `rules-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, yaml);
  return path;
}

function load(yaml: string, opts: { defaults?: boolean; sinks?: string[] } = {}) {
  const config = validateConfig(
    { rules: { defaults: opts.defaults ?? false, files: [rulesFile(yaml)] } },
    't',
    {},
  ).rules;
  return loadRules({ config, sinkNames: opts.sinks ?? ['console', 'secops'], nowMs: NOW });
}

const POD = podContext({
  namespace: 'payments',
  labels: { team: 'shop' },
  workload: { kind: 'Deployment', name: 'payments-api' },
  runtimeClass: 'gvisor',
  handler: 'runsc',
  isolation: 'sandbox',
  posture: {
    level: 'privileged',
    violations: [{ check: 'privileged', level: 'baseline', container: 'api', field: 'f', value: 'true' }],
  },
});

function alert(
  patch: Record<string, unknown> = {},
  enrichment: Enrichment = { outcome: 'container_id', pod: POD },
): EventAlert {
  const event = parseFalcoJson(
    JSON.stringify({
      rule: 'Terminal shell in container',
      priority: 'Notice',
      time: '2026-11-26T11:00:00Z',
      source: 'syscall',
      hostname: 'worker-2',
      tags: ['container', 'shell', 'mitre_execution'],
      output_fields: {
        'container.id': '8f2c4d1e9a7b',
        'proc.cmdline': 'bash -i',
        'proc.pname': null,
        'fd.rport': 443,
      },
      ...patch,
    }),
  );
  return alertFromEvent({ event, enrichment }, NOW);
}

function matches(block: MatchBlock, a: EventAlert = alert()): boolean {
  const notes = { errors: [], warnings: [] };
  const predicate = compileMatch(block, 'm', notes);
  expect(notes.errors).toEqual([]);
  return predicate(a);
}

describe('rule matching, field by field', () => {
  it.each<[string, MatchBlock, boolean]>([
    ['exact rule name', { rule: 'Terminal shell in container' }, true],
    ['rule name glob across "/"', { rule: 'Terminal*' }, true],
    ['rule name list', { rule: ['Other', 'Terminal shell in container'] }, true],
    ['other rule', { rule: 'Read sensitive file untrusted' }, false],
    ['priority >=', { priority: '>=Notice' }, true],
    ['priority >', { priority: '>Notice' }, false],
    ['priority <', { priority: '<Warning' }, true],
    ['priority equal', { priority: 'notice' }, true],
    ['all tags present', { tags: ['container', 'shell'] }, true],
    ['a tag missing', { tags: ['container', 'network'] }, false],
    ['source', { source: 'syscall' }, true],
    ['source list', { source: ['k8s_audit', 'aws_cloudtrail'] }, false],
    ['field glob', { fields: { 'proc.cmdline': 'bash*' } }, true],
    ['numeric field as text', { fields: { 'fd.rport': '443' } }, true],
    ['field null (unresolved)', { fields: { 'proc.pname': null } }, true],
    ['field mismatch', { fields: { 'proc.cmdline': 'sh' } }, false],
    ['namespace glob', { namespace: 'pay*' }, true],
    ['workload kind/name, any case of kind', { workload: 'Deployment/payments-*' }, true],
    ['workload other kind', { workload: 'daemonset/*' }, false],
    ['pod label', { labels: { team: 'shop' } }, true],
    ['pod label absent', { labels: { tier: 'web' } }, false],
    ['runtime class', { runtimeClass: 'gvisor' }, true],
    ['isolation', { isolation: ['sandbox', 'vm'] }, true],
    ['isolation other', { isolation: 'container' }, false],
    ['pss level', { pss: 'privileged' }, true],
    ['pss violation', { pssViolations: ['hostPathVolumes', 'privileged'] }, true],
    ['container, not host', { host: false }, true],
    ['host only', { host: true }, false],
    ['not', { not: { namespace: 'kube-system' } }, true],
    [
      'CEL expression',
      { expr: 'event.fields["proc.cmdline"].startsWith("bash") && pod.labels.team == "shop"' },
      true,
    ],
    ['CEL on severity', { expr: 'event.severity >= 3' }, false],
    [
      'everything combined',
      { rule: 'Terminal*', namespace: 'payments', isolation: 'sandbox', pss: 'privileged' },
      true,
    ],
  ])('%s', (_name, block, expected) => {
    expect(matches(block)).toBe(expected);
  });

  it('matches host events by host and isolation host, and namespace from Falco fields without context', () => {
    const host = alert({ output_fields: { 'container.id': 'host' } }, { outcome: 'host', node: 'worker-2' });
    expect(matches({ host: true, isolation: 'host' }, host)).toBe(true);
    const bare = alert(
      { output_fields: { 'container.id': 'abc', 'k8s.ns.name': 'tools' } },
      { outcome: 'disabled' },
    );
    expect(matches({ namespace: 'tools' }, bare)).toBe(true);
    expect(matches({ isolation: 'container' }, bare)).toBe(false);
  });

  it('answers pssViolations for each pod, also when one predicate sees many pods in turn', () => {
    const notes = { errors: [], warnings: [] };
    const privileged = compileMatch({ pssViolations: ['privileged'] }, 'm', notes);
    const posture = (checks: string[]) =>
      ({
        level: 'baseline',
        violations: checks.map((check) => ({
          check,
          level: 'baseline',
          container: 'api',
          field: 'f',
          value: 'v',
        })),
      }) as PodContext['posture'];
    // As the cluster cache shares them: frozen, one per pod.
    const frozen = (checks: string[]) =>
      alert({}, { outcome: 'container_id', pod: deepFreeze(podContext({ posture: posture(checks) })) });
    const bad = frozen(['hostPathVolumes', 'privileged']);
    const good = frozen(['hostPathVolumes']);
    const none = frozen([]);
    for (let i = 0; i < 3; i++) {
      expect([privileged(bad), privileged(good), privileged(none)]).toEqual([true, false, false]);
    }
    // A posture built for one alert may change before the next: it is read again.
    const own = podContext({ posture: posture(['hostPathVolumes']) });
    const changing = alert({}, { outcome: 'container_id', pod: own });
    expect(privileged(changing)).toBe(false);
    own.posture.violations.push(...posture(['privileged']).violations);
    expect(privileged(changing)).toBe(true);
  });

  it('CEL sees an output field named __proto__ like any other field', () => {
    const withProto = alert({ output_fields: JSON.parse('{"__proto__": "x", "proc.name": "bash"}') });
    expect(matches({ expr: 'event.fields["__proto__"] == "x"' }, withProto)).toBe(true);
    expect(matches({ expr: 'event.fields["proc.name"] == "bash"' }, withProto)).toBe(true);
  });

  it('a CEL expression that fails at run time counts as no match and is reported', () => {
    const failures: string[] = [];
    const p = compileMatch(
      { expr: 'event.fields["absent"] == "x"' },
      'm',
      { errors: [], warnings: [] },
      (expr) => failures.push(expr),
    );
    expect(p(alert())).toBe(false);
    expect(failures).toEqual(['event.fields["absent"] == "x"']);
  });
});

describe('rule actions and order', () => {
  it('copies every field of an alert, and changes only the copy', () => {
    const input: EventAlert = {
      ...alert(),
      routes: ['console'],
      dedup: { key: 'k', windowMs: 1000 },
      reasons: ['earlier'],
    };
    const copy = copyEventAlert(input);
    expect(Object.keys(copy).sort()).toEqual(Object.keys(EVENT_ALERT_FIELDS).sort());
    expect(copy).toStrictEqual(input);
    expect(copy).not.toBe(input);
    const { ruleSet } = load(`
rules:
  - { name: raise, match: {}, severity: Critical, reason: raised, route: [secops] }
`);
    const before = structuredClone({
      priority: input.priority,
      reasons: input.reasons,
      routes: input.routes,
    });
    ruleSet.apply(input, NOW);
    expect({ priority: input.priority, reasons: input.reasons, routes: input.routes }).toEqual(before);
  });

  it('applyTo changes the alert it is given, but not a reasons list it shares', () => {
    const { ruleSet } = load(`
rules:
  - { name: raise, match: {}, severity: Critical, reason: raised, route: [secops] }
`);
    const shared = ['earlier'];
    const given: EventAlert = { ...alert(), reasons: shared };
    const outcome = ruleSet.applyTo(given, NOW);
    expect(outcome.alert).toBe(given);
    expect(given.priority).toBe(Priority.Critical);
    expect(given.routes).toEqual(['secops']);
    expect(given.reasons).toEqual(['earlier', 'raised: raised to Critical']);
    expect(shared).toEqual(['earlier']);
  });

  it('copies every alert into one hidden class: with a dedup setting, routes, or neither', () => {
    const { ruleSet } = load(`
rules:
  - { name: routed, match: { rule: Routed }, route: [secops] }
  - { name: undeduplicated, match: { rule: Plain }, dedup: { enabled: false } }
`);
    // Two alerts of each kind, from different events: V8 gives a copy made by spreading the input
    // and then adding properties a class of its own, a cost paid on every event.
    for (const rule of ['Terminal shell in container', 'Routed', 'Plain']) {
      const copies = Array.from(
        { length: WARM_UP_OBJECTS },
        (_, n) => ruleSet.apply(alert({ rule, output_fields: { 'proc.pid': n } }), NOW).alert,
      );
      expect(new Set(copies).size).toBe(WARM_UP_OBJECTS);
      expect(shareHiddenClass(copies)).toBe(true);
    }
    const deduplicated = ruleSet.apply(alert(), NOW).alert;
    expect(deduplicated.dedup?.windowMs).toBeGreaterThan(0);
    expect(ruleSet.apply(alert({ rule: 'Routed' }), NOW).alert.routes).toEqual(['secops']);
    expect('dedup' in ruleSet.apply(alert({ rule: 'Plain' }), NOW).alert).toBe(false);
  });

  it('sets severity with the stated reason, and stops at the first match', () => {
    const { ruleSet, errors } = load(`
rules:
  - name: escalate
    match: { pss: privileged }
    severity: Critical
    reason: privileged pod
  - name: never-reached
    match: {}
    severity: Debug
`);
    expect(errors).toEqual([]);
    const out = ruleSet.apply(alert(), NOW);
    expect(out.alert.priority).toBe(Priority.Critical);
    expect(out.alert.reasons).toEqual(['privileged pod: raised to Critical']);
    expect(out.matched).toEqual(['escalate']);
  });

  it('continue: true lets later rules act; adjustments accumulate and are clamped; routes add up', () => {
    const { ruleSet } = load(`
rules:
  - { name: a, match: {}, severity: "+2", reason: first, route: [console], continue: true }
  - { name: b, match: {}, severity: "-7", reason: second, route: [secops], continue: true }
  - { name: c, match: {}, severity: "+1", reason: third }
`);
    const out = ruleSet.apply(alert(), NOW);
    expect(out.matched).toEqual(['a', 'b', 'c']);
    expect(out.alert.priority).toBe(Priority.Informational);
    expect(out.alert.reasons).toEqual([
      'first: raised to Error',
      'second: lowered to Debug',
      'third: raised to Informational',
    ]);
    expect(out.alert.routes).toEqual(['console', 'secops']);
  });

  it('silences until the expiry, then lets alerts through', () => {
    const { ruleSet, warnings } = load(`
rules:
  - name: maintenance
    match: { namespace: payments }
    silence: { until: "2026-11-26T13:00:00Z", reason: "planned maintenance" }
`);
    expect(warnings).toEqual([]);
    expect(ruleSet.apply(alert(), NOW).disposition).toEqual({
      kind: 'silenced',
      rule: 'maintenance',
      reason: 'planned maintenance',
      untilMs: Date.parse('2026-11-26T13:00:00Z'),
    });
    expect(ruleSet.apply(alert(), Date.parse('2026-11-26T13:00:01Z')).disposition).toEqual({
      kind: 'deliver',
    });
  });

  it('drops, and drop ends evaluation', () => {
    const { ruleSet } = load(`
rules:
  - { name: noise, match: { rule: "Terminal*" }, drop: true, continue: true }
  - { name: after, match: {}, severity: Critical }
`);
    const out = ruleSet.apply(alert(), NOW);
    expect(out.disposition).toEqual({ kind: 'dropped', rule: 'noise' });
    expect(out.matched).toEqual(['noise']);
  });

  it('builds the dedup key from the configured parts, and rules can override key and window or turn it off', () => {
    const { ruleSet } = load(`
rules:
  - { name: by-cmd, match: { namespace: payments }, dedup: { key: [rule, "proc.cmdline"], window: 1m } }
  - { name: off, match: { namespace: tools }, dedup: { enabled: false } }
`);
    const paid = ruleSet.apply(alert(), NOW).alert.dedup;
    expect(paid).toEqual({ key: 'Terminal shell in container\u001fbash -i', windowMs: 60_000 });
    const other = ruleSet.apply(alert({}, { outcome: 'disabled' }), NOW).alert.dedup;
    expect(other?.windowMs).toBe(300_000);
    expect(other?.key).toContain('Terminal shell in container');
    const tools = ruleSet.apply(
      alert({ output_fields: { 'k8s.ns.name': 'tools' } }, { outcome: 'disabled' }),
      NOW,
    ).alert.dedup;
    expect(tools).toBeUndefined();
  });
});

describe('perch check lints rules', () => {
  it('reports unknown fields, unknown sinks, bad priorities, CEL syntax, never-matching rules and duplicates', () => {
    const { errors } = load(`
rules:
  - { name: a, match: { namespaces: [x] }, drop: true }
  - { name: b, match: {}, route: [pager] }
  - { name: c, match: { priority: ">Emergency" }, drop: true }
  - { name: d, match: { expr: "event.((" }, drop: true }
  - { name: e, match: { host: true, namespace: payments }, drop: true }
  - { name: e, match: {}, drop: true }
`);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/rules\[0\]\.match: unknown key "namespaces"/),
        expect.stringMatching(
          /rules\[1\] \(b\)\.route: no sink named "pager" in perch\.yaml \(sinks: console, secops\)/,
        ),
        expect.stringMatching(/rules\[2\] \(c\)\.match\.priority: ">Emergency" can never match/),
        expect.stringMatching(/rules\[3\] \(d\)\.match\.expr: CEL syntax error in "event\.\(\("/),
        expect.stringMatching(/rules\[4\] \(e\)\.match: host: true can never match together with namespace/),
        expect.stringMatching(/rules\[5\] \(e\): the name "e" is already used/),
      ]),
    );
  });

  it('warns about expired silences, unknown Falco rule names and rules without actions', () => {
    const { errors, warnings } = load(`
rules:
  - { name: old, match: {}, silence: { until: "2025-01-01", reason: "old" } }
  - { name: typo, match: { rule: "Terminal shel in container" }, severity: Critical }
  - { name: idle, match: {} }
`);
    expect(errors).toEqual([]);
    expect(warnings).toEqual([
      expect.stringMatching(/\(old\)\.silence: expired on 2025-01-01T00:00:00\.000Z/),
      expect.stringMatching(
        /\(typo\)\.match\.rule: "Terminal shel in container" is not a rule of Falco's rules 5\.1\.0/,
      ),
      expect.stringMatching(/\(idle\): has no action/),
    ]);
  });

  it('ships default rules that load without errors or warnings', () => {
    const config = validateConfig({}, 't', {}).rules;
    const { errors, warnings, ruleSet } = loadRules({ config, sinkNames: ['console'], nowMs: NOW });
    expect(errors).toEqual([]);
    expect(warnings).toEqual([]);
    expect(ruleSet.rules.map((r) => r.name)).toEqual([
      'falco-internal-events',
      'privileged-pod-on-runc',
      'host-process',
      'sandbox-contains-escape',
      'sandbox-contains-escape-tagged',
    ]);
    expect(ruleSet.correlations.map((c) => c.name)).toEqual([
      'shell-then-credential-access',
      'same-rule-across-workload',
    ]);
    // A shell in a privileged runc pod is raised; in a gVisor pod it keeps Falco's priority, since the
    // sandbox contains an escape to the node, not the compromise of the workload.
    const runc = ruleSet.apply(
      alert(
        {},
        { outcome: 'container_id', pod: { ...POD, isolation: 'container', runtimeClass: undefined } },
      ),
      NOW,
    );
    expect(runc.alert.priority).toBe(Priority.Critical);
    expect(runc.alert.reasons[0]).toMatch(/runc isolation: raised to Critical/);
    const sandboxed = ruleSet.apply(alert(), NOW);
    expect(sandboxed.alert.priority).toBe(Priority.Notice);
    expect(sandboxed.alert.reasons).toEqual([]);
  });
});

describe('anyOf', () => {
  it('lets "*" match any value (a catch-all correlation) but never a missing one', () => {
    const any = anyOf(['Some rule', '*']);
    expect(any('')).toBe(true);
    expect(any('Redirect STDOUT/STDIN to Network Connection in Container')).toBe(true);
    expect(any(undefined)).toBe(false);
  });

  it('compares plain names exactly and globs as Falco does', () => {
    const test = anyOf(['Terminal shell in container', 'Read sensitive file *']);
    expect(test('Terminal shell in container')).toBe(true);
    expect(test('Terminal shell in container!')).toBe(false);
    expect(test('Read sensitive file untrusted')).toBe(true);
    expect(test(undefined)).toBe(false);
  });
});
