// How strongly a pod's containers are separated from the node kernel, derived from the RuntimeClass handler the
// pod runs under. A Falco alert from a gVisor or Kata pod means something different from one in a runc pod: the
// syscall Falco saw either reached the host kernel (runc) or a sandbox/guest kernel in front of it.
//
// Privilege (hostPID, hostNetwork, privileged, ...) is deliberately not an input here: a privileged runc pod is
// still a `container`, and the Pod Security posture reports the privilege separately. `host` is reserved for
// events Falco attributes to the host itself (`container.id == "host"`), never for pods.

export type Isolation = 'host' | 'container' | 'sandbox' | 'vm' | 'unknown';

/**
 * Handler name → isolation. Keys are exact handler names or prefixes ending in `*`. The empty key is the node's
 * default handler, used by pods without `runtimeClassName`.
 */
export const DEFAULT_HANDLER_ISOLATION: Readonly<Record<string, Isolation>> = Object.freeze({
  // The default handler is runc on practically every Kubernetes node; nodes whose CRI default is something else
  // (e.g. Kata-only nodes) override '' in the config map.
  '': 'container',
  runc: 'container',
  crun: 'container',
  youki: 'container',
  // NVIDIA's container runtime wraps runc to inject GPU devices; the GPU operator installs it as handler `nvidia`.
  nvidia: 'container',
  runsc: 'sandbox',
  gvisor: 'sandbox',
  // Older or hand-made Kata setups use `kata` or `kata-runtime`; kata-deploy names every handler `kata-<vmm>`,
  // including the confidential-computing ones (kata-qemu-snp, kata-qemu-tdx, ...), all of which boot a guest VM.
  kata: 'vm',
  'kata-*': 'vm',
  firecracker: 'vm',
  fc: 'vm',
  clh: 'vm',
  'cloud-hypervisor': 'vm',
});

export interface RuntimeClassLike {
  metadata?: { name?: string };
  handler?: string;
}

export interface IsolationInfo {
  /** The RuntimeClass the pod names; absent for pods using the node's default handler. */
  runtimeClass?: string;
  /** The CRI handler of that RuntimeClass; absent when unknown (default handler or missing class). */
  handler?: string;
  isolation: Isolation;
  /** The pod names a RuntimeClass that is not (or not yet) in the informer cache. */
  missingRuntimeClass?: boolean;
}

/** For events Falco attributes to the host (`container.id == "host"`), which run under no pod at all. */
export const HOST_ISOLATION: Readonly<IsolationInfo> = Object.freeze({ isolation: 'host' });

/**
 * @param runtimeClasses RuntimeClass objects keyed by their metadata.name (the name pods refer to, not the handler).
 * @param handlerMap the user's map already merged over {@link DEFAULT_HANDLER_ISOLATION}.
 */
export function classifyIsolation(
  runtimeClassName: string | undefined | null,
  runtimeClasses: ReadonlyMap<string, RuntimeClassLike>,
  handlerMap: Readonly<Record<string, Isolation>> = DEFAULT_HANDLER_ISOLATION,
): IsolationInfo {
  // Kubernetes treats unset and empty alike: the implicit "legacy" class with the default handler. Which binary
  // that is depends on the node's CRI config, so the handler is not reported rather than guessed as "runc".
  if (!runtimeClassName) return { isolation: matchHandler('', handlerMap) ?? 'unknown' };

  const runtimeClass = runtimeClasses.get(runtimeClassName);
  // Kubelet refuses to start such a pod, so this normally means the RuntimeClass informer is behind or lacks RBAC.
  if (!runtimeClass)
    return { runtimeClass: runtimeClassName, isolation: 'unknown', missingRuntimeClass: true };

  const handler = runtimeClass.handler;
  // The API requires a non-empty handler; an object without one is malformed and says nothing about the runtime.
  if (!handler) return { runtimeClass: runtimeClassName, isolation: 'unknown' };
  return {
    runtimeClass: runtimeClassName,
    handler,
    isolation: matchHandler(handler, handlerMap) ?? 'unknown',
  };
}

/** Exact key first, then the longest matching `prefix*` key, so `kata-qemu-snp*` can refine `kata-*`. */
function matchHandler(
  handler: string,
  handlerMap: Readonly<Record<string, Isolation>>,
): Isolation | undefined {
  // hasOwn keeps handler names such as "constructor" from resolving to Object.prototype members.
  if (Object.hasOwn(handlerMap, handler)) return handlerMap[handler];
  let best: Isolation | undefined;
  let bestLength = -1;
  for (const [key, isolation] of Object.entries(handlerMap)) {
    if (!key.endsWith('*')) continue;
    const prefix = key.slice(0, -1);
    if (prefix.length > bestLength && handler.startsWith(prefix)) {
      best = isolation;
      bestLength = prefix.length;
    }
  }
  return best;
}
