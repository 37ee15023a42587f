import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { applyRunFlags } from '../../src/app/run-flags.js';
import { ConfigError } from '../../src/config/config-error.js';
import { loadConfig, validateConfig } from '../../src/config/load-config.js';
import { Priority } from '../../src/events/priority.js';

const dir = mkdtempSync(join(tmpdir(), 'perch-config-'));
function yamlFile(text: string): string {
  const path = join(dir, `perch-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('runs on sensible defaults without a file', () => {
    const config = loadConfig({ env: {} });
    expect(config.server.listen).toEqual({ host: '0.0.0.0', port: 2804 });
    expect(config.server.shutdownGrace).toBe(10_000);
    expect(config.sources.http).toEqual({
      enabled: true,
      path: '/',
      maxBodyBytes: 1024 * 1024,
      maxInFlightBytes: 8 * 1024 * 1024,
    });
    expect(config.sinks).toEqual({
      console: { type: 'console', format: 'text', color: 'auto', minPriority: Priority.Debug },
    });
  });

  it('reads YAML with durations, addresses and priorities', () => {
    const config = loadConfig({
      path: yamlFile(`
server: {listen: "[::1]:9000", shutdownGrace: 1500ms}
sources:
  files: [{path: /var/log/falco/events.json, positionFile: /var/lib/perch/pos.json}]
sinks:
  loud: {type: console, format: json, minPriority: warning}
`),
      env: {},
    });
    expect(config.server.listen).toEqual({ host: '::1', port: 9000 });
    expect(config.server.shutdownGrace).toBe(1500);
    expect(config.sources.files[0]).toMatchObject({ path: '/var/log/falco/events.json', pollInterval: 250 });
    expect(config.sinks.loud).toMatchObject({ format: 'json', minPriority: Priority.Warning });
  });

  it('lists every problem, each naming the key, the value and what was expected', () => {
    const problems = problemsOf(() =>
      loadConfig({
        path: yamlFile(`
server: {listen: nope, shutdownGrace: 10, extra: 1}
sources: {http: {maxBodyBytes: -5}, files: [{fromBeginning: "yes"}]}
sinks: {"Bad Name": {type: console}, s: {type: carrier-pigeon}, c: {type: console, minPriority: loud}}
`),
        env: {},
      }),
    );
    expect(problems).toEqual([
      'server.listen: expected HOST:PORT such as 0.0.0.0:2804, [::]:2804 or :2804 (port 0-65535), got "nope"',
      'server.shutdownGrace: expected a duration with a unit such as 500ms, 10s, 2m or 1h, got 10',
      'server: unknown key "extra" (check the spelling)',
      'sources.http.maxBodyBytes: got -5, too small: expected number to be >0',
      'sources.files[0].path: is required (expected string, received undefined)',
      'sources.files[0].fromBeginning: got "yes", expected boolean, received string',
      'sinks["Bad Name"]: the name "Bad Name" is not allowed: sink names are lower-case letters, digits, - and _',
      'sinks.s.type: got "carrier-pigeon", expected one of: console, grpc-bridge, slack, mattermost, teams, discord, googlechat, telegram, webhook, alertmanager, otlp, hub',
      'sinks.c.minPriority: expected a Falco priority (Debug, Informational, Notice, Warning, Error, Critical, Alert, Emergency), got "loud"',
    ]);
  });

  it('reads pipeline.allowedLateness as a duration: 30 s unless set, 0s allowed', () => {
    const lateness = (yaml?: string) =>
      loadConfig({ ...(yaml ? { path: yamlFile(yaml) } : {}), env: {} }).pipeline.allowedLateness;
    expect(lateness()).toBe(30_000);
    expect(lateness('pipeline: {allowedLateness: 2m}')).toBe(120_000);
    expect(lateness('pipeline: {allowedLateness: 0s}')).toBe(0);
    expect(problemsOf(() => lateness('pipeline: {allowedLateness: 30}'))).toEqual([
      'pipeline.allowedLateness: expected a duration with a unit such as 500ms, 10s, 2m or 1h, got 30',
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const problems = problemsOf(() => loadConfig({ path: yamlFile('server: {listen: [\n'), env: {} }));
    expect(problems[0]).toMatch(/YAML syntax: .*line \d+, column \d+/);
  });

  it('names a missing file', () => {
    expect(problemsOf(() => loadConfig({ path: join(dir, 'absent.yaml') }))).toEqual([
      ': cannot read the file (ENOENT)',
    ]);
  });

  it('interpolates ${ENV} with defaults and names unset variables', () => {
    const config = validateConfig({ server: { listen: '${HOST:-127.0.0.1}:${PORT}' } }, 't', {
      PORT: '9100',
    });
    expect(config.server.listen).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(
      problemsOf(() => validateConfig({ sources: { http: { token: '${PERCH_TOKEN}' } } }, 't', {})),
    ).toEqual([
      'sources.http.token: refers to environment variable PERCH_TOKEN, which is not set (write ${PERCH_TOKEN:-default} to give a default)',
    ]);
  });

  it('reads secrets from files and never prints them', () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'hunter2-token\n');
    const config = validateConfig({ sources: { http: { token: `file:${tokenFile}` } } }, 't', {});
    expect(config.sources.http.token?.reveal()).toBe('hunter2-token');
    const printed = [
      JSON.stringify(config),
      String(config.sources.http.token),
      inspect(config, { depth: 9 }),
    ].join('\n');
    expect(printed).not.toContain('hunter2');
    expect(
      problemsOf(() => validateConfig({ sources: { http: { token: `file:${dir}/nope` } } }, 't', {})),
    ).toEqual([`sources.http.token: cannot read secret file ${dir}/nope: ENOENT`]);
  });

  it('applies run shorthands: --stdin and --file replace the default HTTP input, --json switches console sinks', () => {
    const tree: Record<string, unknown> = {};
    applyRunFlags(tree, { stdin: true, file: ['/a.json'], json: true, listen: '127.0.0.1:1' });
    const config = validateConfig(tree, 'flags', {});
    expect(config.sources.http.enabled).toBe(false);
    expect(config.sources.stdin.enabled).toBe(true);
    expect(config.sources.files.map((f) => f.path)).toEqual(['/a.json']);
    expect(config.sinks).toEqual({ console: expect.objectContaining({ format: 'json' }) });
    const withFile: Record<string, unknown> = { sources: { http: { enabled: true } } };
    applyRunFlags(withFile, { config: 'perch.yaml', stdin: true });
    expect(validateConfig(withFile, 'flags', {}).sources.http.enabled).toBe(true);
  });
});
