// What the shipped rules do to an alert from a gVisor or Kata pod: a sandbox contains an escape to the
// node, nothing else, so only escape attempts are lowered, and never out of sight of the shipped
// console (or, for anything else, of the chat sink the manifests suggest).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parse, parseAllDocuments } from 'yaml';
import { validateConfig } from '../../src/config/load-config.js';
import type { PerchConfig } from '../../src/config/schema.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority, priorityName } from '../../src/events/priority.js';
import type { PodContext } from '../../src/kube/pod-context.js';
import { alertFromEvent } from '../../src/pipeline/alert.js';
import { KNOWN_FALCO_RULES } from '../../src/rules/known-falco-rules.js';
import { loadRules } from '../../src/rules/load-rules.js';
import { FALCO_RULES } from '../fixtures/falco-rules.js';
import { PAYMENTS_API_SANDBOXED, PRIVILEGED_API_CONTAINER, podContext } from '../fixtures/pod-context.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NOW = Date.parse('2026-11-26T12:00:00Z');

// Written out here rather than read from rules/default.yaml, so that a change there has to be a
// decision: each is an attempt to leave the container or to act on the kernel, which in a sandbox is
// the sandbox's own.
const ESCAPE_ATTEMPTS = new Set([
  'Detect release_agent File Container Escapes',
  'Debugfs Launched in Privileged Container',
  'Mount Launched in Privileged Container',
  'Privileged Container Device Access',
  'Modify Container Entrypoint',
  'Change thread namespace',
  'Change namespace privileges via unshare',
  'Linux Kernel Module Injection Detected',
  'BPF Program Not Profiled',
  'Unprivileged Delegation of Page Faults Handling to a Userspace Process',
]);

const GVISOR = podContext(PAYMENTS_API_SANDBOXED);
const KATA = podContext({
  ...PAYMENTS_API_SANDBOXED,
  runtimeClass: 'kata-qemu',
  handler: 'kata-qemu',
  isolation: 'vm',
});
const RUNC = podContext({
  ...PAYMENTS_API_SANDBOXED,
  runtimeClass: undefined,
  handler: undefined,
  isolation: 'container',
});
const SANDBOXES: [string, PodContext][] = [
  ['gVisor', GVISOR],
  ['Kata', KATA],
];

const { ruleSet, errors } = loadRules({
  config: validateConfig({}, 'defaults', {}).rules,
  sinkNames: ['console'],
  nowMs: NOW,
});

function apply(rule: string, priority: Priority, tags: readonly string[], pod: PodContext) {
  const event = parseFalcoJson(
    JSON.stringify({
      rule,
      priority: priorityName(priority),
      time: '2026-11-26T11:00:00Z',
      source: 'syscall',
      hostname: 'worker-2',
      tags,
      output_fields: { 'container.id': '8f2c4d1e9a7b', 'proc.name': 'sh' },
    }),
  );
  return ruleSet.apply(alertFromEvent({ event, enrichment: { outcome: 'container_id', pod } }, NOW), NOW)
    .alert;
}

function priorityIn(rule: string, priority: Priority, tags: readonly string[], pod: PodContext): Priority {
  return apply(rule, priority, tags, pod).priority;
}

/** Every perch.yaml the manifests ship (base ConfigMap and each component's patch), validated. */
function shippedConfigs(): { file: string; text: string; config: PerchConfig }[] {
  const found: { file: string; text: string; config: PerchConfig }[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.yaml'))
        for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
          const text = (doc.toJS() as { data?: Record<string, string> } | null)?.data?.['perch.yaml'];
          if (text)
            found.push({
              file: path.slice(REPO.length),
              text,
              config: validateConfig(parse(text), path, {}),
            });
        }
    }
  };
  walk(join(REPO, 'daemonset'));
  return found;
}

const consoleThresholds = (config: PerchConfig) =>
  Object.values(config.sinks).flatMap((s) => (s.type === 'console' ? [s.minPriority] : []));

