// The Pod Security Standards check table. Ids, levels, fields and allowed values follow
// kubernetes/pod-security-admission policy/check_*.go at policy version "latest".

import type {
  ContainerLike,
  HostActionLike,
  PodLike,
  PodSpecLike,
  ProfileLike,
  PssViolation,
  SeLinuxOptionsLike,
  VolumeLike,
} from './pod-security.js';

export type PssFinding = Omit<PssViolation, 'check' | 'level'>;

export interface PssCheck {
  readonly id: string;
  readonly level: 'baseline' | 'restricted';
  evaluate(pod: PodLike): PssFinding[];
}

const UNSET = '<unset>';

interface VisitedContainer {
  readonly name: string;
  /** e.g. 'spec.initContainers[setup]' */
  readonly path: string;
  readonly container: ContainerLike;
}

// PSA visits init, regular and ephemeral containers in this order (policy/visitor.go); an ephemeral
// container added with `kubectl debug` can be just as privileged as any other.
function visitContainers(spec: PodSpecLike | null | undefined): VisitedContainer[] {
  const visited: VisitedContainer[] = [];
  const lists = [
    ['initContainers', spec?.initContainers],
    ['containers', spec?.containers],
    ['ephemeralContainers', spec?.ephemeralContainers],
  ] as const;
  for (const [key, list] of lists) {
    (list ?? []).forEach((container, index) => {
      const name = container.name ?? `#${index}`;
      visited.push({ name, path: `spec.${key}[${name}]`, container });
    });
  }
  return visited;
}

function perContainer(
  pod: PodLike,
  fn: (c: VisitedContainer) => Array<Omit<PssFinding, 'container'>>,
): PssFinding[] {
  return visitContainers(pod.spec).flatMap((c) => fn(c).map((f) => ({ container: c.name, ...f })));
}

// Windows pods are exempt from a few restricted checks (policy v1.25) because the fields are Linux-only
// and API validation already rejects them on a Windows pod.
function isWindowsPod(pod: PodLike): boolean {
  return pod.spec?.os?.name === 'windows';
}

// With `hostUsers: false` root in the container maps to an unprivileged host uid, so PSA relaxes the
// checks that only matter for host root (relaxPolicyForUserNamespacePod).
function usesUserNamespace(pod: PodLike): boolean {
  return pod.spec?.hostUsers === false;
}

// ---- baseline ----------------------------------------------------------------------------------------

const windowsHostProcess: PssCheck = {
  id: 'windowsHostProcess',
  level: 'baseline',
  evaluate(pod) {
    const findings: PssFinding[] = [];
    if (pod.spec?.securityContext?.windowsOptions?.hostProcess === true) {
      findings.push({ field: 'spec.securityContext.windowsOptions.hostProcess', value: 'true' });
    }
    return findings.concat(
      perContainer(pod, ({ path, container }) =>
        container.securityContext?.windowsOptions?.hostProcess === true
          ? [{ field: `${path}.securityContext.windowsOptions.hostProcess`, value: 'true' }]
          : [],
      ),
    );
  },
};

const hostNamespaces: PssCheck = {
  id: 'hostNamespaces',
  level: 'baseline',
  evaluate(pod) {
    const spec = pod.spec;
    return (['hostNetwork', 'hostPID', 'hostIPC'] as const)
      .filter((key) => spec?.[key] === true)
      .map((key) => ({ field: `spec.${key}`, value: 'true' }));
  },
};

const privileged: PssCheck = {
  id: 'privileged',
  level: 'baseline',
  evaluate: (pod) =>
    perContainer(pod, ({ path, container }) =>
      container.securityContext?.privileged === true
        ? [{ field: `${path}.securityContext.privileged`, value: 'true' }]
        : [],
    ),
};

// The container runtime's default capability set; adding any of these changes nothing.
const BASELINE_CAPABILITIES: ReadonlySet<string> = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

const capabilitiesBaseline: PssCheck = {
  id: 'capabilities_baseline',
  level: 'baseline',
  evaluate: (pod) =>
    perContainer(pod, ({ path, container }) =>
      (container.securityContext?.capabilities?.add ?? [])
        .filter((cap) => !BASELINE_CAPABILITIES.has(cap))
        .map((cap) => ({ field: `${path}.securityContext.capabilities.add`, value: cap })),
    ),
};

