import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { type RuntimeImage, runtimeImage } from './dockerfile-image.js';
import { expandReferences, resourceFieldValue } from './kubelet-env.js';
import type { K8sObject } from './kustomize.js';
import { containerMounts, type Mount, type MountOptions } from './pod-mounts.js';
import { type ContainerSpec, daemonSetPod, dataOf, onlyContainer, type PodSpec } from './pod-spec.js';

export const BWRAP = '/usr/bin/bwrap';
const SETPRIV = '/usr/bin/setpriv';
/** The distroless base image's PATH (the Dockerfile does not set one). */
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface PodSandboxOptions extends MountOptions {
  objects: K8sObject[];
  /** Values of the downward-API fields the container's env refers to, such as spec.nodeName. */
  fieldRefs?: Record<string, string>;
  /** What the kubelet adds to every container: KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT. */
  kubeletEnv?: Record<string, string>;
  /** The container's arguments, changed (run → check); by default exactly as rendered. */
  args?: (args: string[]) => string[];
}

/**
 * Perch from this checkout, run as the DaemonSet's container would run it: the image's entrypoint
 * and files (read from the Dockerfile), the container's args, env and mounts (read from the rendered
 * manifests), a read-only root filesystem with only the emptyDirs writable, its uid and groups, no
 * capabilities, PID 1 of its own PID namespace. The network is the host's: no pod IP here.
 *
 * Run as root, the sandbox first drops to the pod's uid and groups (setpriv), so that files on the
 * host are checked against that uid as they would be on the node; run as another user, it is that
 * user outside and the pod's uid inside, without the pod's supplementary groups.
 */
export class PodSandbox {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  /** The host PID of the container's PID 1 (Perch), to signal it as the kubelet would. */
  readonly pid: Promise<number>;

  constructor(options: PodSandboxOptions) {
    const [file, ...argv] = sandboxCommand(options);
    if (!file) throw new Error('empty sandbox command');
    this.child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    let info = '';
    this.pid = new Promise((resolve, reject) => {
      const infoPipe = this.child.stdio[3] as Readable;
      infoPipe.on('data', (d: Buffer) => {
        info += d.toString();
        const pid = /"child-pid":\s*(\d+)/.exec(info)?.[1];
        if (pid) resolve(Number(pid));
      });
      infoPipe.on('end', () => reject(new Error(`the sandbox did not start:\n${this.stderr}`)));
    });
    this.pid.catch(() => undefined);
  }

  /** What a pod deletion does: SIGTERM to PID 1; then the exit code. */
  async terminate(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    process.kill(await this.pid, 'SIGTERM');
    return this.exited;
  }

  stdoutLines(): string[] {
    return this.stdout.split('\n').filter((l) => l.trim() !== '');
  }
}

/** Runs the container's command to its end (a `perch check`, say) and returns its output. */
export async function runInPod(options: PodSandboxOptions) {
  const sandbox = new PodSandbox(options);
  const code = await sandbox.exited;
  return { code, stdout: sandbox.stdout, stderr: sandbox.stderr };
}

/** The whole command line: [setpriv …] bwrap … -- entrypoint args. */
export function sandboxCommand(options: PodSandboxOptions): string[] {
  if (!existsSync(BWRAP)) {
    throw new Error(`${BWRAP} is missing: install it with apt-get install -y bubblewrap (CI's .ci/run does)`);
  }
  const image = runtimeImage();
  const pod = daemonSetPod(options.objects);
  const container = onlyContainer(pod);
  const { uid, gid, groups } = identity(pod, container, image);
  const command = container.command ?? image.entrypoint;
  const args = container.args ?? (container.command ? [] : image.cmd);
  const env = containerEnv(options, container, image);
  const dropPrivileges =
    process.getuid?.() === 0
      ? [
          SETPRIV,
          `--reuid=${uid}`,
          `--regid=${gid}`,
          groups.length > 0 ? `--groups=${groups.join(',')}` : '--clear-groups',
          '--',
        ]
      : [];
  return [
    ...dropPrivileges,
    BWRAP,
    '--die-with-parent',
    '--unshare-user',
    '--uid',
    String(uid),
    '--gid',
    String(gid),
    '--unshare-pid',
    '--as-pid-1',
    '--unshare-ipc',
    '--unshare-uts',
    '--hostname',
    'perch-pod',
    '--cap-drop',
    'ALL',
    '--clearenv',
    ...Object.entries(env).flatMap(([name, value]) => ['--setenv', name, value]),
    ...imageFilesystem(image, command),
    ...containerMounts(options.objects, pod, container, options).flatMap(mountArgs),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    // Last: everything mounted so far stays as mounted, the root itself becomes read-only.
    '--remount-ro',
    '/',
    '--chdir',
    image.workdir,
    '--info-fd',
    '3',
    '--',
    ...command,
    ...(options.args ? options.args(args) : args),
  ];
}

