import { describe, expect, it } from '@jest/globals';
import type { V1Container, V1ObjectMeta, V1Pod, V1PodSpec, V1SecurityContext } from '@kubernetes/client-node';
import {
  evaluatePodSecurity,
  type PodLike,
  PSS_CHECK_IDS,
  type PssViolation,
} from '../../src/kube/pod-security.js';
import {
  makeContainer,
  makePod,
  makeRestrictedContainer,
  makeRestrictedPod,
  toJson,
} from '../fixtures/pods.js';

const APPARMOR_APP = 'container.apparmor.security.beta.kubernetes.io/app';

/** A restricted pod whose single container 'app' has `sc` merged over its restricted settings. */
function podWith(
  sc: V1SecurityContext = {},
  spec: Partial<V1PodSpec> = {},
  annotations?: Record<string, string>,
) {
  return makeRestrictedPod({
    containers: [
      makeContainer('app', {
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, ...sc },
      }),
    ],
    spec,
    ...(annotations ? { annotations } : {}),
  });
}

/** A restricted pod whose container 'app' carries extra (non-securityContext) fields. */
function podWithContainer(extra: Partial<V1Container>) {
  return makeRestrictedPod({
    containers: [
      makeContainer('app', {
        ...extra,
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      }),
    ],
  });
}

function baseline(field: string, check: string, value: string, container?: string): PssViolation {
  return { check, level: 'baseline', field, value, ...(container === undefined ? {} : { container }) };
}

function restricted(field: string, check: string, value: string, container?: string): PssViolation {
  return { check, level: 'restricted', field, value, ...(container === undefined ? {} : { container }) };
}

interface CheckCase {
  check: string;
  pass: PodLike;
  fail: PodLike;
  expected: PssViolation[];
}

