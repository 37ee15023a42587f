import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { OtlpReceiver } from '../fakes/otlp-receiver.js';
import { runPerch } from '../helpers/cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'perch-test-sink-'));
let receiver: HttpReceiver | undefined;
afterEach(async () => {
  await receiver?.stop();
  receiver = undefined;
});

function configFile(name: string, sinks: string): string {
  const file = join(dir, name);
  writeFileSync(file, `sinks:\n${sinks}`);
  return file;
}

describe('perch test-sink', () => {
  it('says at once that a sink filtering on namespaces would drop the test alert, and sends nothing', async () => {
    receiver = await HttpReceiver.start();
    const file = configFile(
      'namespaces.yaml',
      `  team: {type: slack, url: "${receiver.url}/services/T/B/X", namespaces: ["prod-*", payments]}\n`,
    );
    const none = await runPerch(['test-sink', 'team', '-c', file]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      'sink team (slack): it takes only alerts from the namespaces prod-*, payments and the test alert has none: give one with --namespace NAME\n',
    );
    const other = await runPerch(['test-sink', 'team', '-c', file, '--namespace', 'dev']);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('--namespace dev is not one of them');
    expect(receiver.requests).toHaveLength(0);
  });

  it('delivers a test alert in a namespace the sink takes', async () => {
    receiver = await HttpReceiver.start();
    const file = configFile(
      'namespace-ok.yaml',
      `  hook: {type: webhook, url: "${receiver.url}/hook", namespaces: ["prod-*"]}\n`,
    );
    const result = await runPerch(['test-sink', 'hook', '-c', file, '--namespace', 'prod-eu']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/sink hook \(webhook\): the test alert \(Notice\) was delivered/);
    expect(receiver.requests[0]?.body).toContain('prod-eu');
  });

  it('says what it waits for and gives up after the sink timeout plus 5 s when the destination is down', async () => {
    receiver = await HttpReceiver.start();
    const url = `${receiver.url}/hook`;
    await receiver.down();
    const file = configFile('down.yaml', `  hook: {type: webhook, url: "${url}", timeout: 1s}\n`);
    const result = await runPerch(['test-sink', 'hook', '-c', file]);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toBe(
      "sink hook (webhook): sending a test alert (Notice); waiting up to 6 s for the destination's answer (timeout 1 s + 5 s)",
    );
    expect(lines.at(-1)).toMatch(
      /^sink hook \(webhook\): no answer accepted within 6 s, giving up.*ECONNREFUSED.*; see the log above for what failed$/,
    );
  }, 20_000);

  it('does not apply to a gRPC bridge, and leaves its socket directory alone', async () => {
    const socketDir = join(dir, 'bridge-run');
    const file = configFile(
      'bridge.yaml',
      `  bridge: {type: grpc-bridge, listen: "unix://${socketDir}/falco.sock"}\n`,
    );
    const result = await runPerch(['test-sink', 'bridge', '-c', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('sink bridge (grpc-bridge): test-sink does not apply to a gRPC bridge');
    expect(existsSync(socketDir)).toBe(false);
  });

  it('delivers a test record to an OTLP receiver, gzipped OTLP JSON with a secret header', async () => {
    const otlp = await OtlpReceiver.start();
    try {
      const file = configFile(
        'otlp.yaml',
        `  logs: {type: otlp, endpoint: "${otlp.url}", protocol: http/json, compression: gzip, headers: {X-Api-Key: "\${OTLP_KEY}"}}\n`,
      );
      const result = await runPerch(['test-sink', 'logs', '-c', file], undefined, {
        env: { ...process.env, OTLP_KEY: 'k3y-otlp-s3cret' },
      });
      expect(result.stdout).toMatch(/sink logs \(otlp\): the test alert \(Notice\) was delivered/);
      expect(result.code).toBe(0);
      expect(otlp.requests[0]?.headers['x-api-key']).toBe('k3y-otlp-s3cret');
      expect(`${result.stdout}${result.stderr}`).not.toContain('k3y-otlp-s3cret');
      expect(otlp.accepted()[0]?.attributes['falco.rule']).toBe('Perch test alert');
    } finally {
      await otlp.stop();
    }
  });

  it('prints the test alert on a console sink', async () => {
    const file = configFile('console.yaml', '  out: {type: console, format: json}\n');
    const result = await runPerch(['test-sink', 'out', '-c', file]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout.split('\n')[0] ?? '{}').event.rule).toBe('Perch test alert');
    expect(result.stdout).toContain('sink out (console) took the test alert');
  });
});
