import { describe, expect, it } from '@jest/globals';
import { configSchema } from '../../src/config/schema.js';
import { Secret } from '../../src/config/secret.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import {
  alertFromEvent,
  type DigestAlert,
  type EventAlert,
  type IncidentAlert,
} from '../../src/pipeline/alert.js';
import { alertView } from '../../src/sinks/destinations/alert-view.js';
import { type MessageSinkConfig, messageDestination } from '../../src/sinks/destinations/index.js';
import { slackDestination } from '../../src/sinks/destinations/slack.js';
import {
  compileTemplate,
  renderTemplate,
  TEMPLATE_VARIABLES,
  TemplateError,
  validateTemplate,
} from '../../src/sinks/destinations/template.js';
import {
  escapeWithin,
  isUntrusted,
  plainText,
  renderText,
  type Text,
  TRUNCATED,
  untrusted,
  wrapWithin,
} from '../../src/sinks/destinations/text.js';
import { AUDIT_ALERT_WITHOUT_OUTPUT, CURRENT_ALERT, HOST_ALERT } from '../fixtures/falco-alerts.js';
import { PAYMENTS_API_SANDBOXED, podContext } from '../fixtures/pod-context.js';

const PAYMENTS: Enrichment = {
  outcome: 'container_id',
  pod: podContext({
    ...PAYMENTS_API_SANDBOXED,
    posture: {
      level: 'privileged',
      violations: [
        { check: 'privileged', level: 'baseline', container: 'api', field: 'f', value: 'true' },
        { check: 'hostPath', level: 'baseline', field: 'f', value: '/' },
        { check: 'runAsNonRoot', level: 'restricted', container: 'api', field: 'x', value: '<unset>' },
      ],
    },
    container: { name: 'api', kind: 'container', image: 'registry.example/payments:1.4' },
  }),
};

function eventAlert(json = CURRENT_ALERT, enrichment: Enrichment = PAYMENTS): EventAlert {
  return alertFromEvent({ event: parseFalcoJson(json), enrichment }, 1_767_258_903_000);
}

function digest(sample = eventAlert()): DigestAlert {
  return {
    kind: 'digest',
    id: 'dig-1',
    priority: Priority.Notice,
    reasons: [],
    receivedAtMs: 0,
    fingerprint: 'f',
    rule: sample.event.rule,
    count: 57,
    firstSeenMs: 1_767_258_902_000,
    lastSeenMs: 1_767_259_198_000,
    windowMs: 300_000,
    pods: ['payments-api-1', 'payments-api-2'],
    podCount: 3,
    namespace: 'payments',
    workload: { kind: 'Deployment', name: 'payments-api' },
    sample,
  };
}

function incident(entries = 3): IncidentAlert {
  const sample = eventAlert();
  return {
    kind: 'incident',
    id: 'inc-1',
    priority: Priority.Critical,
    reasons: ['correlation recon-then-exfil: 2 of 2 rules in order within 10m (A → B)'],
    receivedAtMs: 0,
    correlation: 'recon-then-exfil',
    type: 'temporal_ordered',
    title: 'Recon then exfiltration',
    group: { pod: 'payments/payments-api-7c9d8b6f4-2xk9p' },
    timeline: Array.from({ length: entries }, (_, i) => ({
      timeMs: 1_767_258_902_000 + i * 1000,
      rule: `Rule ${i}`,
      priority: Priority.Warning,
      summary: `Rule ${i} in payments/api (cat /etc/shadow)`,
    })),
    eventCount: entries + 5,
    firstSeenMs: 1_767_258_902_000,
    lastSeenMs: 1_767_258_962_000,
    sample,
  };
}

const plain = (text: Text | undefined) => (text ? plainText(text) : undefined);

