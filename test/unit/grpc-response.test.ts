import { describe, expect, it } from '@jest/globals';
import { sourceKind } from '../../src/events/falco-event.js';
import { fromGrpcResponse, toGrpcResponse } from '../../src/events/grpc-response.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';

describe('gRPC responses ⇄ FalcoEvent', () => {
  it('reads a Falco 0.43 response as the same event model, nanoseconds exact', () => {
    const event = fromGrpcResponse({
      time: { seconds: '1767258902', nanos: 123456789 },
      priority: 'NOTICE',
      source_deprecated: 'SYSCALL',
      rule: 'Terminal shell in container',
      output: '09:15:02.123456789: Notice A shell was spawned',
      output_fields: { 'container.id': '4b1d2c3e5f60', 'proc.tty': '34816', 'k8s.pod.name': '<NA>' },
      hostname: 'worker-2',
      tags: ['container', 'shell'],
      source: 'syscall',
    });
    expect(event.timeNs).toBe(1767258902123456789n);
    expect(event.time).toBe('2026-01-01T09:15:02.123456789Z');
    expect(event.priority).toBe(Priority.Notice);
    expect(event.outputFields).toEqual({
      'container.id': '4b1d2c3e5f60',
      'proc.tty': '34816',
      'k8s.pod.name': null,
    });
    expect(event.tags).toEqual(['container', 'shell']);
  });

  it('treats a missing priority as EMERGENCY (proto3 zero value) and leaves a missing source missing', () => {
    const event = fromGrpcResponse({
      time: { seconds: '1', nanos: 0 },
      rule: 'R',
      source_deprecated: 'K8S_AUDIT',
    });
    expect(event.priority).toBe(Priority.Emergency);
    expect(event.source).toBeUndefined();
    expect(sourceKind(event)).toBe('syscall');
    expect(event.hostname).toBeUndefined();
    expect(event.tags).toBeUndefined();
    expect(event.outputFields).toBeUndefined();
  });

  it('writes each event its own second, whichever came before it', () => {
    const at = (seconds: string, nanos: number) =>
      fromGrpcResponse({ rule: 'R', time: { seconds, nanos } }).time;
    expect(at('1767258902', 5)).toBe('2026-01-01T09:15:02.000000005Z');
    expect(at('1767258903', 0)).toBe('2026-01-01T09:15:03.000000000Z');
    // Back one second (events of two sources interleaved), then a year earlier.
    expect(at('1767258902', 999_999_999)).toBe('2026-01-01T09:15:02.999999999Z');
    expect(at('1735722902', 1)).toBe('2025-01-01T09:15:02.000000001Z');
  });

  it('rejects responses without a rule or a time', () => {
    expect(() => fromGrpcResponse({ time: { seconds: '1', nanos: 0 } })).toThrow(/rule/);
    expect(() => fromGrpcResponse({ rule: 'R' })).toThrow(/time/);
  });

  it('writes an event as Falco 0.43 would: strings only, <NA> for null, no priority for Emergency', () => {
    const event = parseFalcoJson(CURRENT_ALERT);
    const response = toGrpcResponse(event, { 'perch.isolation': 'sandbox' });
    expect(response.time).toEqual({ seconds: '1767258902', nanos: 123456789 });
    expect(response.priority).toBe('NOTICE');
    expect(response.output_fields?.['evt.time']).toBe('1767258902123456789');
    expect(response.output_fields?.['fd.rport']).toBe('443');
    expect(response.output_fields?.['perch.isolation']).toBe('sandbox');
    const back = fromGrpcResponse(response);
    expect(back.timeNs).toBe(event.timeNs);
    expect(back.rule).toBe(event.rule);
    const emergency = toGrpcResponse({ ...event, priority: Priority.Emergency, outputFields: { a: null } });
    expect(emergency.priority).toBeUndefined();
    expect(emergency.output_fields).toEqual({ a: '<NA>' });
  });

  it('writes a list as Falco’s text prints it, (a,b), and nothing for what is empty or absent', () => {
    const event = parseFalcoJson(
      '{"hostname":"","output":"","output_fields":{"k8s.pod.labels":["app:web","tier:db"],"none":[],"mixed":[1,null,true]},"priority":"Notice","rule":"R","source":"","tags":[],"time":"2026-01-01T00:00:00.000000001Z"}',
    );
    const response = toGrpcResponse(event);
    expect(response.output_fields).toEqual({
      'k8s.pod.labels': '(app:web,tier:db)',
      none: '()',
      mixed: '(1,<NA>,true)',
    });
    // proto3: Falco never wrote an empty string or list on the wire.
    expect([response.hostname, response.output, response.source, response.tags]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});
