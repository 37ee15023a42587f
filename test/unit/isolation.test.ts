import { describe, expect, it } from '@jest/globals';
import type { V1RuntimeClass } from '@kubernetes/client-node';
import {
  classifyIsolation,
  DEFAULT_HANDLER_ISOLATION,
  HOST_ISOLATION,
  type Isolation,
  type RuntimeClassLike,
} from '../../src/kube/isolation.js';
import { makeContainer, makePod, toJson } from '../fixtures/pods.js';

function runtimeClass(name: string, handler: string): V1RuntimeClass {
  return { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name }, handler };
}

/** RuntimeClass objects as a RuntimeClass informer would hold them, keyed by object name. */
function classes(...items: RuntimeClassLike[]): Map<string, RuntimeClassLike> {
  return new Map(items.map((rc) => [rc.metadata?.name ?? '', rc]));
}

const CLUSTER = classes(
  runtimeClass('runc', 'runc'),
  runtimeClass('crun', 'crun'),
  runtimeClass('gvisor', 'runsc'),
  runtimeClass('kata-qemu', 'kata-qemu'),
  runtimeClass('kata-fc', 'kata-fc'),
  runtimeClass('kata-clh', 'kata-clh'),
  runtimeClass('kata-qemu-snp', 'kata-qemu-snp'),
  runtimeClass('legacy-kata', 'kata'),
  runtimeClass('wasm', 'spin'),
  runtimeClass('secure', 'acme-microvm-v2'),
);

describe('classifyIsolation', () => {
  it.each<[string, string, Isolation]>([
    ['runc', 'runc', 'container'],
    ['crun', 'crun', 'container'],
    ['gvisor', 'runsc', 'sandbox'],
    ['kata-qemu', 'kata-qemu', 'vm'],
    ['kata-fc', 'kata-fc', 'vm'],
    ['kata-clh', 'kata-clh', 'vm'],
    ['kata-qemu-snp', 'kata-qemu-snp', 'vm'],
    ['legacy-kata', 'kata', 'vm'],
  ])('RuntimeClass %s (handler %s) is %s', (name, handler, isolation) => {
    expect(classifyIsolation(name, CLUSTER)).toEqual({ runtimeClass: name, handler, isolation });
  });

  it.each([undefined, null, ''])(
    'no runtimeClassName (%p) uses the default handler, reported unnamed',
    (name) => {
      expect(classifyIsolation(name, CLUSTER)).toEqual({ isolation: 'container' });
    },
  );

  it('lets the config override the default handler for nodes whose CRI default is not runc', () => {
    const map = { ...DEFAULT_HANDLER_ISOLATION, '': 'vm' as const };
    expect(classifyIsolation(undefined, CLUSTER, map)).toEqual({ isolation: 'vm' });
  });

  it('classifies an unmapped handler as unknown', () => {
    expect(classifyIsolation('wasm', CLUSTER)).toEqual({
      runtimeClass: 'wasm',
      handler: 'spin',
      isolation: 'unknown',
    });
  });

  it('flags a runtimeClassName whose RuntimeClass is not known', () => {
    expect(classifyIsolation('kata-dragonball', CLUSTER)).toEqual({
      runtimeClass: 'kata-dragonball',
      isolation: 'unknown',
      missingRuntimeClass: true,
    });
  });

  it('treats a RuntimeClass without a handler as unknown, not as the default handler', () => {
    expect(classifyIsolation('broken', classes({ metadata: { name: 'broken' } }))).toEqual({
      runtimeClass: 'broken',
      isolation: 'unknown',
    });
  });

  it('classifies a custom handler through a glob in the user map', () => {
    const map = { ...DEFAULT_HANDLER_ISOLATION, 'acme-microvm-*': 'vm' as const };
    expect(classifyIsolation('secure', CLUSTER, map)).toEqual({
      runtimeClass: 'secure',
      handler: 'acme-microvm-v2',
      isolation: 'vm',
    });
    expect(classifyIsolation('secure', CLUSTER).isolation).toBe('unknown');
  });

  it('prefers an exact key over a glob, and the longest glob over a shorter one', () => {
    const map: Record<string, Isolation> = {
      ...DEFAULT_HANDLER_ISOLATION,
      'kata-qemu': 'sandbox',
      'kata-qemu-*': 'unknown',
      '*': 'container',
    };
    expect(classifyIsolation('kata-qemu', CLUSTER, map).isolation).toBe('sandbox');
    expect(classifyIsolation('kata-qemu-snp', CLUSTER, map).isolation).toBe('unknown');
    expect(classifyIsolation('kata-fc', CLUSTER, map).isolation).toBe('vm');
    expect(classifyIsolation('wasm', CLUSTER, map).isolation).toBe('container');
  });

  it('does not treat Object.prototype members as handler map entries', () => {
    const rcs = classes(runtimeClass('odd', 'constructor'));
    expect(classifyIsolation('odd', rcs)).toEqual({
      runtimeClass: 'odd',
      handler: 'constructor',
      isolation: 'unknown',
    });
  });

  it('accepts RuntimeClasses as raw watch JSON', () => {
    const rcs = classes(toJson(runtimeClass('gvisor', 'runsc')));
    expect(classifyIsolation('gvisor', rcs).isolation).toBe('sandbox');
  });

  it('keeps a host-namespaced privileged pod in its runtime class; privilege is the posture’s business', () => {
    const pod = makePod({
      containers: [makeContainer('app', { securityContext: { privileged: true } })],
      spec: { hostPID: true, hostNetwork: true, hostIPC: true },
    });
    expect(classifyIsolation(pod.spec?.runtimeClassName, CLUSTER)).toEqual({ isolation: 'container' });
    const sandboxed = makePod({ spec: { ...pod.spec, runtimeClassName: 'gvisor' } });
    expect(classifyIsolation(sandboxed.spec?.runtimeClassName, CLUSTER).isolation).toBe('sandbox');
  });

  it('exposes host isolation for host events, frozen', () => {
    expect(HOST_ISOLATION).toEqual({ isolation: 'host' });
    expect(Object.isFrozen(HOST_ISOLATION)).toBe(true);
    expect(Object.isFrozen(DEFAULT_HANDLER_ISOLATION)).toBe(true);
    expect(Object.values(DEFAULT_HANDLER_ISOLATION)).not.toContain('host');
  });
});
