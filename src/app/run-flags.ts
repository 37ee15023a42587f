import { Option } from 'commander';

type Tree = Record<string, unknown>;

/**
 * One `perch run` flag: how commander parses it and what it sets in the config tree. Both the
 * command line and the overrides come from this table, so a flag cannot be documented and handled
 * without being accepted (or the reverse).
 */
export interface RunFlag<V> {
  /** commander's syntax; its long name in camelCase is the key of the table. */
  readonly option: string;
  readonly help: string;
  /** Sets the value in the raw config tree, before validation; absent for the file itself. */
  readonly apply?: (tree: Tree, value: V) => void;
  /** Names an input: without a config file, the default HTTP input gives way to it. */
  readonly namesInput?: boolean;
}

const flag = <V>(spec: RunFlag<V>): RunFlag<V> => spec;

export const RUN_FLAGS = {
  config: flag<string>({
    option: '-c, --config <file>',
    help: 'perch.yaml (without one, Perch runs on defaults)',
  }),
  listen: flag<string>({
    option: '--listen <host:port>',
    help: 'server.listen: address of the HTTP server (ingest, /metrics, /healthz, /readyz)',
    apply: (tree, value) => {
      section(tree, 'server').listen = value;
    },
  }),
  stdin: flag<boolean>({
    option: '--stdin',
    help: 'sources.stdin: read JSON alerts from standard input: falco -o json_output=true | perch run --stdin',
    namesInput: true,
    apply: (tree) => {
      section(sources(tree), 'stdin').enabled = true;
    },
  }),
  file: flag<string[]>({
    option: '--file <path...>',
    help: "sources.files: follow Falco's file_output (JSON lines), like tail -F",
    namesInput: true,
    apply: (tree, paths) => {
      const inputs = sources(tree);
      const files = Array.isArray(inputs.files) ? inputs.files : [];
      inputs.files = [...files, ...paths.map((path) => ({ path }))];
    },
  }),
  grpc: flag<string>({
    option: '--grpc <address>',
    help: "sources.grpc: read Falco's (≤ 0.43) gRPC output at unix:///path or HOST:PORT (with the --grpc-ca/-cert/-key files)",
    namesInput: true,
    apply: (tree, address) => {
      const grpc = section(sources(tree), 'grpc');
      grpc.enabled = true;
      grpc.address = address;
    },
  }),
  grpcCa: flag<string>({
    option: '--grpc-ca <file>',
    help: "sources.grpc.tls.ca: the CA that signed Falco's gRPC server certificate",
    apply: (tree, file) => {
      grpcTls(tree).ca = file;
    },
  }),
  grpcCert: flag<string>({
    option: '--grpc-cert <file>',
    help: "sources.grpc.tls.cert: Perch's client certificate for Falco's gRPC server",
    apply: (tree, file) => {
      grpcTls(tree).cert = file;
    },
  }),
  grpcKey: flag<string>({
    option: '--grpc-key <file>',
    help: "sources.grpc.tls.key: the client certificate's private key",
    apply: (tree, file) => {
      grpcTls(tree).key = file;
    },
  }),
  grpcServerName: flag<string>({
    option: '--grpc-server-name <name>',
    help: "sources.grpc.tls.serverName: the name in Falco's certificate when it differs from the address (localhost in Falco's recipe)",
    apply: (tree, name) => {
      grpcTls(tree).serverName = name;
    },
  }),
  pods: flag<string>({
    option: '--pods <file>',
    help: 'kubernetes.podsFile: Kubernetes context from a kubectl get pods,runtimeclasses -o json dump instead of the API',
    apply: (tree, file) => {
      section(tree, 'kubernetes').podsFile = file;
    },
  }),
  json: flag<boolean>({
    option: '--json',
    help: 'console sinks print JSON lines instead of text (with no sink configured: one console sink)',
    apply: (tree) => {
      const sinks = section(tree, 'sinks');
      const consoles = Object.values(sinks).filter((s): s is Tree => (s as Tree | null)?.type === 'console');
      if (consoles.length === 0 && Object.keys(sinks).length === 0)
        sinks.console = { type: 'console', format: 'json' };
      for (const sink of consoles) sink.format = 'json';
    },
  }),
};

export type RunFlagName = keyof typeof RUN_FLAGS;

export type RunFlags = {
  [K in RunFlagName]?: (typeof RUN_FLAGS)[K] extends RunFlag<infer V> ? V : never;
};

/** The commander option of one flag, for `run` and for the commands that share it (replay's --pods). */
export function runFlagOption(name: RunFlagName, help?: string): Option {
  return new Option(RUN_FLAGS[name].option, help ?? RUN_FLAGS[name].help);
}

/**
 * Applies the flags over the raw config tree before validation, so flags and file go through the
 * same checks. Without a config file, naming an input (`--stdin`, `--file`, `--grpc`) replaces the
 * default HTTP input rather than adding to it.
 */
export function applyRunFlags(tree: Tree, flags: RunFlags): void {
  let namedInput = false;
  for (const name of Object.keys(RUN_FLAGS) as RunFlagName[]) {
    const value = flags[name];
    if (value === undefined || value === false || (Array.isArray(value) && value.length === 0)) continue;
    const spec = RUN_FLAGS[name] as RunFlag<typeof value>;
    spec.apply?.(tree, value);
    namedInput ||= spec.namesInput === true;
  }
  if (namedInput && flags.config === undefined) section(sources(tree), 'http').enabled = false;
}

function section(tree: Tree, key: string): Tree {
  const value = tree[key];
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Tree;
  const created: Tree = {};
  tree[key] = created;
  return created;
}

function sources(tree: Tree): Tree {
  return section(tree, 'sources');
}

function grpcTls(tree: Tree): Tree {
  return section(section(sources(tree), 'grpc'), 'tls');
}
