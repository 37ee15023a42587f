import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';
import { type Harness, startAgent } from '../helpers/agent-harness.js';
import { runPerch } from '../helpers/cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'perch-sinks-'));
let receiver: HttpReceiver | undefined;
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  await receiver?.stop();
  harness = undefined;
  receiver = undefined;
});

function configFile(sinks: string): string {
  const file = join(dir, `perch-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `sinks:\n${sinks}`);
  return file;
}

describe('delivering sinks from perch.yaml', () => {
  it('perch test-sink sends a test alert and reports the delivery', async () => {
    receiver = await HttpReceiver.start();
    const file = configFile(
      `  team:\n    type: slack\n    url: ${receiver.url}/services/T000/B000/XXX\n    minPriority: Warning\n`,
    );
    const result = await runPerch(['test-sink', 'team', '-c', file]);
    // Only what it waits for, and for how long: nothing went wrong.
    expect(result.stderr).toBe(
      "sink team (slack): sending a test alert (Warning); waiting up to 15 s for the destination's answer (timeout 10 s + 5 s)\n",
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/sink team \(slack\): the test alert \(Warning\) was delivered in \d+ ms/);
    const [request] = receiver.requests;
    expect(request?.path).toBe('/services/T000/B000/XXX');
    expect(request?.body).toContain('Perch test alert');
  });

  it('perch test-sink says when the destination rejects, and never prints the secret URL', async () => {
    receiver = await HttpReceiver.start();
    receiver.setDefault({ status: 404, body: 'no_service' });
    const file = configFile(
      `  team:\n    type: slack\n    url: ${receiver.url}/services/T000/B000/SECRETPART\n`,
    );
    const result = await runPerch(['test-sink', 'team', '-c', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('sink team (slack): the destination rejected the test alert');
    expect(result.stderr).toContain('no_service');
    expect(`${result.stdout}${result.stderr}`).not.toContain('SECRETPART');
    const unknown = await runPerch(['test-sink', 'nope', '-c', file]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no sink named "nope" in the configuration (sinks: team)');
  });

  it('perch check reports a bad sink template', async () => {
    const file = configFile(
      `  team:\n    type: slack\n    url: https://hooks.slack.com/x\n    template: "{{rule}} in {{nope}}"\n`,
    );
    const result = await runPerch(['check', '-c', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/sinks\.team\.template: .*nope/);
  });

  it('the running agent delivers alerts to a webhook, signed, with its pod context', async () => {
    receiver = await HttpReceiver.start();
    harness = await startAgent({
      sinks: {
        out: { type: 'console', format: 'json' },
        hook: {
          type: 'webhook',
          url: `${receiver.url}/perch`,
          signingSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
          minPriority: 'Notice',
        },
      },
    });
    const res = await fetch(`${harness.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: CURRENT_ALERT,
    });
    expect(res.status).toBe(200);
    await receiver.waitForRequests(1);
    const request = receiver.requests[0];
    expect(request?.headers['webhook-signature']).toMatch(/^v1,/);
    const body = JSON.parse(request?.body ?? '{}') as { type: string; data: { event: { rule: string } } };
    expect(body.type).toBe('alert.event');
    expect(body.data.event.rule).toBe('Contact K8S API Server From Container');
    expect(request?.body).toContain('"evt.time":1767258902123456789');
  });
});