const hostPathVolumes: PssCheck = {
  id: 'hostPathVolumes',
  level: 'baseline',
  evaluate: (pod) =>
    volumesOf(pod)
      .filter(({ volume }) => volume.hostPath != null)
      .map(({ path, volume }) => ({ field: `${path}.hostPath`, value: volume.hostPath?.path ?? UNSET })),
};

const hostPorts: PssCheck = {
  id: 'hostPorts',
  level: 'baseline',
  evaluate: (pod) =>
    perContainer(pod, ({ path, container }) =>
      (container.ports ?? []).flatMap((port, index) =>
        port.hostPort != null && port.hostPort !== 0
          ? [{ field: `${path}.ports[${index}].hostPort`, value: String(port.hostPort) }]
          : [],
      ),
    ),
};

const APPARMOR_ANNOTATION_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';

function allowedAppArmorType(profile: ProfileLike | null | undefined): boolean {
  return profile == null || profile.type === 'RuntimeDefault' || profile.type === 'Localhost';
}

// The deprecated annotations spell profiles differently from the field: 'runtime/default', 'localhost/<name>'.
function allowedAppArmorAnnotation(value: string): boolean {
  return value === '' || value === 'runtime/default' || value.startsWith('localhost/');
}

const appArmorProfile: PssCheck = {
  id: 'appArmorProfile',
  level: 'baseline',
  evaluate(pod) {
    const findings: PssFinding[] = [];
    const podProfile = pod.spec?.securityContext?.appArmorProfile;
    if (!allowedAppArmorType(podProfile)) {
      findings.push({ field: 'spec.securityContext.appArmorProfile.type', value: podProfile?.type ?? UNSET });
    }
    findings.push(
      ...perContainer(pod, ({ path, container }) => {
        const profile = container.securityContext?.appArmorProfile;
        return allowedAppArmorType(profile)
          ? []
          : [{ field: `${path}.securityContext.appArmorProfile.type`, value: profile?.type ?? UNSET }];
      }),
    );
    // PSA checks every annotation with the prefix, whether or not such a container exists.
    const annotations = pod.metadata?.annotations ?? {};
    for (const key of Object.keys(annotations).sort()) {
      const value = annotations[key];
      if (!key.startsWith(APPARMOR_ANNOTATION_PREFIX) || value == null || allowedAppArmorAnnotation(value)) {
        continue;
      }
      findings.push({
        container: key.slice(APPARMOR_ANNOTATION_PREFIX.length),
        field: `metadata.annotations[${key}]`,
        value,
      });
    }
    return findings;
  },
};

const SELINUX_TYPES: ReadonlySet<string> = new Set([
  '',
  'container_t',
  'container_init_t',
  'container_kvm_t',
  'container_engine_t',
]);

function seLinuxFindings(
  prefix: string,
  options: SeLinuxOptionsLike | null | undefined,
): Array<Omit<PssFinding, 'container'>> {
  if (options == null) return [];
  const findings: Array<Omit<PssFinding, 'container'>> = [];
  if (options.type != null && !SELINUX_TYPES.has(options.type)) {
    findings.push({ field: `${prefix}.seLinuxOptions.type`, value: options.type });
  }
  for (const key of ['user', 'role'] as const) {
    const value = options[key];
    if (value != null && value !== '') findings.push({ field: `${prefix}.seLinuxOptions.${key}`, value });
  }
  return findings;
}

const seLinuxOptions: PssCheck = {
  id: 'seLinuxOptions',
  level: 'baseline',
  evaluate: (pod) => [
    ...seLinuxFindings('spec.securityContext', pod.spec?.securityContext?.seLinuxOptions),
    ...perContainer(pod, ({ path, container }) =>
      seLinuxFindings(`${path}.securityContext`, container.securityContext?.seLinuxOptions),
    ),
  ],
};

function procMountFindings(pod: PodLike): PssFinding[] {
  return perContainer(pod, ({ path, container }) => {
    const procMount = container.securityContext?.procMount;
    return procMount != null && procMount !== 'Default'
      ? [{ field: `${path}.securityContext.procMount`, value: procMount }]
      : [];
  });
}

const procMount: PssCheck = {
  id: 'procMount',
  level: 'baseline',
  // An unmasked /proc inside a user namespace exposes nothing of the host's.
  evaluate: (pod) => (usesUserNamespace(pod) ? [] : procMountFindings(pod)),
};

