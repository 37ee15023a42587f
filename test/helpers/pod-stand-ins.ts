import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { K8sObject } from './kustomize.js';
import { daemonSetPod } from './pod-spec.js';

const CERTS = fileURLToPath(new URL('../fixtures/certs/', import.meta.url));

/**
 * The service account files as the kubelet projects them (mode 0644): a token, the CA that signed
 * the API server's certificate (test/fixtures/certs, whose server certificate names 127.0.0.1),
 * and the namespace.
 */
export function serviceAccountFiles(token: string, namespace = 'perch'): string {
  const dir = mkdtempSync(join(tmpdir(), 'perch-serviceaccount-'));
  writeFileSync(join(dir, 'token'), token, { mode: 0o644 });
  copyFileSync(join(CERTS, process.env.WRONG_CA ? 'other-ca.crt' : 'ca.crt'), join(dir, 'ca.crt'));
  chmodSync(join(dir, 'ca.crt'), 0o644);
  writeFileSync(join(dir, 'namespace'), namespace, { mode: 0o644 });
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * One host directory per hostPath volume of the DaemonSet, as the node has it: owned by root (the
 * user running the tests stands for root) with mode 0755, whether the node's software made it
 * (Falco's /run/falco) or the kubelet did (DirectoryOrCreate).
 */
export function hostPathStandIns(objects: K8sObject[]): Record<string, string> {
  const root = mkdtempSync(join(tmpdir(), 'perch-node-'));
  chmodSync(root, 0o755);
  const standIns: Record<string, string> = {};
  for (const volume of daemonSetPod(objects).volumes ?? []) {
    if (!volume.hostPath) continue;
    const dir = join(root, volume.hostPath.path);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    standIns[volume.hostPath.path] = dir;
  }
  return standIns;
}