const CASES: CheckCase[] = [
  {
    check: 'windowsHostProcess',
    pass: podWith({}, { securityContext: { windowsOptions: { hostProcess: false } } }),
    fail: podWith({ windowsOptions: { hostProcess: true } }),
    expected: [
      baseline(
        'spec.containers[app].securityContext.windowsOptions.hostProcess',
        'windowsHostProcess',
        'true',
        'app',
      ),
    ],
  },
  {
    check: 'hostNamespaces',
    pass: podWith({}, { hostNetwork: false, hostPID: false, hostIPC: false }),
    fail: podWith({}, { hostPID: true }),
    expected: [baseline('spec.hostPID', 'hostNamespaces', 'true')],
  },
  {
    check: 'privileged',
    pass: podWith({ privileged: false }),
    fail: podWith({ privileged: true }),
    expected: [baseline('spec.containers[app].securityContext.privileged', 'privileged', 'true', 'app')],
  },
  {
    check: 'capabilities_baseline',
    pass: podWith({ capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } }),
    fail: podWith({ capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] } }),
    expected: [
      baseline(
        'spec.containers[app].securityContext.capabilities.add',
        'capabilities_baseline',
        'NET_ADMIN',
        'app',
      ),
    ],
  },
  {
    check: 'hostPathVolumes',
    pass: makeRestrictedPod({ spec: { volumes: [{ name: 'cfg', configMap: { name: 'cfg' } }] } }),
    fail: makeRestrictedPod({
      spec: { volumes: [{ name: 'falco-run', hostPath: { path: '/run/falco', type: 'Directory' } }] },
    }),
    expected: [baseline('spec.volumes[falco-run].hostPath', 'hostPathVolumes', '/run/falco')],
  },
  {
    check: 'hostPorts',
    pass: podWithContainer({ ports: [{ containerPort: 8080, hostPort: 0 }, { containerPort: 9090 }] }),
    fail: podWithContainer({ ports: [{ containerPort: 9090 }, { containerPort: 8080, hostPort: 8080 }] }),
    expected: [baseline('spec.containers[app].ports[1].hostPort', 'hostPorts', '8080', 'app')],
  },
  {
    check: 'appArmorProfile',
    pass: podWith(
      { appArmorProfile: { type: 'Localhost', localhostProfile: 'perch' } },
      { securityContext: { appArmorProfile: { type: 'RuntimeDefault' } } },
      {
        [APPARMOR_APP]: 'runtime/default',
        'container.apparmor.security.beta.kubernetes.io/b': 'localhost/x',
      },
    ),
    fail: podWith({}, { securityContext: { appArmorProfile: { type: 'Unconfined' } } }),
    expected: [baseline('spec.securityContext.appArmorProfile.type', 'appArmorProfile', 'Unconfined')],
  },
  {
    check: 'seLinuxOptions',
    pass: podWith(
      { seLinuxOptions: { type: 'container_init_t', level: 's0:c123,c456' } },
      { securityContext: { seLinuxOptions: { type: 'container_t' } } },
    ),
    fail: podWith({ seLinuxOptions: { type: 'spc_t' } }),
    expected: [
      baseline('spec.containers[app].securityContext.seLinuxOptions.type', 'seLinuxOptions', 'spc_t', 'app'),
    ],
  },
  {
    check: 'procMount',
    pass: podWith({ procMount: 'Default' }),
    fail: podWith({ procMount: 'Unmasked' }),
    expected: [baseline('spec.containers[app].securityContext.procMount', 'procMount', 'Unmasked', 'app')],
  },
  {
    check: 'seccompProfile_baseline',
    pass: podWith({ seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/perch.json' } }),
    fail: podWith({ seccompProfile: { type: 'Unconfined' } }),
    expected: [
      baseline(
        'spec.containers[app].securityContext.seccompProfile.type',
        'seccompProfile_baseline',
        'Unconfined',
        'app',
      ),
    ],
  },
  {
    check: 'sysctls',
    pass: podWith(
      {},
      {
        securityContext: {
          sysctls: [
            { name: 'net.ipv4.tcp_syncookies', value: '1' },
            { name: 'net.ipv4.ip_unprivileged_port_start', value: '0' },
          ],
        },
      },
    ),
    fail: podWith({}, { securityContext: { sysctls: [{ name: 'kernel.msgmax', value: '65536' }] } }),
    expected: [baseline('spec.securityContext.sysctls[kernel.msgmax]', 'sysctls', 'kernel.msgmax')],
  },
  {
    check: 'hostProbesAndHostLifecycle',
    pass: podWithContainer({
      livenessProbe: { httpGet: { path: '/healthz', port: 8080 } },
      lifecycle: { preStop: { tcpSocket: { port: 8080, host: '' } } },
    }),
    fail: podWithContainer({ livenessProbe: { httpGet: { path: '/', port: 80, host: '169.254.169.254' } } }),
    expected: [
      baseline(
        'spec.containers[app].livenessProbe.httpGet.host',
        'hostProbesAndHostLifecycle',
        '169.254.169.254',
        'app',
      ),
    ],
  },
  {
    check: 'restrictedVolumes',
    pass: makeRestrictedPod({
      spec: {
        volumes: [
          { name: 'tmp', emptyDir: {} },
          { name: 'token', projected: { sources: [] } },
          { name: 'creds', secret: { secretName: 'creds' } },
          { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
          { name: 'model', image: { reference: 'registry.example/model:1' } },
        ],
      },
    }),
    fail: makeRestrictedPod({
      spec: { volumes: [{ name: 'share', nfs: { server: 'nas', path: '/export' } }] },
    }),
    expected: [restricted('spec.volumes[share].nfs', 'restrictedVolumes', 'nfs')],
  },
  {
    check: 'allowPrivilegeEscalation',
    pass: podWith({ allowPrivilegeEscalation: false }),
    fail: podWith({ allowPrivilegeEscalation: true }),
    expected: [
      restricted(
        'spec.containers[app].securityContext.allowPrivilegeEscalation',
        'allowPrivilegeEscalation',
        'true',
        'app',
      ),
    ],
  },
  {
    check: 'runAsNonRoot',
    pass: podWith({ runAsNonRoot: true }),
    fail: podWith({ runAsNonRoot: false }),
    expected: [
      restricted('spec.containers[app].securityContext.runAsNonRoot', 'runAsNonRoot', 'false', 'app'),
    ],
  },
  {
    check: 'runAsUser',
    pass: podWith({ runAsUser: 1000 }),
    fail: podWith({ runAsUser: 0 }),
    expected: [restricted('spec.containers[app].securityContext.runAsUser', 'runAsUser', '0', 'app')],
  },
  {
    check: 'seccompProfile_restricted',
    pass: podWith(
      { seccompProfile: { type: 'RuntimeDefault' } },
      { securityContext: { seccompProfile: undefined } },
    ),
    fail: podWith({}, { securityContext: { seccompProfile: undefined } }),
    expected: [
      restricted(
        'spec.containers[app].securityContext.seccompProfile.type',
        'seccompProfile_restricted',
        '<unset>',
        'app',
      ),
    ],
  },
  {
    check: 'capabilities_restricted',
    pass: podWith({ capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } }),
    fail: podWith({ capabilities: { drop: ['NET_RAW'], add: ['CHOWN'] } }),
    expected: [
      restricted(
        'spec.containers[app].securityContext.capabilities.drop',
        'capabilities_restricted',
        'NET_RAW',
        'app',
      ),
      restricted(
        'spec.containers[app].securityContext.capabilities.add',
        'capabilities_restricted',
        'CHOWN',
        'app',
      ),
    ],
  },
  {
    check: 'procMount_restricted',
    pass: podWith({ procMount: 'Default' }, { hostUsers: false }),
    fail: podWith({ procMount: 'Unmasked' }, { hostUsers: false }),
    expected: [
      restricted('spec.containers[app].securityContext.procMount', 'procMount_restricted', 'Unmasked', 'app'),
    ],
  },
];

describe('evaluatePodSecurity: one passing and one failing pod per check', () => {
  it('covers every evaluated check id exactly once', () => {
    expect(CASES.map((c) => c.check)).toEqual([...PSS_CHECK_IDS]);
  });

  for (const { check, pass, fail, expected } of CASES) {
    describe(check, () => {
      it('passes', () => {
        expect(evaluatePodSecurity(pass)).toEqual({ level: 'restricted', violations: [] });
      });

      it('fails with the exact violation', () => {
        const level = expected[0]?.level === 'baseline' ? 'privileged' : 'baseline';
        expect(evaluatePodSecurity(fail)).toEqual({ level, violations: expected });
      });
    });
  }
});

describe('evaluatePodSecurity: check details', () => {
  it('reports a pod-level hostProcess', () => {
    const pod = podWith({}, { securityContext: { windowsOptions: { hostProcess: true } } });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      baseline('spec.securityContext.windowsOptions.hostProcess', 'windowsHostProcess', 'true'),
    ]);
  });

  it('reports each host namespace separately', () => {
    const pod = podWith({}, { hostNetwork: true, hostPID: true, hostIPC: true });
    expect(evaluatePodSecurity(pod).violations.map((v) => v.field)).toEqual([
      'spec.hostNetwork',
      'spec.hostPID',
      'spec.hostIPC',
    ]);
  });

  it('reports a forbidden AppArmor annotation against the container it names', () => {
    const pod = podWith({}, {}, { [APPARMOR_APP]: 'unconfined', 'unrelated.example/key': 'unconfined' });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      baseline(`metadata.annotations[${APPARMOR_APP}]`, 'appArmorProfile', 'unconfined', 'app'),
    ]);
  });

  it('reports a container-level AppArmor Unconfined profile', () => {
    const pod = podWith({ appArmorProfile: { type: 'Unconfined' } });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      baseline(
        'spec.containers[app].securityContext.appArmorProfile.type',
        'appArmorProfile',
        'Unconfined',
        'app',
      ),
    ]);
  });

  it('forbids SELinux user and role at pod level', () => {
    const pod = podWith({}, { securityContext: { seLinuxOptions: { user: 'system_u', role: 'system_r' } } });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      baseline('spec.securityContext.seLinuxOptions.user', 'seLinuxOptions', 'system_u'),
      baseline('spec.securityContext.seLinuxOptions.role', 'seLinuxOptions', 'system_r'),
    ]);
  });

  it('reports an unset allowPrivilegeEscalation as <unset>', () => {
    const pod = podWith({ allowPrivilegeEscalation: undefined });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      restricted(
        'spec.containers[app].securityContext.allowPrivilegeEscalation',
        'allowPrivilegeEscalation',
        '<unset>',
        'app',
      ),
    ]);
  });

  it('requires runAsNonRoot on every container when the pod does not set it', () => {
    const pod = makeRestrictedPod({
      containers: [
        makeRestrictedContainer('a'),
        makeRestrictedContainer('b', { securityContext: { runAsNonRoot: undefined } }),
      ],
      spec: { securityContext: { runAsNonRoot: undefined } },
    });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      restricted('spec.containers[b].securityContext.runAsNonRoot', 'runAsNonRoot', '<unset>', 'b'),
    ]);
  });

  it('reports a pod-level runAsUser=0 even when containers override it, as PSA does', () => {
    const pod = podWith({ runAsUser: 1000 }, { securityContext: { runAsUser: 0 } });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      restricted('spec.securityContext.runAsUser', 'runAsUser', '0'),
    ]);
  });

  it('reports a missing drop list as <unset>', () => {
    const pod = podWith({ capabilities: undefined });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      restricted(
        'spec.containers[app].securityContext.capabilities.drop',
        'capabilities_restricted',
        '<unset>',
        'app',
      ),
    ]);
  });

  it('reports a forbidden capability once, at baseline', () => {
    const pod = podWith({ capabilities: { add: ['SYS_ADMIN'] } });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      baseline(
        'spec.containers[app].securityContext.capabilities.add',
        'capabilities_baseline',
        'SYS_ADMIN',
        'app',
      ),
      restricted(
        'spec.containers[app].securityContext.capabilities.drop',
        'capabilities_restricted',
        '<unset>',
        'app',
      ),
    ]);
  });

  it('names the type of any non-core volume', () => {
    const pod = makeRestrictedPod({
      spec: {
        volumes: [
          { name: 'repo', gitRepo: { repository: 'https://example.invalid/x.git' } },
          { name: 'disk', awsElasticBlockStore: { volumeID: 'vol-1' } },
        ],
      },
    });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      restricted('spec.volumes[repo].gitRepo', 'restrictedVolumes', 'gitRepo'),
      restricted('spec.volumes[disk].awsElasticBlockStore', 'restrictedVolumes', 'awsElasticBlockStore'),
    ]);
  });

  it('treats a volume without a source as the emptyDir the API server defaults it to', () => {
    expect(
      evaluatePodSecurity(makeRestrictedPod({ spec: { volumes: [{ name: 'scratch' }] } })).violations,
    ).toEqual([]);
  });

  it('checks lifecycle hooks and tcpSocket probes for a host', () => {
    const pod = podWithContainer({
      readinessProbe: { tcpSocket: { port: 5432, host: 'db.internal' } },
      lifecycle: { postStart: { httpGet: { port: 80, host: '10.0.0.1' } } },
    });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      baseline(
        'spec.containers[app].readinessProbe.tcpSocket.host',
        'hostProbesAndHostLifecycle',
        'db.internal',
        'app',
      ),
      baseline(
        'spec.containers[app].lifecycle.postStart.httpGet.host',
        'hostProbesAndHostLifecycle',
        '10.0.0.1',
        'app',
      ),
    ]);
  });

  it('relaxes runAsNonRoot, runAsUser and baseline procMount for user-namespaced pods', () => {
    const pod = podWith({ runAsUser: 0, runAsNonRoot: false, procMount: 'Unmasked' }, { hostUsers: false });
    expect(evaluatePodSecurity(pod)).toEqual({
      level: 'baseline',
      violations: [
        restricted(
          'spec.containers[app].securityContext.procMount',
          'procMount_restricted',
          'Unmasked',
          'app',
        ),
      ],
    });
  });

  it('exempts Windows pods from the Linux-only restricted checks', () => {
    const pod = makePod({ spec: { os: { name: 'windows' }, securityContext: { runAsNonRoot: true } } });
    expect(evaluatePodSecurity(pod)).toEqual({ level: 'restricted', violations: [] });

    const linux = makePod({ spec: { os: { name: 'linux' }, securityContext: { runAsNonRoot: true } } });
    expect(evaluatePodSecurity(linux).violations.map((v) => v.check)).toEqual([
      'allowPrivilegeEscalation',
      'seccompProfile_restricted',
      'capabilities_restricted',
    ]);
  });
});

