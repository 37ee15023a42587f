/**
 * Contract of the Alertmanager destination: every hostile alert is a valid `postableAlerts` body by
 * Alertmanager's own API v2 OpenAPI document, and passes the checks Alertmanager's server adds to it
 * (at least one label, classic label names, valid UTF-8, an end not before the start).
 *
 * The document is the one Alertmanager compiles into its server: the Debian package
 * golang-github-prometheus-alertmanager-dev ships it as the SwaggerJSON string of
 * api/v2/restapi/embedded_spec.go, read here at run time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import { configSchema } from '../../src/config/schema.js';
import { alertmanagerDestination } from '../../src/sinks/destinations/alertmanager.js';
import { type Json, universalProblems } from '../contract/checks/destination-checks.js';
import { hostileAlerts, MENTIONS } from '../contract/hostile-corpus.js';

const EMBEDDED_SPEC =
  '/usr/share/gocode/src/github.com/prometheus/alertmanager/api/v2/restapi/embedded_spec.go';

function alertmanagerOpenApi(): Json {
  if (!existsSync(EMBEDDED_SPEC)) {
    throw new Error(
      `${EMBEDDED_SPEC} is missing: install Alertmanager's API document with ` +
        '`apt-get install -y golang-github-prometheus-alertmanager-dev`',
    );
  }
  const source = readFileSync(EMBEDDED_SPEC, 'utf8');
  // A Go raw string literal: `SwaggerJSON = json.RawMessage([]byte(`{…}`))`.
  const literal = /SwaggerJSON = json\.RawMessage\(\[\]byte\(`([\s\S]*?)`\)\)/.exec(source)?.[1];
  if (!literal) throw new Error(`no SwaggerJSON string in ${EMBEDDED_SPEC}`);
  return JSON.parse(literal) as Json;
}

function postableAlertsValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  // Swagger 2.0 formats, as Alertmanager's go-openapi server parses them.
  ajv.addFormat('date-time', (s: string) =>
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s),
  );
  ajv.addFormat('uri', (s: string) => URL.canParse(s));
  ajv.addSchema({ ...alertmanagerOpenApi(), $id: 'alertmanager' });
  const validate = ajv.getSchema('alertmanager#/definitions/postableAlerts');
  if (!validate) throw new Error('the document has no postableAlerts definition');
  return validate;
}

const CLASSIC_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What Alertmanager's server checks beyond the schema (alert.Validate, model.LabelSet.Validate). */
function serverProblems(alert: Json): string[] {
  const problems: string[] = [];
  const labels = (alert.labels ?? {}) as Record<string, string>;
  if (Object.keys(labels).length === 0) problems.push('no labels');
  if (!labels.alertname) problems.push('no alertname label (the documented required label)');
  for (const set of ['labels', 'annotations'] as const) {
    for (const [name, value] of Object.entries((alert[set] ?? {}) as Record<string, string>)) {
      if (!CLASSIC_LABEL_NAME.test(name))
        problems.push(`${set}: ${JSON.stringify(name)} is not a classic name`);
      if (LONE_SURROGATE.test(value)) problems.push(`${set}.${name}: not valid UTF-8`);
    }
  }
  const starts = Date.parse(String(alert.startsAt));
  const ends = Date.parse(String(alert.endsAt));
  if (Number.isNaN(starts) || Number.isNaN(ends)) problems.push('startsAt or endsAt does not parse');
  if (ends < starts) problems.push('endsAt before startsAt');
  return problems;
}

const OPTIONS = (() => {
  const parsed = configSchema.parse({
    sinks: { am: { type: 'alertmanager', urls: ['http://am-0:9093'], labels: { cluster: 'prod' } } },
  });
  const sink = parsed.sinks.am;
  if (sink?.type !== 'alertmanager') throw new Error('expected the alertmanager sink');
  return sink;
})();

describe('alertmanager contract', () => {
  const validate = postableAlertsValidator();
  const destination = alertmanagerDestination('http://am-0:9093', OPTIONS, () => 1_767_258_999_000);

  it.each(hostileAlerts())('%s: a valid postableAlerts body that the server accepts', (_name, alert) => {
    const request = destination.prepare?.(destination.render(alert), 1) ?? destination.render(alert);
    const body = JSON.parse(request.body) as Json[];
    expect(validate(body) ? [] : validate.errors).toEqual([]);
    expect(body).toHaveLength(1);
    expect(body.flatMap((a) => serverProblems(a))).toEqual([]);
    expect(universalProblems(body)).toEqual([]);
  });

  it('the validator rejects what Alertmanager rejects', () => {
    expect(validate([{ annotations: { summary: 'no labels' } }])).toBe(false);
    expect(validate([{ labels: { alertname: 'x' }, startsAt: 'yesterday' }])).toBe(false);
    expect(validate([{ labels: { alertname: 7 } }])).toBe(false);
    expect(
      serverProblems({
        labels: { 'k8s.ns': MENTIONS },
        startsAt: '2026-01-02T00:00:00Z',
        endsAt: '2026-01-01T00:00:00Z',
      }),
    ).toEqual([
      'no alertname label (the documented required label)',
      'labels: "k8s.ns" is not a classic name',
      'endsAt before startsAt',
    ]);
  });
});