describe('alert view', () => {
  it('lays out an event: title, severity, colour, output without Falco’s prefix, where, isolation, posture', () => {
    const view = alertView(eventAlert());
    expect(plain(view.title)).toBe('[NOTICE] Contact K8S API Server From Container');
    expect(view).toMatchObject({
      kind: 'event',
      severity: 'Notice',
      colour: '#5bffb5',
      outputLabel: 'Output',
    });
    expect(plain(view.output)).toMatch(
      /^Unexpected connection to K8s API Server from container \| connection=/,
    );
    expect(plain(view.output)).not.toContain('k8s_pod_name=');
    expect(view.where.map((f) => [f.label, plainText(f.value)])).toEqual([
      ['Node', 'worker-2'],
      ['Namespace', 'payments'],
      ['Workload', 'Deployment/payments-api'],
      ['Pod', 'payments-api-7c9d8b6f4-2xk9p'],
      ['Container', 'api'],
      ['Image', 'registry.example/payments:1.4'],
    ]);
    expect(view.isolation.map((f) => [f.label, plainText(f.value)])).toEqual([
      ['Runtime class', 'gvisor'],
      ['Handler', 'runsc'],
      ['Isolation', 'sandbox'],
    ]);
    // What keeps a privileged pod from baseline; the restricted check is not the next step.
    expect(view.posture.map((f) => [f.label, plainText(f.value)])).toEqual([
      ['PSS level', 'privileged'],
      ['PSS violations', 'privileged, hostPath'],
    ]);
    expect(view.time).toBe('2026-01-01T09:15:02.123456789Z');
  });

  it('marks everything from the event or the cluster untrusted and nothing of Perch’s own', () => {
    const view = alertView(eventAlert());
    expect(view.title[0]).toBe('[NOTICE] ');
    expect(view.title.slice(1).every(isUntrusted)).toBe(true);
    expect(view.output?.every(isUntrusted)).toBe(true);
    for (const fact of view.where) expect(fact.value.every(isUntrusted)).toBe(true);
    expect(view.variables.severity).toEqual(['Notice']);
    expect(view.variables.pss_level).toEqual(['privileged']);
    expect(view.variables.rule.every(isUntrusted)).toBe(true);
    expect(view.variables.pod.every(isUntrusted)).toBe(true);
  });

  it('shows control, invisible and bidi characters as escapes and repairs half characters', () => {
    const hostile = JSON.parse(CURRENT_ALERT) as Record<string, unknown>;
    hostile.rule = 'Shell\u202e)lmth.exe\u200b\n@here';
    hostile.output = `x ${'\ud83d'} y`;
    const view = alertView(eventAlert(JSON.stringify(hostile)));
    expect(plain(view.title)).toBe('[NOTICE] Shell\\u202e)lmth.exe\\u200b\\n@here');
    expect(plain(view.output)).toBe('x \ufffd y');
  });

  it('falls back to Falco’s fields, notes host processes and pods the cluster did not know', () => {
    const host = alertView(eventAlert(HOST_ALERT, { outcome: 'host' }));
    expect(host.where.map((f) => plainText(f.value))).toEqual([
      'worker-3',
      'host process (not in a container)',
    ]);
    const unresolved = alertView(eventAlert(CURRENT_ALERT, { outcome: 'unresolved' }));
    expect(unresolved.where.map((f) => [f.label, plainText(f.value)])).toEqual([
      ['Node', 'worker-2'],
      ['Namespace', 'tools'],
      ['Pod', 'toolbox-6d8f9c7b5-x2x7q'],
      ['Container', 'toolbox'],
      ['Image', 'registry.example.com/team/toolbox:1.2.3'],
      ['Note', 'pod not found in the cluster'],
    ]);
    const noOutput = alertView(eventAlert(AUDIT_ALERT_WITHOUT_OUTPUT, { outcome: 'not_applicable' }));
    expect(plain(noOutput.output)).toBe('ka.target.name=evil ka.user.name=dev@example.com ka.verb=create');
    expect(plain(noOutput.variables.source)).toBe('k8s_audit');
  });

  it('lays out a digest with its summary, counts and a capped pod list', () => {
    const view = alertView(digest());
    expect(plain(view.title)).toBe('[NOTICE] DIGEST Contact K8S API Server From Container ×57');
    expect(plain(view.summary)).toBe(
      'Contact K8S API Server From Container ×57 more in 5m across 3 pods of deployment/payments-api (first seen 09:15:02, last 09:19:58 UTC)',
    );
    expect(view.summary?.every(isUntrusted)).toBe(true);
    expect(view.outputLabel).toBe('Last output');
    expect(plain(view.where.find((f) => f.label === 'Pod')?.value)).toBe(
      'payments-api-1, payments-api-2 (+1 more)',
    );
    expect(view.variables.count).toEqual(['57']);
  });

  it('says in the summary when a digest escalated and that the escalation was sent at once', () => {
    const view = alertView({
      ...digest(),
      escalations: [{ priority: Priority.Emergency, atMs: 1_767_258_903_000 }],
    });
    expect(plain(view.summary)).toMatch(/; escalated to Emergency at 09:15:03 UTC \(sent at once\)$/);
    expect(plain(view.variables.summary)).toBe(plain(view.summary));
  });

  it('lays out an incident with a bounded timeline that says what it left out', () => {
    const view = alertView(incident(15));
    expect(plain(view.title)).toBe('[CRITICAL] INCIDENT Recon then exfiltration');
    expect(plain(view.summary)).toBe(
      '20 events from 2026-01-01T09:15:02.000Z to 2026-01-01T09:16:02.000Z for pod=payments/payments-api-7c9d8b6f4-2xk9p',
    );
    expect(view.timeline).toHaveLength(11);
    expect(plain(view.timeline[0])).toBe('09:15:02.000 Warning Rule 0 in payments/api (cat /etc/shadow)');
    expect(plain(view.timeline[9])).toContain('Rule 14');
    expect(plain(view.timeline[10])).toBe('… 10 more events not listed');
    expect(view.where.map((f) => f.label)).toContain('Group');
    expect(plainText(view.variables.timeline).split('\n')).toHaveLength(11);
  });
});