describe('evaluatePodSecurity: posture levels', () => {
  it('rates a fully restricted pod restricted', () => {
    expect(evaluatePodSecurity(makeRestrictedPod())).toEqual({ level: 'restricted', violations: [] });
  });

  it('rates a pod failing only restricted checks baseline', () => {
    const posture = evaluatePodSecurity(makePod());
    expect(posture.level).toBe('baseline');
    expect(posture.violations).toEqual([
      restricted(
        'spec.containers[app].securityContext.allowPrivilegeEscalation',
        'allowPrivilegeEscalation',
        '<unset>',
        'app',
      ),
      restricted('spec.containers[app].securityContext.runAsNonRoot', 'runAsNonRoot', '<unset>', 'app'),
      restricted(
        'spec.containers[app].securityContext.seccompProfile.type',
        'seccompProfile_restricted',
        '<unset>',
        'app',
      ),
      restricted(
        'spec.containers[app].securityContext.capabilities.drop',
        'capabilities_restricted',
        '<unset>',
        'app',
      ),
    ]);
  });

  it('rates a Falco-style privileged DaemonSet pod privileged', () => {
    const pod = makePod({
      name: 'falco-x7k2p',
      namespace: 'falco',
      containers: [makeContainer('falco', { securityContext: { privileged: true } })],
      spec: {
        hostNetwork: true,
        hostPID: true,
        volumes: [
          { name: 'proc-fs', hostPath: { path: '/proc' } },
          { name: 'etc-fs', hostPath: { path: '/etc' } },
        ],
      },
    });
    const posture = evaluatePodSecurity(pod);
    expect(posture.level).toBe('privileged');
    expect(posture.violations.length).toBeGreaterThanOrEqual(6);
    expect(posture.violations).toEqual(
      expect.arrayContaining([
        baseline('spec.hostNetwork', 'hostNamespaces', 'true'),
        baseline('spec.hostPID', 'hostNamespaces', 'true'),
        baseline('spec.containers[falco].securityContext.privileged', 'privileged', 'true', 'falco'),
        baseline('spec.volumes[proc-fs].hostPath', 'hostPathVolumes', '/proc'),
        baseline('spec.volumes[etc-fs].hostPath', 'hostPathVolumes', '/etc'),
        restricted('spec.containers[falco].securityContext.runAsNonRoot', 'runAsNonRoot', '<unset>', 'falco'),
      ]),
    );
  });

  it("rates Perch's own DaemonSet pod privileged only because of its hostPath socket volume", () => {
    const pod = makeRestrictedPod({
      containers: [
        makeContainer('correlator', {
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
        }),
      ],
      spec: { volumes: [{ name: 'falco-run', hostPath: { path: '/run/falco', type: 'Directory' } }] },
    });
    expect(evaluatePodSecurity(pod)).toEqual({
      level: 'privileged',
      violations: [baseline('spec.volumes[falco-run].hostPath', 'hostPathVolumes', '/run/falco')],
    });
  });
});