function validSeccompType(profile: ProfileLike): boolean {
  return profile.type === 'RuntimeDefault' || profile.type === 'Localhost';
}

const seccompProfileBaseline: PssCheck = {
  id: 'seccompProfile_baseline',
  level: 'baseline',
  evaluate(pod) {
    const findings: PssFinding[] = [];
    const podProfile = pod.spec?.securityContext?.seccompProfile;
    if (podProfile != null && !validSeccompType(podProfile)) {
      findings.push({ field: 'spec.securityContext.seccompProfile.type', value: podProfile.type ?? UNSET });
    }
    return findings.concat(
      perContainer(pod, ({ path, container }) => {
        const profile = container.securityContext?.seccompProfile;
        return profile != null && !validSeccompType(profile)
          ? [{ field: `${path}.securityContext.seccompProfile.type`, value: profile.type ?? UNSET }]
          : [];
      }),
    );
  },
};

// Namespaced sysctls that cannot affect other pods; the list is the union of every policy version.
const SAFE_SYSCTLS: ReadonlySet<string> = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
  'net.ipv4.tcp_slow_start_after_idle',
  'net.ipv4.tcp_notsent_lowat',
]);

const sysctls: PssCheck = {
  id: 'sysctls',
  level: 'baseline',
  evaluate: (pod) =>
    (pod.spec?.securityContext?.sysctls ?? [])
      .map((sysctl) => sysctl.name ?? '')
      .filter((name) => !SAFE_SYSCTLS.has(name))
      .map((name) => ({ field: `spec.securityContext.sysctls[${name}]`, value: name })),
};

// A probe or lifecycle hook with a host lets the kubelet reach arbitrary addresses on the pod's behalf.
const hostProbesAndHostLifecycle: PssCheck = {
  id: 'hostProbesAndHostLifecycle',
  level: 'baseline',
  evaluate: (pod) =>
    perContainer(pod, ({ path, container }) => {
      const handlers: Array<[string, HostActionLike | null | undefined]> = [
        ['livenessProbe', container.livenessProbe],
        ['readinessProbe', container.readinessProbe],
        ['startupProbe', container.startupProbe],
        ['lifecycle.postStart', container.lifecycle?.postStart],
        ['lifecycle.preStop', container.lifecycle?.preStop],
      ];
      return handlers.flatMap(([key, handler]) =>
        (['httpGet', 'tcpSocket'] as const).flatMap((action) => {
          const host = handler?.[action]?.host;
          return host != null && host !== '' ? [{ field: `${path}.${key}.${action}.host`, value: host }] : [];
        }),
      );
    }),
};

// ---- restricted --------------------------------------------------------------------------------------

interface VisitedVolume {
  readonly path: string;
  readonly volume: VolumeLike;
}

function volumesOf(pod: PodLike): VisitedVolume[] {
  return (pod.spec?.volumes ?? []).map((volume, index) => ({
    path: `spec.volumes[${volume.name ?? `#${index}`}]`,
    volume,
  }));
}

const RESTRICTED_VOLUME_SOURCES: ReadonlySet<string> = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'image',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

function volumeSource(volume: VolumeLike): string | undefined {
  return Object.entries(volume).find(([key, value]) => key !== 'name' && value != null)?.[0];
}

const restrictedVolumes: PssCheck = {
  id: 'restrictedVolumes',
  level: 'restricted',
  evaluate: (pod) =>
    volumesOf(pod).flatMap(({ path, volume }) => {
      const source = volumeSource(volume);
      // No source at all is what the API server defaults to emptyDir. hostPath is left to hostPathVolumes,
      // which restrictedVolumes overrides in PSA, so it is reported once, at baseline.
      if (source === undefined || source === 'hostPath' || RESTRICTED_VOLUME_SOURCES.has(source)) return [];
      return [{ field: `${path}.${source}`, value: source }];
    }),
};

const allowPrivilegeEscalation: PssCheck = {
  id: 'allowPrivilegeEscalation',
  level: 'restricted',
  evaluate: (pod) =>
    isWindowsPod(pod)
      ? []
      : perContainer(pod, ({ path, container }) => {
          const value = container.securityContext?.allowPrivilegeEscalation;
          // Unset means allowed (the kernel's no_new_privs stays off), so only an explicit false passes.
          return value === false
            ? []
            : [
                {
                  field: `${path}.securityContext.allowPrivilegeEscalation`,
                  value: value == null ? UNSET : 'true',
                },
              ];
        }),
};

