/**
 * Contract of the OTLP logs sink: every hostile alert, encoded by OpenTelemetry's serializers, is
 * read back by code generated from the OTLP .proto files with every value exactly as Falco and the
 * cluster wrote it: OTLP carries text as it is, so nothing may be escaped, cut or replaced.
 */
import { describe, expect, it } from '@jest/globals';
import { outputFieldsOf, outputText } from '../../src/events/falco-event.js';
import { sentRecords } from '../helpers/otlp-request.js';
import { hostileAlerts } from './hostile-corpus.js';

const PROTOCOLS = ['http/protobuf', 'http/json'] as const;

describe.each(PROTOCOLS)('OTLP contract (%s)', (protocol) => {
  it.each(hostileAlerts())('%s: arrives exactly as written', (_name, alert) => {
    const { records } = sentRecords([alert], { protocol, compression: 'gzip' });
    expect(records).toHaveLength(1);
    const [record] = records;
    const sample = alert.kind === 'event' ? alert : alert.sample;
    const pod = sample.enrichment.pod;
    expect(record?.attributes['perch.alert.id']).toBe(alert.id);
    expect(record?.attributes['perch.alert.kind']).toBe(alert.kind);
    expect(record?.attributes['falco.rule']).toBe(alert.kind === 'digest' ? alert.rule : sample.event.rule);
    expect(record?.attributes['falco.tags']).toEqual(sample.event.tags ?? undefined);
    expect(record?.attributes['perch.reasons']).toEqual(alert.reasons.length > 0 ? alert.reasons : undefined);
    if (alert.kind === 'event') expect(record?.body).toBe(outputText(alert.event));
    if (alert.kind === 'incident') expect(record?.body).toBe(alert.title);
    if (pod) {
      expect(record?.resource['k8s.pod.name']).toBe(pod.pod);
      expect(record?.resource['k8s.namespace.name']).toBe(pod.namespace);
    }
    for (const [name, value] of Object.entries(outputFieldsOf(sample.event))) {
      if (typeof value === 'string') expect(record?.attributes[`falco.output_fields.${name}`]).toBe(value);
    }
  });
});
