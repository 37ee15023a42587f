import { describe, expect, it } from '@jest/globals';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import { alertFromEvent, type DigestAlert } from '../../src/pipeline/alert.js';
import { formatAlertJson } from '../../src/sinks/alert-json.js';
import { formatAlertLine } from '../../src/sinks/console-format.js';
import { CURRENT_ALERT, HOST_ALERT } from '../fixtures/falco-alerts.js';
import { PRIVILEGED_API_CONTAINER, podContext } from '../fixtures/pod-context.js';

const PAYMENTS: Enrichment = {
  outcome: 'container_id',
  pod: podContext({
    namespace: 'payments',
    pod: 'payments-api-7c9d8b6f4-2xk9p',
    node: 'worker-2',
    workload: { kind: 'Deployment', name: 'payments-api' },
    isolation: 'container',
    handler: 'runc',
    posture: {
      level: 'privileged',
      violations: [
        PRIVILEGED_API_CONTAINER,
        { check: 'runAsNonRoot', level: 'restricted', container: 'api', field: 'x', value: '<unset>' },
      ],
    },
    container: { name: 'api', kind: 'container' },
  }),
};

describe('console line', () => {
  it('names workload, isolation and what keeps the pod from the next PSS level', () => {
    const line = formatAlertLine(
      alertFromEvent({ event: parseFalcoJson(CURRENT_ALERT), enrichment: PAYMENTS }, 0),
      false,
    );
    expect(line).toContain(
      'NOTICE        Contact K8S API Server From Container [worker-2 payments/payments-api-7c9d8b6f4-2xk9p deployment/payments-api container api] isolation=container(runc) pss=privileged(privileged)',
    );
    // Falco's time/priority prefix and the container plugin's suffix are already in the bracket.
    expect(line).toContain('\n    Unexpected connection to K8s API Server from container | connection=');
    expect(line).not.toContain('k8s_pod_name=');
  });

  it('falls back to Falco fields and says when the pod was not found', () => {
    const line = formatAlertLine(
      alertFromEvent({ event: parseFalcoJson(CURRENT_ALERT), enrichment: { outcome: 'unresolved' } }, 0),
      false,
    );
    expect(line).toContain(
      '[worker-2 tools/toolbox-6d8f9c7b5-x2x7q container toolbox 4b1d2c3e5f60 (pod not found in the cluster)]',
    );
    const host = formatAlertLine(
      alertFromEvent({ event: parseFalcoJson(HOST_ALERT), enrichment: { outcome: 'host' } }, 0),
      false,
    );
    expect(host).toContain('[worker-3 host]');
  });

  it('shows attacker-controlled control characters as escapes, never raw', () => {
    const hostile = JSON.stringify({
      rule: 'Terminal shell in container\u001b]0;pwned\u0007',
      priority: 'Critical',
      time: '2026-01-01T00:00:00Z',
      output: 'cmd=\u001b[2J\u001b[31mrm -rf /\r\nfake line',
    });
    const line = formatAlertLine(
      alertFromEvent({ event: parseFalcoJson(hostile), enrichment: { outcome: 'disabled' } }, 0),
      true,
    );
    expect(line).toContain('\\u001b]0;pwned\\u0007');
    expect(line).toContain('cmd=\\u001b[2J\\u001b[31mrm -rf /\\r\\nfake line');
    // The only raw escapes left are Perch's own colour codes.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    const colourCodes = /\u001b\[[0-9;]*m/g;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    const controlChars = /[\u0000-\u0009\u000b-\u001f]/;
    expect(line.match(colourCodes)?.length).toBeGreaterThan(0);
    expect(line.replace(colourCodes, '')).not.toMatch(controlChars);
  });

  it('says in the line and in the JSON form that a digest escalated, to what and when', () => {
    const first = Date.UTC(2026, 0, 1, 9, 15, 2);
    const sample = alertFromEvent({ event: parseFalcoJson(CURRENT_ALERT), enrichment: PAYMENTS }, first);
    const digest: DigestAlert = {
      kind: 'digest',
      id: 'dig-1',
      priority: Priority.Notice,
      reasons: [],
      receivedAtMs: first + 300_000,
      fingerprint: 'f',
      rule: sample.event.rule,
      count: 4,
      firstSeenMs: first,
      lastSeenMs: first + 60_000,
      windowMs: 300_000,
      pods: [],
      podCount: 0,
      sample,
      escalations: [{ priority: Priority.Critical, atMs: first + 1000 }],
    };
    expect(formatAlertLine(digest, false)).toContain(
      '(first seen 09:15:02, last 09:16:02 UTC); escalated to Critical at 09:15:03 UTC (sent at once)',
    );
    expect(JSON.parse(formatAlertJson(digest)).escalations).toEqual([
      { priority: 'Critical', at: '2026-01-01T09:15:03.000Z' },
    ]);
    const { escalations: _, ...quiet } = digest;
    expect(JSON.parse(formatAlertJson(quiet))).not.toHaveProperty('escalations');
  });

  it('JSON form carries the whole pod context and exact big integers', () => {
    const json = formatAlertJson(
      alertFromEvent({ event: parseFalcoJson(CURRENT_ALERT), enrichment: PAYMENTS }, 0),
    );
    expect(json).toContain('"evt.time":1767258902123456789');
    expect(JSON.parse(json).enrichment.pod.posture.violations[0].check).toBe('privileged');
  });
});