/** The pod's uid, gid and supplementary groups, refusing what the sandbox could not honour. */
function identity(pod: PodSpec, container: ContainerSpec, image: RuntimeImage) {
  const security = container.securityContext ?? {};
  const [imageUid, imageGid] = (image.user ?? '0:0').split(':').map(Number);
  const uid = security.runAsUser ?? pod.securityContext?.runAsUser ?? imageUid ?? 0;
  const gid = security.runAsGroup ?? pod.securityContext?.runAsGroup ?? imageGid ?? 0;
  if (uid === 0) throw new Error('the container runs as root: this sandbox emulates non-root pods only');
  if (security.readOnlyRootFilesystem !== true)
    throw new Error('the container has a writable root filesystem: this sandbox makes it read-only');
  if (!security.capabilities?.drop?.includes('ALL') || (security.capabilities.add?.length ?? 0) > 0)
    throw new Error('the container keeps capabilities: this sandbox drops them all');
  const fsGroup = pod.securityContext?.fsGroup;
  const groups = [
    ...new Set([
      ...(fsGroup === undefined ? [] : [fsGroup]),
      ...(pod.securityContext?.supplementalGroups ?? []),
    ]),
  ];
  return { uid, gid, groups };
}

/** The env the container starts with: the image's, the kubelet's, envFrom, then env (which wins). */
function containerEnv(options: PodSandboxOptions, container: ContainerSpec, image: RuntimeImage) {
  const env: Record<string, string> = {
    PATH: IMAGE_PATH,
    ...image.env,
    HOSTNAME: 'perch-pod',
    ...options.kubeletEnv,
  };
  for (const from of container.envFrom ?? []) {
    const ref = from.secretRef ?? from.configMapRef;
    if (!ref) throw new Error('envFrom: only secretRef and configMapRef are emulated');
    const data = dataOf(options.objects, from.secretRef ? 'Secret' : 'ConfigMap', ref.name);
    if (!data && !ref.optional) throw new Error(`envFrom ${ref.name}: not in the rendering and not optional`);
    for (const [name, value] of Object.entries(data ?? {})) env[`${from.prefix ?? ''}${name}`] = value;
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      env[variable.name] = expandReferences(variable.value ?? '', env);
      continue;
    }
    if (from.resourceFieldRef) {
      env[variable.name] = resourceFieldValue(container.resources, from.resourceFieldRef);
      continue;
    }
    if (from.fieldRef) {
      const value = options.fieldRefs?.[from.fieldRef.fieldPath];
      if (value === undefined)
        throw new Error(`env ${variable.name}: give fieldRefs["${from.fieldRef.fieldPath}"]`);
      env[variable.name] = value;
      continue;
    }
    const ref = from.secretKeyRef ?? from.configMapKeyRef;
    const value =
      ref && dataOf(options.objects, from.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name)?.[ref.key];
    if (value !== undefined) env[variable.name] = value;
    else if (!ref?.optional) throw new Error(`env ${variable.name}: its source is not in the rendering`);
  }
  return env;
}

/**
 * The image's root filesystem: the host's system directories stand in for the distroless base
 * (its node and C library), the Dockerfile's COPY lines are bound from this checkout (dist is
 * `npm run build`'s output), and the kubelet's /etc/hosts and /etc/resolv.conf.
 */
function imageFilesystem(image: RuntimeImage, command: string[]): string[] {
  const args: string[] = [];
  for (const top of ['/usr', '/lib', '/lib64', '/bin', '/sbin']) {
    if (!existsSync(top)) continue;
    if (lstatSync(top).isSymbolicLink()) args.push('--symlink', readlinkSync(top), top);
    else args.push('--ro-bind', top, top);
  }
  for (const file of ['/etc/hosts', '/etc/resolv.conf']) args.push('--ro-bind-try', file, file);
  for (const copy of image.copies) {
    if (!existsSync(copy.source))
      throw new Error(`${copy.source} is missing (the image copies it): npm run build`);
    if (process.getuid?.() === 0) assertOthersCanRead(copy.source);
    args.push('--ro-bind', copy.source, copy.dest);
  }
  const [entrypoint] = command;
  if (entrypoint && !image.copies.some((c) => entrypoint.startsWith(c.dest))) {
    // The base image's node: this Node, the one the native modules were built for.
    if (!entrypoint.endsWith('/node'))
      throw new Error(`entrypoint ${entrypoint}: not a node binary to stand in for`);
    args.push('--ro-bind', process.execPath, entrypoint);
  }
  return args;
}

/**
 * Dropped to the pod's uid, the sandbox reads this checkout as "others" do: a checkout under a
 * private home directory (mode 0700) cannot work, and saying so beats an EACCES from inside.
 */
function assertOthersCanRead(path: string): void {
  const real = realpathSync(path);
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0)
      throw new Error(
        `${dir} is not searchable by other users (mode ${(statSync(dir).mode & 0o777).toString(8)}): the pod's uid cannot reach ${real}; chmod o+x it or work from another checkout`,
      );
    if (dir === dirname(dir)) break;
  }
  if ((statSync(real).mode & 0o004) === 0)
    throw new Error(`${real} is not readable by other users: the pod's uid cannot read it`);
}

function mountArgs(mount: Mount): string[] {
  if (mount.kind === 'tmpfs')
    return [...(mount.sizeBytes ? ['--size', String(mount.sizeBytes)] : []), '--tmpfs', mount.mountPath];
  return [mount.readOnly ? '--ro-bind' : '--bind', mount.source, mount.mountPath];
}
