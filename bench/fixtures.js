// Synthetic but realistic inputs for the benchmarks: a `kubectl get pods,runtimeclasses -o json` dump of
// 300 pods (100 Deployments × 3 replicas in 10 namespaces, on one node) and ~1 KB Falco JSON alerts whose
// `container.id` points at those pods, as Falco's http_output / json_output would send them.

import { writeFileSync } from 'node:fs';

export const NODE_NAME = 'bench-node';
export const NAMESPACES = 10;
export const DEPLOYMENTS = 100;
export const REPLICAS = 3;
export const POD_COUNT = DEPLOYMENTS * REPLICAS;

/** Ten stable Falco rules with the priority Falco gives them and a representative output. */
export const RULES = [
  {
    rule: 'Terminal shell in container',
    priority: 'Notice',
    tags: ['T1059', 'container', 'maturity_stable', 'mitre_execution', 'shell'],
    text: 'A shell was spawned in a container with an attached terminal',
    evtType: 'execve',
    proc: ['bash', '/bin/bash', 'runc', 'bash'],
  },
  {
    rule: 'Read sensitive file untrusted',
    priority: 'Warning',
    tags: ['T1555', 'container', 'filesystem', 'host', 'maturity_stable', 'mitre_credential_access'],
    text: 'Sensitive file opened for reading by non-trusted program',
    evtType: 'openat',
    proc: ['cat', '/usr/bin/cat', 'bash', 'cat /etc/shadow'],
  },
  {
    rule: 'Contact K8S API Server From Container',
    priority: 'Notice',
    tags: ['T1565', 'container', 'k8s', 'maturity_stable', 'mitre_discovery', 'network'],
    text: 'Unexpected connection to K8s API Server from container',
    evtType: 'connect',
    proc: ['curl', '/usr/bin/curl', 'sh', 'curl -sk https://10.96.0.1/api'],
  },
  {
    rule: 'Drop and execute new binary in container',
    priority: 'Critical',
    tags: ['PCI_DSS_11.5.1', 'TA0003', 'container', 'maturity_stable', 'mitre_persistence', 'process'],
    text: 'Executing binary not part of base image',
    evtType: 'execve',
    proc: ['xmrig', '/tmp/xmrig', 'sh', '/tmp/xmrig --donate-level 1'],
  },
  {
    rule: 'Run shell untrusted',
    priority: 'Notice',
    tags: ['T1059.004', 'container', 'host', 'maturity_stable', 'mitre_execution', 'process', 'shell'],
    text: 'Shell spawned by untrusted binary',
    evtType: 'execve',
    proc: ['sh', '/bin/sh', 'node', 'sh -c id'],
  },
  {
    rule: 'Redirect STDOUT/STDIN to Network Connection in Container',
    priority: 'Notice',
    tags: ['T1059', 'container', 'maturity_stable', 'mitre_execution', 'network', 'process'],
    text: 'Redirect stdout/stdin to network connection',
    evtType: 'dup2',
    proc: ['bash', '/bin/bash', 'python3', 'bash -i'],
  },
  {
    rule: 'Search Private Keys or Passwords',
    priority: 'Warning',
    tags: ['T1552.001', 'container', 'filesystem', 'host', 'maturity_stable', 'mitre_credential_access'],
    text: 'Grep private keys or passwords activities found',
    evtType: 'execve',
    proc: ['grep', '/usr/bin/grep', 'bash', 'grep -r BEGIN RSA PRIVATE /'],
  },
  {
    rule: 'Clear Log Activities',
    priority: 'Warning',
    tags: ['NIST_800-53_AU-10', 'T1070', 'container', 'filesystem', 'host', 'maturity_stable'],
    text: 'Log files were tampered',
    evtType: 'openat',
    proc: ['truncate', '/usr/bin/truncate', 'bash', 'truncate -s0 /var/log/app.log'],
  },
  {
    rule: 'Packet socket created in container',
    priority: 'Notice',
    tags: ['T1557.002', 'container', 'maturity_stable', 'mitre_credential_access', 'network'],
    text: 'Packet socket was created in a container',
    evtType: 'socket',
    proc: ['tcpdump', '/usr/sbin/tcpdump', 'bash', 'tcpdump -i eth0'],
  },
  {
    rule: 'Launch Package Management Process in Container',
    priority: 'Error',
    tags: ['T1505', 'container', 'maturity_incubating', 'mitre_persistence', 'process', 'software_mgmt'],
    text: 'Package management process launched in container',
    evtType: 'execve',
    proc: ['apt-get', '/usr/bin/apt-get', 'bash', 'apt-get install -y netcat'],
  },
];

const hex = (n, width) => n.toString(16).padStart(width, '0').slice(-width);

/** The 64-hex container id of pod `i` (Falco reports its first 12 characters). */
export function containerFullId(i) {
  let id = '';
  for (let k = 0; id.length < 64; k++) id += hex(Math.imul(i + 1, 2654435761 + k * 40503) >>> 0, 8);
  return id.slice(0, 64);
}