describe('evaluatePodSecurity: pod-level defaults and container overrides', () => {
  it('lets pod-level runAsNonRoot and seccompProfile satisfy containers that omit them', () => {
    const pod = podWith({ runAsNonRoot: undefined, seccompProfile: undefined });
    expect(evaluatePodSecurity(pod).violations).toEqual([]);
  });

  it('lets containers satisfy runAsNonRoot and seccompProfile when the pod does not set them', () => {
    const pod = makePod({ containers: [makeRestrictedContainer('a'), makeRestrictedContainer('b')] });
    expect(evaluatePodSecurity(pod)).toEqual({ level: 'restricted', violations: [] });
  });

  it('reports a container overriding pod-level seccomp with Unconfined', () => {
    const pod = podWith({ seccompProfile: { type: 'Unconfined' } });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      baseline(
        'spec.containers[app].securityContext.seccompProfile.type',
        'seccompProfile_baseline',
        'Unconfined',
        'app',
      ),
    ]);
  });

  it('reports a pod-level Unconfined seccomp once, not again for each inheriting container', () => {
    const pod = podWith({}, { securityContext: { seccompProfile: { type: 'Unconfined' } } });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      baseline('spec.securityContext.seccompProfile.type', 'seccompProfile_baseline', 'Unconfined'),
    ]);
  });

  it('still reports a pod-level runAsNonRoot=false when every container sets true, as PSA does', () => {
    const pod = podWith({ runAsNonRoot: true }, { securityContext: { runAsNonRoot: false } });
    expect(evaluatePodSecurity(pod).violations).toEqual([
      restricted('spec.securityContext.runAsNonRoot', 'runAsNonRoot', 'false'),
    ]);
  });
});

