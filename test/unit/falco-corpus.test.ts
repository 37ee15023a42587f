/**
 * The corpus of Falco alerts in every shape through the parser, the JSON writer and the renderers
 * for people. The transports (HTTP, files, replay, webhook, gRPC) are in the integration suite.
 */
import { describe, expect, it } from '@jest/globals';
import { Secret } from '../../src/config/secret.js';
import { type FalcoEvent, isInternalEvent, sourceKind } from '../../src/events/falco-event.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { parseNdjson } from '../../src/events/parse-ndjson.js';
import { toFalcoJson } from '../../src/events/serialize-event.js';
import { alertFromEvent, type EventAlert } from '../../src/pipeline/alert.js';
import { formatAlertJson } from '../../src/sinks/alert-json.js';
import { formatAlertLine } from '../../src/sinks/console-format.js';
import { alertView } from '../../src/sinks/destinations/alert-view.js';
import { MESSAGE_SINK_TYPES, messageDestination } from '../../src/sinks/destinations/index.js';
import { compileTemplate } from '../../src/sinks/destinations/template.js';
import { plainText } from '../../src/sinks/destinations/text.js';
import { webhookBody } from '../../src/sinks/destinations/webhook.js';
import { corpus, corpusFileNames } from '../fixtures/falco-corpus/corpus.js';
import { canonical, expectedEventJson, grpcFieldText } from '../helpers/corpus-expectations.js';
import { type ExactJson, readExactJson } from '../helpers/exact-json.js';

const CORPUS = corpus();
const byName = (name: string) => {
  const entry = CORPUS.find((c) => c.name === name);
  if (!entry) throw new Error(`no corpus alert ${name}`);
  return entry;
};
const alertOf = (event: FalcoEvent): EventAlert =>
  alertFromEvent({ event, enrichment: { outcome: 'not_applicable' } }, 0);
const eventOf = (json: string) => readExactJson(json) as { event: ExactJson; source: string };

describe('the Falco corpus', () => {
  it('lists every alert file, each one Falco JSON line naming the public shape it mirrors', () => {
    expect(CORPUS.map((c) => c.name).sort()).toEqual(corpusFileNames());
    for (const entry of CORPUS) {
      expect(entry.mirrors.length).toBeGreaterThan(10);
      expect(entry.line).not.toContain('\n');
      expect(() => readExactJson(entry.line)).not.toThrow();
    }
  });

  it.each(CORPUS.map((c) => [c.name, c] as const))(
    '%s: parsed and written back, it is the alert Falco wrote (values, types, lists, absent keys, every digit)',
    (_name, entry) => {
      const event = parseFalcoJson(entry.line);
      expect(canonical(readExactJson(toFalcoJson(event)))).toBe(canonical(expectedEventJson(entry.line)));
      // What Perch derives sits beside the alert: the source kind is never written into it.
      expect(sourceKind(event)).toBe(entry.sourceKind);
      // The intake journal and replays store this text: reading it again gives the same event.
      expect(parseFalcoJson(toFalcoJson(event))).toEqual(event);
    },
  );

  it('as one NDJSON body (Falco file_output, stdout), every alert comes out as written', () => {
    const batch = parseNdjson(CORPUS.map((c) => c.line).join('\n'));
    expect(batch.rejectedCount).toBe(0);
    expect(batch.events.map((e) => canonical(readExactJson(toFalcoJson(e))))).toEqual(
      CORPUS.map((c) => canonical(expectedEventJson(c.line))),
    );
  });

  it('the JSON alert keeps Falco’s alert as written and puts the derived source kind beside it', () => {
    for (const entry of CORPUS) {
      const written = eventOf(formatAlertJson(alertOf(parseFalcoJson(entry.line))));
      expect(canonical(written.event)).toBe(canonical(expectedEventJson(entry.line)));
      expect(written.source).toBe(entry.sourceKind);
    }
    const old = eventOf(formatAlertJson(alertOf(parseFalcoJson(byName('pre-0.30-internal-drop').line))));
    expect(old.source).toBe('internal');
    expect(Object.keys(old.event as object)).toEqual(['output', 'output_fields', 'priority', 'rule', 'time']);
  });

  it('absent and empty stay apart: no key is invented, an empty one is kept empty', () => {
    const old = parseFalcoJson(byName('pre-0.30-non-sudo-setuid').line);
    expect([old.source, old.hostname, old.tags]).toEqual([undefined, undefined, undefined]);
    const bare = parseFalcoJson(byName('without-output-fields').line);
    expect(bare.outputFields).toBeUndefined();
    expect(toFalcoJson(bare)).not.toContain('output_fields');
    const empty = parseFalcoJson(byName('empty-values').line);
    expect([empty.hostname, empty.output, empty.tags]).toEqual(['', '', []]);
    expect(toFalcoJson(empty)).toContain('"hostname":"","output":"",');
    expect(toFalcoJson(empty)).toContain('"tags":[]');
  });

  it('internal events are recognised with or without Falco’s source', () => {
    for (const name of ['internal-syscall-event-drop', 'internal-metrics-snapshot', 'pre-0.30-internal-drop'])
      expect(isInternalEvent(parseFalcoJson(byName(name).line))).toBe(true);
    expect(isInternalEvent(parseFalcoJson(byName('pre-0.30-non-sudo-setuid').line))).toBe(false);
  });
});