describe('templates', () => {
  it('validates: unknown variables list the known ones; unclosed braces are reported', () => {
    expect(validateTemplate('{{rule}} in {{ namespace }}')).toEqual([]);
    const problems = validateTemplate('{{rule}} {{podname}} {{ nope }}');
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('unknown variable {{podname}}');
    expect(problems[0]).toContain(`known: ${Object.keys(TEMPLATE_VARIABLES).join(', ')}`);
    expect(validateTemplate('oops {{rule')).toEqual(['unclosed {{ at character 6']);
    expect(() => compileTemplate('{{podname}}')).toThrow(TemplateError);
  });

  it('renders literals as trusted text and values with their untrusted marking', () => {
    const view = alertView(eventAlert());
    const text = renderTemplate(
      compileTemplate('*{{severity}}* {{rule}} \\{{literal}} {{handler}}'),
      view.variables,
    );
    expect(plainText(text)).toBe('*Notice* Contact K8S API Server From Container {{literal}} runsc');
    expect(text[0]).toBe('*');
    expect(text.filter(isUntrusted).map((p) => p.untrusted)).toEqual([
      'Contact K8S API Server From Container',
      'runsc',
    ]);
  });

  it('renders a missing value as nothing', () => {
    const view = alertView(eventAlert(HOST_ALERT, { outcome: 'host' }));
    expect(plainText(renderTemplate(compileTemplate('[{{pod}}]'), view.variables))).toBe('[]');
  });

  it('fails when a destination is built with a bad template, so `perch check` can say so', () => {
    const url = new Secret('https://hooks.slack.com/services/x');
    expect(() => slackDestination({ url, template: 'Pod {{pod_name}}' })).toThrow(
      /unknown variable \{\{pod_name\}\}/,
    );
  });
});

describe('messageDestination', () => {
  it('builds each type from a parsed config, so the factories take what the schema produces', () => {
    const hook = 'https://hooks.example.com/x';
    const config = configSchema.parse({
      sinks: {
        a: { type: 'slack', url: hook, template: '{{title}}' },
        b: { type: 'mattermost', url: hook },
        c: { type: 'teams', url: hook },
        d: { type: 'discord', url: hook },
        e: { type: 'googlechat', url: hook },
        f: { type: 'telegram', botToken: '1:x', chatId: -100 },
        g: { type: 'webhook', url: hook, signingSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
      },
    });
    const kinds = Object.values(config.sinks).map((sink) => {
      const destination = messageDestination(sink as MessageSinkConfig);
      expect(() => destination.render(eventAlert())).not.toThrow();
      return destination.kind;
    });
    expect(kinds).toEqual(['slack', 'mattermost', 'teams', 'discord', 'googlechat', 'telegram', 'webhook']);
  });
});

describe('text fitting', () => {
  const entity = (ch: string) => (ch === '<' ? '&lt;' : ch);

  it('never cuts an escape or a surrogate pair, and marks what was cut', () => {
    expect(escapeWithin('ab<<', entity, 6)).toEqual({ text: 'ab&lt;', cut: true });
    expect(escapeWithin('a😀b', (c) => c, 2)).toEqual({ text: 'a', cut: true });
    expect(wrapWithin('abc', (c) => c, 4, '`', '`')).toEqual({ text: '`ab`', cut: true });
    const text: Text = ['label: ', untrusted('x'.repeat(100))];
    const rendered = renderText(text, (raw, max) => escapeWithin(raw, entity, max), 40);
    expect(rendered).toHaveLength(40);
    expect(rendered.endsWith(TRUNCATED)).toBe(true);
    expect(renderText(text, (raw, max) => escapeWithin(raw, entity, max), 200)).toBe(
      `label: ${'x'.repeat(100)}`,
    );
  });

  it('keeps Perch’s own markup whole rather than cutting into it', () => {
    const text: Text = [untrusted('xxx'), '<b>bold and more</b>'];
    expect(renderText(text, (raw, max) => escapeWithin(raw, (c) => c, max), 20)).toBe(`xxx${TRUNCATED}`);
  });
});