describe('evaluatePodSecurity: init and ephemeral containers', () => {
  it('evaluates init containers and names them in the field path', () => {
    const pod = makeRestrictedPod({
      spec: {
        initContainers: [
          makeContainer('setup', {
            securityContext: {
              privileged: true,
              allowPrivilegeEscalation: false,
              capabilities: { drop: ['ALL'] },
            },
          }),
        ],
      },
    });
    expect(evaluatePodSecurity(pod)).toEqual({
      level: 'privileged',
      violations: [
        baseline('spec.initContainers[setup].securityContext.privileged', 'privileged', 'true', 'setup'),
      ],
    });
  });

  it('evaluates ephemeral debug containers, applying pod-level defaults to them', () => {
    const pod = makeRestrictedPod();
    if (pod.spec)
      pod.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', targetContainerName: 'app' }];
    expect(evaluatePodSecurity(pod)).toEqual({
      level: 'baseline',
      violations: [
        restricted(
          'spec.ephemeralContainers[debugger].securityContext.allowPrivilegeEscalation',
          'allowPrivilegeEscalation',
          '<unset>',
          'debugger',
        ),
        restricted(
          'spec.ephemeralContainers[debugger].securityContext.capabilities.drop',
          'capabilities_restricted',
          '<unset>',
          'debugger',
        ),
      ],
    });
  });

  it('visits init, regular and ephemeral containers in that order', () => {
    const pod = makePod({
      containers: [makeContainer('main', { securityContext: { privileged: true } })],
      spec: {
        initContainers: [makeContainer('init', { securityContext: { privileged: true } })],
        ephemeralContainers: [{ name: 'debug', securityContext: { privileged: true } }],
      },
    });
    expect(
      evaluatePodSecurity(pod)
        .violations.filter((v) => v.check === 'privileged')
        .map((v) => v.field),
    ).toEqual([
      'spec.initContainers[init].securityContext.privileged',
      'spec.containers[main].securityContext.privileged',
      'spec.ephemeralContainers[debug].securityContext.privileged',
    ]);
  });
});

