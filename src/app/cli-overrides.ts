export interface RunFlags {
  config?: string;
  listen?: string;
  stdin?: boolean;
  file?: string[];
  json?: boolean;
  pods?: string;
  grpc?: string;
  grpcCa?: string;
  grpcCert?: string;
  grpcKey?: string;
  grpcServerName?: string;
}

type Tree = Record<string, unknown>;

function section(tree: Tree, key: string): Tree {
  const value = tree[key];
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Tree;
  const created: Tree = {};
  tree[key] = created;
  return created;
}

/**
 * Applies `perch run` shorthands over the raw config tree before validation, so flags and file go
 * through the same checks. Without a config file, naming an input (`--stdin`, `--file`) replaces
 * the default HTTP input rather than adding to it.
 */
export function applyRunFlags(tree: Tree, flags: RunFlags): void {
  if (flags.listen !== undefined) section(tree, 'server').listen = flags.listen;
  if (flags.pods !== undefined) section(tree, 'kubernetes').podsFile = flags.pods;
  const sources = section(tree, 'sources');
  const namedInput = flags.stdin === true || (flags.file?.length ?? 0) > 0 || flags.grpc !== undefined;
  if (namedInput && flags.config === undefined) section(sources, 'http').enabled = false;
  if (flags.stdin) section(sources, 'stdin').enabled = true;
  if (flags.grpc !== undefined) {
    const grpc = section(sources, 'grpc');
    grpc.enabled = true;
    grpc.address = flags.grpc;
    if (flags.grpcCa || flags.grpcCert || flags.grpcKey) {
      grpc.tls = {
        ca: flags.grpcCa,
        cert: flags.grpcCert,
        key: flags.grpcKey,
        ...(flags.grpcServerName ? { serverName: flags.grpcServerName } : {}),
      };
    }
  }
  if (flags.file?.length) {
    const files = Array.isArray(sources.files) ? sources.files : [];
    sources.files = [...files, ...flags.file.map((path) => ({ path }))];
  }
  if (flags.json) {
    const sinks = section(tree, 'sinks');
    const consoles = Object.values(sinks).filter((s): s is Tree => (s as Tree | null)?.type === 'console');
    if (consoles.length === 0 && Object.keys(sinks).length === 0)
      sinks.console = { type: 'console', format: 'json' };
    for (const sink of consoles) sink.format = 'json';
  }
}