describe('the corpus in the views for people', () => {
  const url = new Secret('https://hooks.example.com/services/T000/B000/XXXX');
  const chat = MESSAGE_SINK_TYPES.map((type) =>
    type === 'telegram'
      ? messageDestination({
          type,
          botToken: new Secret('123:ABC'),
          chatId: '-1001',
          apiUrl: 'https://api.telegram.org',
        } as Parameters<typeof messageDestination>[0])
      : messageDestination({ type, url, headers: {} } as Parameters<typeof messageDestination>[0]),
  );

  it.each(CORPUS.map((c) => [c.name, c] as const))(
    '%s: console line and every chat message render Falco’s values, nothing made up',
    (_name, entry) => {
      const alert = alertOf(parseFalcoJson(entry.line));
      const line = formatAlertLine(alert, false);
      expect(line).toContain(alert.event.rule);
      if (entry.sourceKind !== 'syscall') expect(line).toContain(`source ${entry.sourceKind}`);
      const view = alertView(alert);
      expect(plainText(view.variables.rule)).toBe(alert.event.rule);
      expect(plainText(view.variables.source)).toBe(entry.sourceKind);
      expect(plainText(view.variables.tags)).toBe((alert.event.tags ?? []).join(', '));
      for (const destination of chat) {
        const body = destination.render(alert).body;
        expect(() => JSON.parse(body)).not.toThrow();
        for (const made of [line, body]) expect(made).not.toMatch(/undefined|\[object Object\]|NaN/);
      }
    },
  );

  it('without Falco’s text, the views list the fields as Falco prints them: lists (a,b), <NA>, every digit', () => {
    const doc = readExactJson(byName('syscall-list-fields').line) as Record<string, ExactJson>;
    const fields = doc.output_fields as Record<string, ExactJson>;
    const event = parseFalcoJson(byName('syscall-list-fields').line);
    event.output = undefined;
    const output = plainText(alertView(alertOf(event)).variables.output);
    for (const [name, value] of Object.entries(fields))
      expect(output).toContain(`${name}=${grpcFieldText(value)}`);
    expect(output).toContain('k8s.pod.labels=(app:checkout,pod-template-hash:6b8f4d7c9)');
    expect(output).toContain('k8smeta.pod.labels=()');
    expect(output).toContain(`evt.time=${String(fields['evt.time'])}`);
    expect(output).not.toContain('["');
  });

  it('a webhook template prints the values as they are: derived source, tags, unicode', () => {
    const template = compileTemplate('{{source}}|{{tags}}|{{node}}|{{output}}');
    const unicode = alertOf(parseFalcoJson(byName('unicode-and-escapes').line));
    const text = String(webhookBody(unicode, template).text);
    expect(text).toContain(
      'syscall|T1059.004, host, maturity_stable, mitre_execution, process, shell|nœud-7|',
    );
    expect(text).toContain('héllo 世界 🚀');
    const old = alertOf(parseFalcoJson(byName('pre-0.30-internal-drop').line));
    expect(String(webhookBody(old, template).text)).toMatch(
      /^internal\|\|\|Falco internal: syscall event drop/,
    );
  });
});