// Stands in for a client-library class instance: a class (so no implicit index signature) whose
// properties are assigned after construction, as ObjectSerializer.deserialize does.
class PodInstance implements V1Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec?: V1PodSpec;
}

describe('evaluatePodSecurity: input shapes', () => {
  const typed: V1Pod = makePod({
    annotations: { [APPARMOR_APP]: 'unconfined' },
    containers: [makeContainer('app', { securityContext: { privileged: true, runAsUser: 0 } })],
    spec: { hostIPC: true, volumes: [{ name: 'logs', hostPath: { path: '/var/log' } }] },
  });

  it('gives the same posture for a typed V1Pod, raw watch JSON and a class instance', () => {
    const fromTyped = evaluatePodSecurity(typed);
    const instance = Object.assign(new PodInstance(), toJson(typed));
    const raw: unknown = JSON.parse(JSON.stringify(typed));

    expect(fromTyped.level).toBe('privileged');
    expect(fromTyped.violations).toHaveLength(9);
    expect(evaluatePodSecurity(raw as PodLike)).toEqual(fromTyped);
    expect(evaluatePodSecurity(instance)).toEqual(fromTyped);
  });

  it('tolerates explicit nulls and undefined source fields', () => {
    const pod: PodLike = {
      metadata: { annotations: null },
      spec: {
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' }, sysctls: null },
        initContainers: null,
        containers: [
          {
            name: 'app',
            ports: null,
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: null } },
          },
        ],
        volumes: [{ name: 'tmp', hostPath: undefined, nfs: null, emptyDir: {} }],
      },
    };
    expect(evaluatePodSecurity(pod)).toEqual({ level: 'restricted', violations: [] });
  });

  it('rates an empty object restricted, having nothing to object to', () => {
    expect(evaluatePodSecurity({})).toEqual({ level: 'restricted', violations: [] });
  });
});

describe('PSS_CHECK_IDS', () => {
  it('lists every check id once', () => {
    expect(new Set(PSS_CHECK_IDS).size).toBe(PSS_CHECK_IDS.length);
    expect([...PSS_CHECK_IDS].sort()).toEqual(
      [
        'allowPrivilegeEscalation',
        'appArmorProfile',
        'capabilities_baseline',
        'capabilities_restricted',
        'hostNamespaces',
        'hostPathVolumes',
        'hostPorts',
        'hostProbesAndHostLifecycle',
        'privileged',
        'procMount',
        'procMount_restricted',
        'restrictedVolumes',
        'runAsNonRoot',
        'runAsUser',
        'seLinuxOptions',
        'seccompProfile_baseline',
        'seccompProfile_restricted',
        'sysctls',
        'windowsHostProcess',
      ].sort(),
    );
  });

  it('is frozen', () => {
    expect(Object.isFrozen(PSS_CHECK_IDS)).toBe(true);
  });
});
