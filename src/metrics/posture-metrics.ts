import { Gauge, type Registry, type RegistryContentType } from 'prom-client';
import type { PodContext } from '../kube/pod-context.js';

/**
 * The security posture of the pods on this node, computed at scrape time from the pod cache:
 * pods by namespace, runtime class, isolation and Pod Security level; violations by check; pods
 * that name a RuntimeClass the cluster does not have. Label values come from the cluster (tens of
 * namespaces and runtime classes on a node), never from alerts.
 *
 * Each gauge makes its own pass over the pods when it is collected: a node has a few hundred pods
 * at most and their contexts are cached, so three passes per scrape cost less than coordinating
 * one, and each gauge stays right when it is read on its own.
 */
export function registerPostureMetrics(
  registry: Registry<RegistryContentType>,
  pods: () => PodContext[],
): void {
  const registers = [registry];
  new Gauge({
    name: 'perch_pods',
    help: 'Pods on this node by namespace, runtime class, isolation (container, sandbox, vm, unknown) and Pod Security Standards level met.',
    labelNames: ['namespace', 'runtime_class', 'isolation', 'pss_level'],
    registers,
    collect() {
      this.reset();
      for (const pod of pods()) {
        this.inc({
          namespace: pod.namespace,
          runtime_class: pod.runtimeClass ?? '',
          isolation: pod.isolation,
          pss_level: pod.posture.level,
        });
      }
    },
  });
  new Gauge({
    name: 'perch_pod_security_violations',
    help: 'Pods on this node failing a Pod Security Standards check (pod-security-admission check id), by namespace.',
    labelNames: ['namespace', 'check', 'level'],
    registers,
    collect() {
      this.reset();
      for (const pod of pods()) {
        // A pod counts once per check, however many of its containers fail it.
        const counted = new Set<string>();
        for (const { check, level } of pod.posture.violations) {
          if (counted.has(`${check}/${level}`)) continue;
          counted.add(`${check}/${level}`);
          this.inc({ namespace: pod.namespace, check, level });
        }
      }
    },
  });
  new Gauge({
    name: 'perch_pods_missing_runtime_class',
    help: 'Pods on this node naming a RuntimeClass the cluster does not have.',
    labelNames: ['namespace', 'runtime_class'],
    registers,
    collect() {
      this.reset();
      for (const pod of pods()) {
        if (pod.missingRuntimeClass)
          this.inc({ namespace: pod.namespace, runtime_class: pod.runtimeClass ?? '' });
      }
    },
  });
}
