// Pod Security Standards posture of a single pod, mirroring the checks of
// kubernetes/pod-security-admission (policy version "latest"). Perch uses the posture to say, next to a
// Falco alert, how much the offending pod was allowed to do in the first place.
//
// Each offending value is reported once, under the lowest level that forbids it: where a restricted check
// overrides a baseline one in PSA (capabilities, seccomp, volumes, procMount), the restricted check here only
// reports what the baseline check let through, so a privileged pod does not list every value twice.

import { PSS_CHECKS } from './pod-security-checks.js';

export type PssLevel = 'privileged' | 'baseline' | 'restricted';

export interface PssViolation {
  /** pod-security-admission check id, e.g. 'privileged'. */
  check: string;
  /** The level whose check failed. */
  level: 'baseline' | 'restricted';
  /** Container name when the violation is per-container (absent for pod-level). */
  container?: string;
  /** Path of the offending field, e.g. 'spec.containers[app].securityContext.privileged'. */
  field: string;
  /** The offending value rendered short, e.g. 'true', 'NET_ADMIN', 'Unconfined', '<unset>'. */
  value: string;
}

export interface PssPosture {
  level: PssLevel;
  violations: PssViolation[];
}

// The structural types below list only the fields the checks read. Everything is optional and nullable
// because pods arrive both as client-library instances and as raw watch-event JSON, and hand-written or
// partially-populated objects must not make the evaluator throw.

type Maybe<T> = T | null | undefined;

export interface SeLinuxOptionsLike {
  type?: Maybe<string>;
  user?: Maybe<string>;
  role?: Maybe<string>;
}

export interface ProfileLike {
  type?: Maybe<string>;
}

export interface WindowsOptionsLike {
  hostProcess?: Maybe<boolean>;
}

export interface PodSecurityContextLike {
  runAsNonRoot?: Maybe<boolean>;
  runAsUser?: Maybe<number>;
  seccompProfile?: Maybe<ProfileLike>;
  appArmorProfile?: Maybe<ProfileLike>;
  seLinuxOptions?: Maybe<SeLinuxOptionsLike>;
  windowsOptions?: Maybe<WindowsOptionsLike>;
  sysctls?: Maybe<ReadonlyArray<{ name?: Maybe<string> }>>;
}

export interface SecurityContextLike {
  privileged?: Maybe<boolean>;
  allowPrivilegeEscalation?: Maybe<boolean>;
  capabilities?: Maybe<{ add?: Maybe<readonly string[]>; drop?: Maybe<readonly string[]> }>;
  procMount?: Maybe<string>;
  runAsNonRoot?: Maybe<boolean>;
  runAsUser?: Maybe<number>;
  seccompProfile?: Maybe<ProfileLike>;
  appArmorProfile?: Maybe<ProfileLike>;
  seLinuxOptions?: Maybe<SeLinuxOptionsLike>;
  windowsOptions?: Maybe<WindowsOptionsLike>;
}

export interface HostActionLike {
  httpGet?: Maybe<{ host?: Maybe<string> }>;
  tcpSocket?: Maybe<{ host?: Maybe<string> }>;
}

export interface ContainerLike {
  name?: Maybe<string>;
  securityContext?: Maybe<SecurityContextLike>;
  ports?: Maybe<ReadonlyArray<{ hostPort?: Maybe<number> }>>;
  livenessProbe?: Maybe<HostActionLike>;
  readinessProbe?: Maybe<HostActionLike>;
  startupProbe?: Maybe<HostActionLike>;
  lifecycle?: Maybe<{ postStart?: Maybe<HostActionLike>; preStop?: Maybe<HostActionLike> }>;
}

/**
 * A volume: its name plus exactly one source field (hostPath, emptyDir, nfs, ...). Sources are declared
 * individually rather than with an index signature because class instances (V1Volume) have none.
 */
export interface VolumeLike {
  name?: Maybe<string>;
  hostPath?: Maybe<{ path?: Maybe<string> }>;
  awsElasticBlockStore?: unknown;
  azureDisk?: unknown;
  azureFile?: unknown;
  cephfs?: unknown;
  cinder?: unknown;
  configMap?: unknown;
  csi?: unknown;
  downwardAPI?: unknown;
  emptyDir?: unknown;
  ephemeral?: unknown;
  fc?: unknown;
  flexVolume?: unknown;
  flocker?: unknown;
  gcePersistentDisk?: unknown;
  gitRepo?: unknown;
  glusterfs?: unknown;
  image?: unknown;
  iscsi?: unknown;
  nfs?: unknown;
  persistentVolumeClaim?: unknown;
  photonPersistentDisk?: unknown;
  portworxVolume?: unknown;
  projected?: unknown;
  quobyte?: unknown;
  rbd?: unknown;
  scaleIO?: unknown;
  secret?: unknown;
  storageos?: unknown;
  vsphereVolume?: unknown;
}

export interface PodSpecLike {
  hostNetwork?: Maybe<boolean>;
  hostPID?: Maybe<boolean>;
  hostIPC?: Maybe<boolean>;
  hostUsers?: Maybe<boolean>;
  os?: Maybe<{ name?: Maybe<string> }>;
  securityContext?: Maybe<PodSecurityContextLike>;
  initContainers?: Maybe<readonly ContainerLike[]>;
  containers?: Maybe<readonly ContainerLike[]>;
  ephemeralContainers?: Maybe<readonly ContainerLike[]>;
  volumes?: Maybe<readonly VolumeLike[]>;
}

/** The parts of a pod the evaluator reads; `V1Pod` and raw watch JSON both fit. */
export interface PodLike {
  metadata?: Maybe<{ annotations?: Maybe<Readonly<Record<string, string>>> }>;
  spec?: Maybe<PodSpecLike>;
}

/** Every check id evaluated, in evaluation order. */
export const PSS_CHECK_IDS: readonly string[] = Object.freeze(PSS_CHECKS.map((c) => c.id));

export function evaluatePodSecurity(pod: PodLike): PssPosture {
  const violations: PssViolation[] = [];
  for (const check of PSS_CHECKS) {
    for (const finding of check.evaluate(pod)) {
      violations.push({ check: check.id, level: check.level, ...finding });
    }
  }
  return { level: levelOf(violations), violations };
}

function levelOf(violations: readonly PssViolation[]): PssLevel {
  if (violations.some((v) => v.level === 'baseline')) return 'privileged';
  if (violations.length > 0) return 'baseline';
  return 'restricted';
}
