import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { V1ContainerStatus, V1Pod, V1PodStatus } from '@kubernetes/client-node';
import { PodIndex } from '../../src/kube/pod-index.js';
import { makeContainer, makePod, type PodOptions, toJson } from '../fixtures/pods.js';

/** A deterministic 64-hex container id. */
function hexId(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

function status(
  name: string,
  id: string | undefined,
  extra: { previousId?: string; runtime?: string; image?: string } = {},
): V1ContainerStatus {
  const runtime = extra.runtime ?? 'containerd';
  return {
    name,
    image: extra.image ?? `registry.example/${name}:1.0`,
    imageID: '',
    ready: id !== undefined,
    restartCount: extra.previousId ? 1 : 0,
    ...(id === undefined ? {} : { containerID: `${runtime}://${id}` }),
    ...(extra.previousId
      ? { lastState: { terminated: { exitCode: 1, containerID: `${runtime}://${extra.previousId}` } } }
      : {}),
  };
}

function pod(name: string, podStatus: V1PodStatus, options: PodOptions = {}): V1Pod {
  return makePod({ name, namespace: 'shop', status: { phase: 'Running', ...podStatus }, ...options });
}

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const A = hexId('a');
const B = hexId('b');

describe('PodIndex container ids', () => {
  it('finds a container by Falco’s 12-char id and by the full id', () => {
    const index = new PodIndex();
    index.upsert(pod('web-0', { containerStatuses: [status('app', A)] }));
    const short = index.byContainerId(A.slice(0, 12));
    expect(short).toMatchObject({
      containerName: 'app',
      containerKind: 'container',
      image: 'registry.example/app:1.0',
      previous: false,
    });
    expect(short?.entry).toMatchObject({ uid: 'uid-web-0', namespace: 'shop', name: 'web-0' });
    expect(index.byContainerId(A)?.containerName).toBe('app');
    expect(index.byContainerId(`${A.slice(0, 63)}0`)).toBeUndefined();
    expect(index.byContainerId(B.slice(0, 12))).toBeUndefined();
  });

  it.each(['containerd', 'cri-o', 'docker'])(
    'strips the %s:// scheme from statuses and queries',
    (runtime) => {
      const index = new PodIndex();
      index.upsert(pod('web-0', { containerStatuses: [status('app', A, { runtime })] }));
      expect(index.byContainerId(A)?.containerName).toBe('app');
      expect(index.byContainerId(A.slice(0, 12))?.containerName).toBe('app');
      expect(index.byContainerId(`${runtime}://${A}`)?.containerName).toBe('app');
    },
  );

  it('indexes init and ephemeral containers', () => {
    const index = new PodIndex();
    index.upsert(
      pod(
        'web-0',
        {
          initContainerStatuses: [status('migrate', A)],
          containerStatuses: [status('app', undefined)],
          ephemeralContainerStatuses: [status('debugger', B, { image: '' })],
        },
        { spec: { ephemeralContainers: [{ name: 'debugger', image: 'busybox:1.36' }] } },
      ),
    );
    expect(index.byContainerId(A.slice(0, 12))).toMatchObject({
      containerName: 'migrate',
      containerKind: 'init',
    });
    // An empty status image falls back to the spec's.
    expect(index.byContainerId(B.slice(0, 12))).toMatchObject({
      containerName: 'debugger',
      containerKind: 'ephemeral',
      image: 'busybox:1.36',
    });
    expect(index.size.containerIds).toBe(2);
  });

  it('resolves the previous id of a restarted container', () => {
    const index = new PodIndex();
    index.upsert(pod('web-0', { containerStatuses: [status('app', B, { previousId: A })] }));
    expect(index.byContainerId(A.slice(0, 12))).toMatchObject({ containerName: 'app', previous: true });
    expect(index.byContainerId(B.slice(0, 12))).toMatchObject({ containerName: 'app', previous: false });
  });

  it('indexes state.terminated.containerID of an exited container', () => {
    const index = new PodIndex();
    const exited: V1ContainerStatus = {
      ...status('job', undefined),
      state: { terminated: { exitCode: 0, containerID: `containerd://${A}` } },
    };
    index.upsert(pod('job-x', { containerStatuses: [exited] }));
    expect(index.byContainerId(A.slice(0, 12))).toMatchObject({ containerName: 'job', previous: false });
  });

  it('drops ids that are neither current nor previous after an update', () => {
    const C = hexId('c');
    const index = new PodIndex();
    index.upsert(pod('web-0', { containerStatuses: [status('app', A)] }));
    index.upsert(pod('web-0', { containerStatuses: [status('app', B, { previousId: A })] }));
    expect(index.byContainerId(A.slice(0, 12))?.previous).toBe(true);
    index.upsert(pod('web-0', { containerStatuses: [status('app', C, { previousId: B })] }));
    expect(index.byContainerId(A.slice(0, 12))).toBeUndefined();
    expect(index.byContainerId(B.slice(0, 12))?.previous).toBe(true);
    expect(index.byContainerId(C.slice(0, 12))?.previous).toBe(false);
    expect(index.size).toEqual({ live: 1, deleted: 0, containerIds: 2 });
  });

  it('answers nothing for host, empty and sandbox ids', () => {
    const index = new PodIndex();
    index.upsert(pod('web-0', { containerStatuses: [status('app', A)] }));
    expect(index.byContainerId('host')).toBeUndefined();
    expect(index.byContainerId('')).toBeUndefined();
    expect(index.byContainerId(hexId('pause').slice(0, 12))).toBeUndefined();
  });

  it('keeps both pods on a 12-char collision and prefers the live one', () => {
    const now = clock();
    const index = new PodIndex({ now: now.now });
    const collidingA = `${A.slice(0, 12)}${'0'.repeat(52)}`;
    const collidingB = `${A.slice(0, 12)}${'1'.repeat(52)}`;
    const gone = pod('old-0', { containerStatuses: [status('app', collidingA)] });
    index.upsert(gone);
    index.upsert(pod('new-0', { containerStatuses: [status('app', collidingB)] }));
    index.remove(gone);
    expect(index.byContainerId(A.slice(0, 12))?.entry.name).toBe('new-0');
    // The full id still disambiguates.
    expect(index.byContainerId(collidingA)?.entry.name).toBe('old-0');
    expect(index.size.containerIds).toBe(2);
  });

  it('prefers a current id over a previous one on a collision between live pods', () => {
    const index = new PodIndex();
    const current = `${A.slice(0, 12)}${'0'.repeat(52)}`;
    const previous = `${A.slice(0, 12)}${'1'.repeat(52)}`;
    index.upsert(pod('b-0', { containerStatuses: [status('app', current)] }));
    index.upsert(pod('a-0', { containerStatuses: [status('app', B, { previousId: previous })] }));
    expect(index.byContainerId(A.slice(0, 12))?.entry.name).toBe('b-0');
  });
});

describe('PodIndex names and uids', () => {
  it('finds pods by namespace/name and by uid', () => {
    const index = new PodIndex();
    index.upsert(pod('web-0', {}));
    expect(index.byPodName('shop', 'web-0')?.uid).toBe('uid-web-0');
    expect(index.byPodName('other', 'web-0')).toBeUndefined();
    expect(index.byUid('uid-web-0')?.name).toBe('web-0');
    expect(index.pods().map((p) => p.name)).toEqual(['web-0']);
  });

  it('prefers the recreated live pod over the deleted one with the same name', () => {
    const index = new PodIndex({ now: clock().now });
    const first = pod('db-0', {}, { uid: 'uid-1' });
    index.upsert(first);
    index.remove(first);
    expect(index.byPodName('shop', 'db-0')?.uid).toBe('uid-1');
    index.upsert(pod('db-0', {}, { uid: 'uid-2' }));
    expect(index.byPodName('shop', 'db-0')?.uid).toBe('uid-2');
    expect(index.byUid('uid-1')?.deletedAtMs).toBeDefined();
  });

  it('replaces the entry of an updated pod', () => {
    const index = new PodIndex();
    index.upsert(pod('web-0', {}, { labels: { v: '1' } }));
    index.upsert(pod('web-0', {}, { labels: { v: '2' } }));
    expect(index.byUid('uid-web-0')?.pod.metadata?.labels).toEqual({ v: '2' });
    expect(index.size.live).toBe(1);
  });
});

describe('PodIndex deletion', () => {
  it('keeps a deleted pod resolvable within the grace period and forgets it after', () => {
    const now = clock();
    const index = new PodIndex({ deletedGraceMs: 60_000, now: now.now });
    const p = pod('web-0', { containerStatuses: [status('app', A)] });
    index.upsert(p);
    now.advance(1000);
    index.remove(p);
    expect(index.pods()).toEqual([]);
    expect(index.size).toEqual({ live: 0, deleted: 1, containerIds: 1 });

    now.advance(59_999);
    const match = index.byContainerId(A.slice(0, 12));
    expect(match?.entry.deletedAtMs).toBe(1_001_000);
    expect(index.byPodName('shop', 'web-0')?.name).toBe('web-0');
    expect(index.byUid('uid-web-0')).toBeDefined();

    now.advance(1);
    expect(index.byContainerId(A.slice(0, 12))).toBeUndefined();
    expect(index.byPodName('shop', 'web-0')).toBeUndefined();
    expect(index.byUid('uid-web-0')).toBeUndefined();
    expect(index.size).toEqual({ live: 0, deleted: 0, containerIds: 0 });
  });

  it('takes the final state from the delete event and keeps the first deletion time', () => {
    const now = clock();
    const index = new PodIndex({ now: now.now });
    index.upsert(pod('web-0', { containerStatuses: [status('app', undefined)] }));
    index.remove(pod('web-0', { containerStatuses: [status('app', A)] }));
    now.advance(10);
    index.remove(pod('web-0', { containerStatuses: [status('app', A)] }));
    expect(index.byContainerId(A.slice(0, 12))?.entry.deletedAtMs).toBe(1_000_000);
  });

  it('indexes a delete for a pod it never saw', () => {
    const index = new PodIndex({ now: clock().now });
    index.remove(pod('ghost', { containerStatuses: [status('app', A)] }));
    expect(index.byContainerId(A.slice(0, 12))?.entry.name).toBe('ghost');
    expect(index.size.live).toBe(0);
  });

  it('bounds the deleted set, evicting the oldest deletion first', () => {
    const now = clock();
    const index = new PodIndex({ maxDeleted: 3, now: now.now });
    const pods = ['p0', 'p1', 'p2', 'p3', 'p4'].map((n) =>
      pod(n, { containerStatuses: [status('app', hexId(n))] }),
    );
    for (const p of pods) index.upsert(p);
    for (const p of pods) {
      now.advance(1);
      index.remove(p);
    }
    expect(index.size).toEqual({ live: 0, deleted: 3, containerIds: 3 });
    expect(index.byUid('uid-p0')).toBeUndefined();
    expect(index.byUid('uid-p1')).toBeUndefined();
    expect(index.byContainerId(hexId('p1').slice(0, 12))).toBeUndefined();
    expect(index.byUid('uid-p2')?.name).toBe('p2');
    expect(index.byContainerId(hexId('p4').slice(0, 12))?.entry.name).toBe('p4');
  });

  it('sweeps expired entries explicitly', () => {
    const now = clock();
    const index = new PodIndex({ deletedGraceMs: 100, now: now.now });
    const p = pod('web-0', { containerStatuses: [status('app', A)] });
    index.upsert(p);
    index.remove(p);
    now.advance(100);
    index.sweep();
    expect(index.size.deleted).toBe(0);
  });

  it('revives a removed uid that is upserted again', () => {
    const index = new PodIndex({ now: clock().now });
    const p = pod('web-0', { containerStatuses: [status('app', A)] });
    index.upsert(p);
    index.remove(p);
    index.upsert(p);
    expect(index.byContainerId(A)?.entry.deletedAtMs).toBeUndefined();
    expect(index.size).toEqual({ live: 1, deleted: 0, containerIds: 1 });
  });
});

describe('PodIndex input shapes', () => {
  it('accepts raw watch JSON like typed objects', () => {
    const index = new PodIndex();
    const typed = pod('web-0', { containerStatuses: [status('app', A, { previousId: B })] });
    const raw = toJson(
      pod('api-0', { containerStatuses: [status('app', hexId('raw'), { previousId: hexId('old') })] }),
    );
    index.upsert(typed);
    index.upsert(raw);
    expect(index.byContainerId(hexId('raw').slice(0, 12))?.entry.name).toBe('api-0');
    expect(index.byContainerId(hexId('old'))?.previous).toBe(true);
    expect(index.byContainerId(A.slice(0, 12))?.entry.pod).toBe(typed);
  });

  it('tolerates partial objects', () => {
    const index = new PodIndex();
    index.upsert({});
    index.upsert({
      metadata: { name: 'bare', namespace: 'ns' },
      status: { containerStatuses: [{ containerID: '' }] },
    });
    expect(index.byPodName('ns', 'bare')?.uid).toBe('ns/bare');
    expect(index.size).toEqual({ live: 2, deleted: 0, containerIds: 0 });
  });

  it('matches short non-hex containerd ids whole', () => {
    const index = new PodIndex();
    index.upsert(
      pod('web-0', { containerStatuses: [status('app', 'abc123')] }, { containers: [makeContainer('app')] }),
    );
    expect(index.byContainerId('abc123')?.containerName).toBe('app');
    expect(index.byContainerId('abc')).toBeUndefined();
  });
});
