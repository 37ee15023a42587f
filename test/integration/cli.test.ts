import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { CURRENT_ALERT, INTERNAL_DROP_ALERT, PRE_030_ALERT } from '../fixtures/falco-alerts.js';
import { PerchProcess, runPerch } from '../helpers/cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'perch-cli-'));
// These tests count every alert through the transports: no dedup, no default rules.
const RAW_CONFIG = join(dir, 'raw.yaml');
writeFileSync(
  RAW_CONFIG,
  'rules: {defaults: false, dedup: {window: 0s}}\nsinks: {console: {type: console, format: json}}\n',
);

function alertWithId(id: number): string {
  return JSON.stringify({
    rule: 'Terminal shell in container',
    priority: 'Notice',
    time: '2026-01-01T00:00:00.000000000Z',
    output: `shell ${id}`,
    output_fields: { 'test.id': id },
  });
}

function post(port: number, agent: HttpAgent, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        agent,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

describe('perch check', () => {
  it('exits 0 on a valid file', async () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, 'server: {listen: ":2900"}\nsinks: {out: {type: console}}\n');
    const result = await runPerch(['check', '-c', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('OK');
  });

  it('lists every problem and exits 1', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'server: {listen: nope}\nsinks: {x: {type: pager}}\nbogus: 1\n');
    const result = await runPerch(['check', '-c', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('3 problem(s)');
    expect(result.stderr).toContain('server.listen: expected HOST:PORT');
    expect(result.stderr).toContain(
      'sinks.x.type: got "pager", expected one of: console, grpc-bridge, slack, mattermost, teams, discord, googlechat, telegram, webhook, alertmanager, otlp, hub',
    );
    expect(result.stderr).toContain('unknown key "bogus"');
  });

  it('lints the rules files too, and fails on their errors', async () => {
    const rules = join(dir, 'bad-rules.yaml');
    writeFileSync(rules, 'rules:\n  - { name: x, match: { priority: ">Emergency" }, route: [pager] }\n');
    const file = join(dir, 'with-rules.yaml');
    writeFileSync(file, `rules: {files: [${rules}]}\n`);
    const result = await runPerch(['check', '-c', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('rules: 2 problem(s)');
    expect(result.stderr).toContain('.match.priority: ">Emergency" can never match');
    expect(result.stderr).toContain('.route: no sink named "pager" in perch.yaml (sinks: console)');
  });

  it('refuses to run on an invalid file with exit code 2', async () => {
    const file = join(dir, 'bad-run.yaml');
    writeFileSync(file, 'server: {listen: nope}\n');
    const result = await runPerch(['run', '-c', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid configuration');
  });
});

describe('perch check and perch run never print a secret', () => {
  const secrets = ['hunter2pw', 'SlackSecret', 'T0001', 'TelegramSecret'];
  const file = join(dir, 'secrets.yaml');
  writeFileSync(
    file,
    `sinks:
  am:
    type: alertmanager
    urls: ["https://admin:hunter2pw@am-0.monitoring:9093", "https://admin:hunter2pw@am-1.monitoring:99999"]
    resolveAfter: soon
  slack:
    type: slack
    url: https://hooks.slack.com/services/T0001/B0002/SlackSecret
    timeout: https://hooks.slack.com/services/T0001/B0002/SlackSecret
  tg:
    type: telegram
    botToken: "123456:TelegramSecret"
    chatId: 1
    apiUrl: api.telegram.org/bot123456:TelegramSecret
`,
  );

  it.each([
    ['check', 1],
    ['run', 2],
  ])('perch %s names every invalid setting and quotes no password or token', async (command, exitCode) => {
    const result = await runPerch([command, '-c', file]);
    expect(result.code).toBe(exitCode);
    expect(result.stderr).toContain('sinks.am.resolveAfter');
    expect(result.stderr).toContain('sinks.am.urls[1]: expected an http(s) URL');
    expect(result.stderr).toContain('sinks.slack.timeout');
    expect(result.stderr).toContain('sinks.tg.apiUrl: got "api.telegram.org/bot<redacted>"');
    for (const secret of secrets) {
      expect(result.stderr).not.toContain(secret);
      expect(result.stdout).not.toContain(secret);
    }
  });
});

describe('perch run', () => {
  it('drains every accepted alert on SIGTERM and exits 0', async () => {
    const perch = new PerchProcess(['run', '-c', RAW_CONFIG, '--listen', '127.0.0.1:0', '--json']);
    const port = await perch.port();
    const agents = Array.from({ length: 4 }, () => new HttpAgent({ keepAlive: true, maxSockets: 1 }));
    let sent = 0;
    const statuses: Promise<{ id: number; status: number }>[] = [];
    // Four Falco-like senders post back to back; SIGTERM lands while requests are in flight.
    const senders = agents.map(async (agent) => {
      for (let i = 0; i < 150; i++) {
        const id = sent++;
        const status = post(port, agent, alertWithId(id)).then((s) => ({ id, status: s }));
        statuses.push(status);
        if ((await status).status !== 200) return;
      }
    });
    while (sent < 100) await new Promise((r) => setTimeout(r, 1));
    perch.child.kill('SIGTERM');
    await Promise.all(senders);
    const results = await Promise.all(statuses);
    expect(await perch.exited).toBe(0);
    for (const a of agents) a.destroy();
    const accepted = results.filter((r) => r.status === 200).map((r) => r.id);
    const delivered = perch.stdoutLines().map((l) => JSON.parse(l).event.output_fields['test.id'] as number);
    expect(accepted.length).toBeGreaterThanOrEqual(100);
    expect(delivered.sort((a, b) => a - b)).toEqual(accepted.sort((a, b) => a - b));
    expect(perch.stderr).toContain('shutdown complete');
  });

  it('reloads the rules on SIGHUP, keeping the rules in force when the new ones are broken', async () => {
    const rules = join(dir, 'reload-rules.yaml');
    writeFileSync(rules, 'rules: []\n');
    const file = join(dir, 'reload.yaml');
    writeFileSync(file, `rules: {defaults: false, watch: false, files: [${rules}], dedup: {window: 0s}}\n`);
    const perch = new PerchProcess(['run', '-c', file, '--listen', '127.0.0.1:0', '--json']);
    const port = await perch.port();
    const agent = new HttpAgent({ keepAlive: false });
    expect(await post(port, agent, alertWithId(1))).toBe(200);
    writeFileSync(rules, 'rules:\n  - { name: drop-shells, match: { rule: "Terminal*" }, drop: true }\n');
    perch.child.kill('SIGHUP');
    const reloaded = async () => {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
      return /perch_rules_reloads_total\{result="ok"\} 1/.test(text);
    };
    const deadline = Date.now() + 5000;
    while (!(await reloaded()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await post(port, agent, alertWithId(2))).toBe(200);
    writeFileSync(rules, 'rules: [ {name: broken, match: {nope: 1}} ]\n');
    perch.child.kill('SIGHUP');
    const failed = async () =>
      /perch_rules_reloads_total\{result="failed"\} 1/.test(
        await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()),
      );
    while (!(await failed()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await post(port, agent, alertWithId(3))).toBe(200);
    perch.child.kill('SIGTERM');
    expect(await perch.exited).toBe(0);
    // Alert 1 went out; 2 and 3 were dropped by the reloaded rule, which the broken reload did not replace.
    expect(perch.stdoutLines().map((l) => JSON.parse(l).event.output_fields['test.id'])).toEqual([1]);
    expect(perch.stderr).toContain('rules reload failed: keeping the rules in force');
  });

  it('reads JSON lines from stdin and exits 0 when stdin ends', async () => {
    const result = await runPerch(
      ['run', '--stdin', '--json', '--listen', '127.0.0.1:0'],
      `${CURRENT_ALERT}\nnot an alert\n${PRE_030_ALERT}\n${INTERNAL_DROP_ALERT}\n`,
    );
    expect(result.code).toBe(0);
    const rules = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).event.rule);
    expect(rules).toEqual([
      'Contact K8S API Server From Container',
      'Non sudo setuid',
      'Falco internal: syscall event drop',
    ]);
    expect(result.stderr).toContain('skipped a line that is not a Falco alert');
  });

  it('follows a file given with --file', async () => {
    const file = join(dir, 'events.json');
    writeFileSync(file, `${alertWithId(1)}\n`);
    const perch = new PerchProcess([
      'run',
      '-c',
      RAW_CONFIG,
      '--file',
      file,
      '--json',
      '--listen',
      '127.0.0.1:0',
    ]);
    await perch.port();
    // The follower opens the file asynchronously after start: keep appending until lines come out.
    let next = 2;
    const deadline = Date.now() + 10_000;
    while (perch.stdoutLines().length < 2 && Date.now() < deadline) {
      appendFileSync(file, `${alertWithId(next++)}\n`);
      await new Promise((r) => setTimeout(r, 100));
    }
    perch.child.kill('SIGTERM');
    expect(await perch.exited).toBe(0);
    const ids = perch.stdoutLines().map((l) => JSON.parse(l).event.output_fields['test.id'] as number);
    // tail -F semantics: the line already in the file at start is not replayed; appended ones arrive in order.
    expect(ids.length).toBeGreaterThanOrEqual(2);
    expect(ids).not.toContain(1);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => (ids[0] as number) + i));
  });
});

describe('perch replay', () => {
  it('prints one JSON object per alert and the summary on stderr', async () => {
    const file = join(dir, 'replay.jsonl');
    writeFileSync(file, `${CURRENT_ALERT}\n{"rule": 1}\n${PRE_030_ALERT}\n`);
    const result = await runPerch(['replay', file, '--json']);
    expect(result.code).toBe(0);
    const out = result.stdout.trim().split('\n');
    expect(out).toHaveLength(2);
    // In the order of the alerts' own times: the 2020 alert of the third line comes first.
    expect(out[0]).toContain('"evt.time":1598896926470112310');
    expect(out[1]).toContain('"evt.time":1767258902123456789');
    expect(result.stderr).toContain('3 lines, 2 events, 1 rejected');
    expect(result.stderr).toContain('line 2: rule: expected a non-empty string');
  });

  it('prints readable lines by default', async () => {
    const file = join(dir, 'replay-text.jsonl');
    writeFileSync(file, `${CURRENT_ALERT}\n`);
    const result = await runPerch(['replay', file]);
    expect(result.stdout).toContain('NOTICE');
    expect(result.stdout).toContain(
      'Contact K8S API Server From Container [worker-2 tools/toolbox-6d8f9c7b5-x2x7q container toolbox 4b1d2c3e5f60]',
    );
  });
});