const runAsNonRoot: PssCheck = {
  id: 'runAsNonRoot',
  level: 'restricted',
  evaluate(pod) {
    if (usesUserNamespace(pod)) return [];
    const findings: PssFinding[] = [];
    const podValue = pod.spec?.securityContext?.runAsNonRoot;
    if (podValue === false) findings.push({ field: 'spec.securityContext.runAsNonRoot', value: 'false' });
    return findings.concat(
      perContainer(pod, ({ path, container }) => {
        const value = container.securityContext?.runAsNonRoot;
        const field = `${path}.securityContext.runAsNonRoot`;
        if (value === false) return [{ field, value: 'false' }];
        // An unset container inherits the pod value; a pod-level false is already reported above.
        if (value == null && podValue == null) return [{ field, value: UNSET }];
        return [];
      }),
    );
  },
};

const runAsUser: PssCheck = {
  id: 'runAsUser',
  level: 'restricted',
  evaluate(pod) {
    if (usesUserNamespace(pod)) return [];
    const findings: PssFinding[] = [];
    // PSA flags a pod-level 0 even when every container overrides it.
    if (pod.spec?.securityContext?.runAsUser === 0) {
      findings.push({ field: 'spec.securityContext.runAsUser', value: '0' });
    }
    return findings.concat(
      perContainer(pod, ({ path, container }) =>
        container.securityContext?.runAsUser === 0
          ? [{ field: `${path}.securityContext.runAsUser`, value: '0' }]
          : [],
      ),
    );
  },
};

const seccompProfileRestricted: PssCheck = {
  id: 'seccompProfile_restricted',
  level: 'restricted',
  // Explicitly forbidden types are reported by seccompProfile_baseline; what restricted adds is that a
  // profile must be set at all, on the pod or on every container.
  evaluate: (pod) =>
    isWindowsPod(pod) || pod.spec?.securityContext?.seccompProfile != null
      ? []
      : perContainer(pod, ({ path, container }) =>
          container.securityContext?.seccompProfile == null
            ? [{ field: `${path}.securityContext.seccompProfile.type`, value: UNSET }]
            : [],
        ),
};

const capabilitiesRestricted: PssCheck = {
  id: 'capabilities_restricted',
  level: 'restricted',
  evaluate: (pod) =>
    isWindowsPod(pod)
      ? []
      : perContainer(pod, ({ path, container }) => {
          const caps = container.securityContext?.capabilities;
          const findings: Array<Omit<PssFinding, 'container'>> = [];
          const drop = caps?.drop ?? [];
          if (!drop.includes('ALL')) {
            findings.push({
              field: `${path}.securityContext.capabilities.drop`,
              value: drop.length === 0 ? UNSET : drop.join(','),
            });
          }
          // Capabilities outside the default set are already reported by capabilities_baseline.
          for (const cap of caps?.add ?? []) {
            if (cap !== 'NET_BIND_SERVICE' && BASELINE_CAPABILITIES.has(cap)) {
              findings.push({ field: `${path}.securityContext.capabilities.add`, value: cap });
            }
          }
          return findings;
        }),
};

const procMountRestricted: PssCheck = {
  id: 'procMount_restricted',
  level: 'restricted',
  // Restricted forbids a non-default procMount even with a user namespace; without one, the baseline
  // procMount check has already reported it.
  evaluate: (pod) => (usesUserNamespace(pod) ? procMountFindings(pod) : []),
};

export const PSS_CHECKS: readonly PssCheck[] = Object.freeze([
  windowsHostProcess,
  hostNamespaces,
  privileged,
  capabilitiesBaseline,
  hostPathVolumes,
  hostPorts,
  appArmorProfile,
  seLinuxOptions,
  procMount,
  seccompProfileBaseline,
  sysctls,
  hostProbesAndHostLifecycle,
  restrictedVolumes,
  allowPrivilegeEscalation,
  runAsNonRoot,
  runAsUser,
  seccompProfileRestricted,
  capabilitiesRestricted,
  procMountRestricted,
]);
