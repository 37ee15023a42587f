import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { type Harness, startAgent } from '../helpers/agent-harness.js';
import { eventually, freePort, requireBinary, ServerProcess } from '../helpers/real-server.js';

const PROMETHEUS = requireBinary('/usr/bin/prometheus', 'prometheus');
const PROMTOOL = requireBinary('/usr/bin/promtool', 'prometheus');
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'perch-prom-'));

let harness: Harness;
let prometheus: ServerProcess;
let promUrl: string;

async function query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`query ${promql} failed: ${JSON.stringify(body)}`);
  return body.data.result;
}

async function scalar(promql: string): Promise<number | undefined> {
  const result = await query(promql);
  return result.length === 1 ? Number(result[0]?.value[1]) : undefined;
}

beforeAll(async () => {
  harness = await startAgent({
    nodeName: 'worker-2',
    kubernetes: { podsFile: join(REPO, 'examples/demo/cluster.json') },
    metrics: { falcoExporterCompat: true },
    rules: { defaults: true, dedup: { window: '5m' } },
  });
  const lines = readFileSync(join(REPO, 'examples/demo/alerts.jsonl'), 'utf8').trim().split('\n');
  for (const body of lines) {
    const res = await fetch(`${harness.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
  }
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [{ job_name: 'perch', static_configs: [{ targets: [new URL(harness.url).host] }] }],
    }),
  );
  prometheus = new ServerProcess(PROMETHEUS, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  await eventually(
    'Prometheus to scrape Perch',
    async () => ((await scalar('up{job="perch"}')) === 1 ? true : undefined),
    prometheus,
  );
});

afterAll(async () => {
  await prometheus?.stop();
  await harness?.stop();
});

describe('real Prometheus scraping Perch', () => {
  it('sees the enriched event counters with their labels', async () => {
    const shells = await eventually('the shell counter', () =>
      scalar(
        'sum(perch_falco_events_total{rule="Terminal shell in container",namespace="payments",workload_kind="Deployment",workload="payments-api",isolation="container"})',
      ),
    );
    expect(shells).toBe(15);
    expect(
      await scalar(
        'perch_falco_events_total{rule="Run shell untrusted",runtime_class="gvisor",isolation="sandbox"}',
      ),
    ).toBe(1);
    expect(
      await scalar(
        'perch_falco_events_total{rule="Linux Kernel Module Injection Detected",isolation="host",workload_kind="Host"}',
      ),
    ).toBe(1);
    expect(
      await scalar(
        'perch_falco_events_total{rule="Unprivileged Delegation of Page Faults Handling to a Userspace Process",priority="Critical",isolation="sandbox"}',
      ),
    ).toBe(1);
    expect(await scalar('sum(perch_falco_events_total)')).toBe(23);
  });

  it('sees where every event ended, digests and incidents', async () => {
    expect(await scalar('perch_events_total{outcome="digested"}')).toBe(14);
    expect(await scalar('perch_events_total{outcome="routed"}')).toBe(9);
    expect(
      await scalar(
        'sum(perch_incidents_total{correlation="shell-then-credential-access",priority="Critical"})',
      ),
    ).toBe(1);
    expect(await scalar('sum(perch_incidents_total{correlation="same-rule-across-workload"})')).toBe(1);
  });

  it("sees the posture of the node's pods", async () => {
    expect(await scalar('sum(perch_pods)')).toBe(5);
    expect(
      await scalar(
        'perch_pods{namespace="batch",isolation="sandbox",runtime_class="gvisor",pss_level="restricted"}',
      ),
    ).toBe(1);
    expect(
      await scalar('perch_pods{namespace="payments",isolation="container",pss_level="privileged"}'),
    ).toBe(3);
    expect(
      await scalar('perch_pod_security_violations{namespace="payments",check="privileged",level="baseline"}'),
    ).toBe(3);
  });

  it('sees the falco-exporter compatible metric exactly as falco-exporter exposed it', async () => {
    const series = await query('falco_events{rule="Contact K8S API Server From Container"}');
    expect(series).toHaveLength(1);
    expect(series[0]?.metric).toEqual({
      __name__: 'falco_events',
      instance: new URL(harness.url).host,
      job: 'perch',
      rule: 'Contact K8S API Server From Container',
      priority: '5',
      hostname: 'worker-2',
      source: 'syscall',
      k8s_ns_name: 'tools',
      k8s_pod_name: 'toolbox-6d8f9c7b5-x2x7q',
      tags: ',T1565,container,k8s,maturity_stable,mitre_discovery,network,',
    });
    expect(await scalar('sum(falco_events{priority="2"})')).toBe(2);
  });

  it('answers every query of the Grafana dashboard (valid PromQL over the metrics Perch exposes)', async () => {
    const dashboard = JSON.parse(
      readFileSync(join(REPO, 'daemonset/grafana/perch-dashboard.json'), 'utf8'),
    ) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => t.expr.replaceAll('$node', '.*')),
    );
    expect(exprs.length).toBeGreaterThan(15);
    for (const expr of exprs) await expect(query(expr)).resolves.toBeDefined();
    // The headline panel has data once Prometheus holds two scrapes (rate needs two samples).
    await eventually('data in the first panel', async () =>
      (await query(exprs[0] as string)).length > 0 ? true : undefined,
    );
  });

  it('gets an exposition that promtool accepts, and rules that promtool accepts', async () => {
    const exposition = await fetch(`${harness.url}/metrics`).then((r) => r.text());
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition });
    // The one lint finding is deliberate: falco-exporter's counter had no _total, and dashboards expect that name.
    expect(`${check.stdout}${check.stderr}`.trim().split('\n')).toEqual([
      'falco_events counter metrics should have "_total" suffix',
    ]);
    const rule = parse(
      readFileSync(join(REPO, 'daemonset/components/prometheus-operator/prometheusrule.yaml'), 'utf8'),
    ) as {
      spec: { groups: unknown[] };
    };
    const rulesFile = join(dir, 'rules.yaml');
    writeFileSync(rulesFile, stringify({ groups: rule.spec.groups }));
    expect(execFileSync(PROMTOOL, ['check', 'rules', rulesFile]).toString()).toMatch(
      /SUCCESS: \d+ rules found/,
    );
  });
});