describe('the shipped rules in a gVisor or Kata pod', () => {
  it('load without errors, and know the priority and tags of every rule of Falco 5.1.0', () => {
    expect(errors).toEqual([]);
    expect(FALCO_RULES.map((r) => r.rule).sort()).toEqual([...KNOWN_FALCO_RULES].sort());
  });

  it.each(SANDBOXES)(
    'in %s, keep every Falco detection at its priority, lowering only escape attempts, one level',
    (_name, pod) => {
      const got: Record<string, string> = {};
      const want: Record<string, string> = {};
      for (const { rule, priority, tags } of FALCO_RULES) {
        got[rule] = priorityName(priorityIn(rule, priority, tags, pod));
        const lowered = ESCAPE_ATTEMPTS.has(rule) && priority >= Priority.Warning;
        want[rule] = priorityName(lowered ? priority - 1 : priority);
      }
      expect(got).toEqual(want);
    },
  );

  it('keep a compromise of the workload itself exactly as serious as in a runc pod', () => {
    for (const rule of [
      'Terminal shell in container',
      'Drop and execute new binary in container',
      'Read sensitive file untrusted',
      'Search Private Keys or Passwords',
      'Contact K8S API Server From Container',
      'Contact cloud metadata service from container',
      'PTRACE attached to process',
      'Sudo Potential Privilege Escalation',
    ]) {
      const defaults = FALCO_RULES.find((r) => r.rule === rule);
      if (!defaults) throw new Error(`"${rule}" is not a rule of Falco's rules 5.1.0`);
      const { priority, tags } = defaults;
      const inGvisor = apply(rule, priority, tags, GVISOR);
      expect([rule, inGvisor.priority, inGvisor.reasons]).toEqual([rule, priority, []]);
      expect(priorityIn(rule, priority, tags, KATA)).toBe(priorityIn(rule, priority, tags, RUNC));
    }
  });

  it('say why an escape attempt was lowered, and lower it once even when its name and its tag both match', () => {
    const lowered = apply(
      'Detect release_agent File Container Escapes',
      Priority.Critical,
      ['T1611'],
      GVISOR,
    );
    expect(lowered.priority).toBe(Priority.Error);
    expect(lowered.reasons).toEqual([
      "in a gVisor or VM pod, an attempt to escape or to attack the kernel meets the sandbox's kernel, not the node's: lowered to Error",
    ]);
  });

  it('lower your own rules tagged T1611 (Escape to Host), not those merely tagged privilege escalation', () => {
    expect(priorityIn('Our cgroup escape', Priority.Error, ['container', 'T1611'], GVISOR)).toBe(
      Priority.Warning,
    );
    expect(priorityIn('Our cgroup escape', Priority.Error, ['container'], GVISOR)).toBe(Priority.Error);
    expect(priorityIn('Our setuid check', Priority.Error, ['mitre_privilege_escalation'], GVISOR)).toBe(
      Priority.Error,
    );
  });

  it('lower nothing in a pod that hands the host over anyway: host paths, or host disks under Kata', () => {
    const hostPath: PodContext['posture']['violations'][number] = {
      check: 'hostPathVolumes',
      level: 'baseline',
      field: 'spec.volumes[host].hostPath.path',
      value: '/',
    };
    const withHostPath = (pod: PodContext) => ({
      ...pod,
      posture: { level: 'privileged' as const, violations: [hostPath] },
    });
    const privileged = (pod: PodContext) => ({
      ...pod,
      posture: { level: 'privileged' as const, violations: [PRIVILEGED_API_CONTAINER] },
    });
    const mountIn = (pod: PodContext) =>
      priorityIn('Mount Launched in Privileged Container', Priority.Warning, ['T1611'], pod);
    expect(mountIn(withHostPath(GVISOR))).toBe(Priority.Warning);
    expect(mountIn(withHostPath(KATA))).toBe(Priority.Warning);
    // Kata hot-plugs the host's block devices into a privileged container's VM; gVisor does not.
    expect(mountIn(privileged(KATA))).toBe(Priority.Warning);
    expect(mountIn(privileged(GVISOR))).toBe(Priority.Notice);
  });
});

describe('the shipped thresholds and the sandbox rules', () => {
  const configs = shippedConfigs();
  const consoles = [
    ...configs.flatMap(({ file, config }) => consoleThresholds(config).map((t) => ({ file, threshold: t }))),
    ...consoleThresholds(validateConfig({}, 'no config file', {})).map((t) => ({
      file: 'no config',
      threshold: t,
    })),
  ];

  it('find a console sink in every perch.yaml the manifests ship', () => {
    expect(configs.map((c) => c.file)).toContain('daemonset/base/configmap.yaml');
    for (const { file, config } of configs)
      expect([file, consoleThresholds(config).length]).toEqual([file, 1]);
  });

  it('show on every shipped console each alert from a sandbox that it shows from a runc pod, at any priority', () => {
    const hidden: string[] = [];
    for (const { rule, tags } of FALCO_RULES)
      for (let p = Priority.Debug; p <= Priority.Emergency; p++)
        for (const [name, pod] of SANDBOXES)
          for (const { file, threshold } of consoles)
            if (priorityIn(rule, p, tags, RUNC) >= threshold && priorityIn(rule, p, tags, pod) < threshold)
              hidden.push(`${rule} at ${priorityName(p)} in ${name}: below the console of ${file}`);
    expect(hidden).toEqual([]);
  });

  it("deliver to the ConfigMap's suggested chat sink everything from a sandbox that a runc pod would, but escape attempts", () => {
    const base = configs.find((c) => c.file === 'daemonset/base/configmap.yaml');
    // The chat sink is commented out in the ConfigMap; read it as a user who enables it would.
    const enabled = validateConfig(parse(base?.text.replace(/^(\s*)# ?/gm, '$1') ?? ''), 'chat', {
      SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T000/B000/XXX',
    });
    const chat = Object.values(enabled.sinks).find((s) => s.type === 'slack');
    if (!chat) throw new Error('the ConfigMap no longer suggests a chat sink');
    const threshold = chat.minPriority;
    const lost: string[] = [];
    for (const { rule, priority, tags } of FALCO_RULES)
      for (const [name, pod] of SANDBOXES)
        if (
          !ESCAPE_ATTEMPTS.has(rule) &&
          priorityIn(rule, priority, tags, RUNC) >= threshold &&
          priorityIn(rule, priority, tags, pod) < threshold
        )
          lost.push(`${rule} in ${name}`);
    expect(lost).toEqual([]);
  });
});
