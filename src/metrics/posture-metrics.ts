import { Gauge, type Registry, type RegistryContentType } from 'prom-client';
import type { PodContext } from '../kube/pod-context.js';

/**
 * The security posture of the pods on this node, computed at scrape time from the pod cache:
 * pods by namespace, runtime class, isolation and Pod Security level; violations by check; pods
 * that name a RuntimeClass the cluster does not have. Label values come from the cluster (tens of
 * namespaces and runtime classes on a node), never from alerts.
 */
export function registerPostureMetrics(
  registry: Registry<RegistryContentType>,
  pods: () => PodContext[],
): void {
  const registers = [registry];
  const violations = new Gauge({
    name: 'perch_pod_security_violations',
    help: 'Pods on this node failing a Pod Security Standards check (pod-security-admission check id), by namespace.',
    labelNames: ['namespace', 'check', 'level'],
    registers,
    collect: () => refresh(),
  });
  const missing = new Gauge({
    name: 'perch_pods_missing_runtime_class',
    help: 'Pods on this node naming a RuntimeClass the cluster does not have.',
    labelNames: ['namespace', 'runtime_class'],
    registers,
    collect: () => refresh(),
  });
  // Each gauge's collector calls this; one pass over the pods fills all three, and the three
  // collections of one scrape (the same millisecond, nearly always) share it.
  let collectedAt = -1;
  const refresh = () => {
    const now = Date.now();
    if (now === collectedAt) return;
    collectedAt = now;
    byPosture.reset();
    violations.reset();
    missing.reset();
    for (const pod of pods()) {
      byPosture.inc({
        namespace: pod.namespace,
        runtime_class: pod.runtimeClass ?? '',
        isolation: pod.isolation,
        pss_level: pod.posture.level,
      });
      const checks = new Set(pod.posture.violations.map((v) => `${v.check}\u0000${v.level}`));
      for (const key of checks) {
        const [check = '', level = ''] = key.split('\u0000');
        violations.inc({ namespace: pod.namespace, check, level });
      }
      if (pod.missingRuntimeClass)
        missing.inc({ namespace: pod.namespace, runtime_class: pod.runtimeClass ?? '' });
    }
  };
  const byPosture: Gauge<'namespace' | 'runtime_class' | 'isolation' | 'pss_level'> = new Gauge({
    name: 'perch_pods',
    help: 'Pods on this node by namespace, runtime class, isolation (container, sandbox, vm, unknown) and Pod Security Standards level met.',
    labelNames: ['namespace', 'runtime_class', 'isolation', 'pss_level'],
    registers,
    collect: refresh,
  });
}