export function podOf(i) {
  const d = i % DEPLOYMENTS;
  const replica = Math.floor(i / DEPLOYMENTS);
  const app = `app-${String(d).padStart(2, '0')}`;
  const hash = hex(Math.imul(d + 7, 0x9e3779b1) >>> 0, 8)
    .slice(0, 9)
    .replace(/^(\d)/, 'b$1');
  return {
    index: i,
    app,
    namespace: `ns-${d % NAMESPACES}`,
    replicaSet: `${app}-${hash}`,
    name: `${app}-${hash}-${hex(Math.imul(replica + 1, i + 11) >>> 0, 5)}${replica}`,
    container: 'main',
    containerId: containerFullId(i),
    image: `registry.example.com/team-${d % NAMESPACES}/${app}`,
    tag: `1.${d % 7}.${replica}`,
    privileged: d % 10 === 0,
    runtimeClass: d % 10 === 5 ? 'gvisor' : undefined,
  };
}

/** The cluster dump: 300 pods plus the gVisor RuntimeClass some of them use. */
export function clusterDump() {
  const items = [];
  for (let i = 0; i < POD_COUNT; i++) {
    const p = podOf(i);
    items.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: p.name,
        namespace: p.namespace,
        uid: `uid-${p.name}`,
        resourceVersion: '1000',
        creationTimestamp: '2026-11-20T08:00:00Z',
        labels: {
          'app.kubernetes.io/name': p.app,
          team: `team-${p.index % NAMESPACES}`,
          'pod-template-hash': p.replicaSet.slice(p.app.length + 1),
        },
        ownerReferences: [
          {
            kind: 'ReplicaSet',
            name: p.replicaSet,
            apiVersion: 'apps/v1',
            controller: true,
            uid: `uid-${p.replicaSet}`,
          },
        ],
      },
      spec: {
        nodeName: NODE_NAME,
        serviceAccountName: p.app,
        ...(p.runtimeClass ? { runtimeClassName: p.runtimeClass } : {}),
        containers: [
          {
            name: p.container,
            image: `${p.image}:${p.tag}`,
            ...(p.privileged
              ? { securityContext: { privileged: true } }
              : { securityContext: { runAsNonRoot: true } }),
          },
        ],
        ...(p.privileged ? { hostPID: true } : {}),
      },
      status: {
        phase: 'Running',
        containerStatuses: [
          {
            name: p.container,
            image: `${p.image}:${p.tag}`,
            containerID: `containerd://${p.containerId}`,
            ready: true,
            restartCount: 0,
            state: { running: { startedAt: '2026-11-20T08:00:00Z' } },
          },
        ],
      },
    });
  }
  items.push({
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name: 'gvisor' },
    handler: 'runsc',
  });
  return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items };
}

export function writeClusterDump(path) {
  writeFileSync(path, JSON.stringify(clusterDump()));
  return path;
}

const BASE_NS = 1795166102000000000n;

/** A small deterministic PRNG (mulberry32), so every run sends the same alerts. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function timeText(ns) {
  const ms = Number(ns / 1_000_000n);
  const iso = new Date(ms).toISOString().slice(0, 19);
  return {
    iso: `${iso}.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`,
    clock: `${iso.slice(11)}.${String(ns % 1_000_000_000n).padStart(9, '0')}`,
  };
}

/**
 * Falco alert number `n` as the JSON text Falco sends (about 1.1 KB, 19 output fields).
 * `options.seq` puts a marker in the output (latency runs find the alert in the sink's line by it);
 * `options.pid` sets proc.pid (a dedup key part in the latency and memory runs);
 * `options.cmdline` overrides proc.cmdline; `options.timeNs` the event time.
 */
export function alertJson(n, options = {}) {
  const random = prng(n * 7919 + 17);
  const pod = podOf(Math.floor(random() * POD_COUNT));
  const r = RULES[Math.floor(random() * RULES.length)];
  const ns = options.timeNs ?? BASE_NS + BigInt(n) * 100_000n;
  const t = timeText(ns);
  const [name, exepath, pname, cmdlineDefault] = r.proc;
  const cmdline = options.cmdline ?? cmdlineDefault;
  const pid = options.pid ?? 1000 + (n % 50_000);
  const cid = pod.containerId.slice(0, 12);
  const marker = options.seq === undefined ? '' : ` seq=${options.seq}`;
  const output =
    `${t.clock}: ${r.priority} ${r.text} |${marker} evt_type=${r.evtType} user=root user_uid=0 user_loginuid=-1 ` +
    `process=${name} proc_exepath=${exepath} parent=${pname} command=${cmdline} terminal=34816 ` +
    `container_id=${cid} container_name=${pod.container} container_image_repository=${pod.image} ` +
    `container_image_tag=${pod.tag} k8s_pod_name=${pod.name} k8s_ns_name=${pod.namespace}`;
  return JSON.stringify({
    hostname: NODE_NAME,
    output,
    output_fields: {
      'container.id': cid,
      'container.image.repository': pod.image,
      'container.image.tag': pod.tag,
      'container.name': pod.container,
      'evt.arg.flags': 'O_RDONLY',
      // Falco writes evt.time as a bare integer beyond 2^53; keep it that way on the wire.
      'evt.time': '@@EVT_TIME@@',
      'evt.type': r.evtType,
      'fd.name': '/etc/shadow',
      'k8s.ns.name': pod.namespace,
      'k8s.pod.name': pod.name,
      'proc.cmdline': cmdline,
      'proc.exepath': exepath,
      'proc.name': name,
      'proc.pid': pid,
      'proc.pname': pname,
      'proc.tty': 34816,
      'user.loginuid': -1,
      'user.name': 'root',
      'user.uid': 0,
    },
    priority: r.priority,
    rule: r.rule,
    source: 'syscall',
    tags: r.tags,
    time: t.iso,
  }).replace('"@@EVT_TIME@@"', String(ns));
}
