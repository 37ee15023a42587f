import { ConfigError, type ConfigProblem } from '../config/config-error.js';
import { type LoadOptions, loadConfig } from '../config/load-config.js';
import { configSchema, type KubernetesConfig, type PerchConfig } from '../config/schema.js';
import { checkTlsFiles } from '../grpc/tls-files.js';
import { ClusterState } from '../kube/cluster-state.js';
import { locateCluster } from '../kube/kube-connection.js';
import { clusterStateOptions } from '../kube/kubernetes-context.js';
import { loadClusterDump } from '../kube/offline-cluster.js';
import { loadRules } from '../rules/load-rules.js';
import { sinkProblems } from '../sinks/check-sinks.js';
import { redactSecrets } from '../util/redact.js';

/** Problems of one kind: the configuration file itself, its sinks, rules, Kubernetes, sources. */
export interface ProblemGroup {
  title: string;
  problems: string[];
}

export interface StartupValidation {
  /** The configuration, when it is valid in every respect (`groups` is then empty). */
  config?: PerchConfig;
  groups: ProblemGroup[];
  /** Worth a look, not fatal (rules warnings). */
  warnings: string[];
  /** True when perch.yaml and the flags name no sink, so the default console sink is in use. */
  consoleByDefault: boolean;
  rules?: { rules: number; correlations: number; files: number };
}

/**
 * What is checked: `run` checks everything it needs to start; `replay` only what it uses (the
 * rules and a pods dump), so a production perch.yaml replays on a laptop without its cluster;
 * `test-sink` only the sinks; `hub` the sinks and the rules.
 */
export type StartupScope = 'run' | 'replay' | 'test-sink' | 'hub';

interface Checks {
  sinks: boolean;
  rules: boolean;
  /** A pods dump (kubernetes.podsFile, --pods) when one is named. */
  podsFile: boolean;
  /** That the cluster can be reached as configured, when no pods dump is named. */
  cluster: boolean;
  sources: boolean;
}

const CHECKS: Record<StartupScope, Checks> = {
  run: { sinks: true, rules: true, podsFile: true, cluster: true, sources: true },
  replay: { sinks: false, rules: true, podsFile: true, cluster: false, sources: false },
  'test-sink': { sinks: true, rules: false, podsFile: false, cluster: false, sources: false },
  // The hub takes alerts from agents only, with their context: no inputs, no watch of its own.
  hub: { sinks: true, rules: true, podsFile: false, cluster: false, sources: false },
};

/**
 * The one validation path of `perch check`, `perch run`, `perch replay` and `perch test-sink`: every problem that
 * would stop Perch from starting, all at once. Each section of perch.yaml that is valid on its own
 * is checked further even when another section is not, so fixing one problem does not reveal the
 * next. What depends on the machine at start (an address in use, a socket directory) is left to
 * the start itself; so is the spool, which degrades rather than refusing.
 */
export async function validateStartup(
  options: LoadOptions & { scope?: StartupScope } = {},
): Promise<StartupValidation> {
  const checks = CHECKS[options.scope ?? 'run'];
  const env = options.env ?? process.env;
  let tree: Record<string, unknown> | undefined;
  let config: PerchConfig | undefined;
  const groups: ProblemGroup[] = [];
  try {
    config = loadConfig({
      ...options,
      overrides: (raw) => {
        options.overrides?.(raw);
        tree = raw;
      },
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    groups.push({
      title: options.path ? err.source : 'settings from the flags',
      problems: err.problems.map(formatConfigProblem),
    });
  }
  const sections: Partial<PerchConfig> = config ?? (tree ? validSections(tree) : {});
  const sinkNames = sections.sinks ? Object.keys(sections.sinks) : namesIn(tree?.sinks);
  const result: StartupValidation = {
    groups,
    warnings: [],
    consoleByDefault: tree !== undefined && tree.sinks === undefined,
  };
  if (!tree) return result;

  const add = (title: string, problems: string[]) => {
    if (problems.length > 0) groups.push({ title, problems });
  };
  if (checks.sinks && sections.sinks) add('sinks', sinkProblems(sections.sinks));
  if (checks.rules && sections.rules) {
    const rules = loadRules({ config: sections.rules, sinkNames });
    add('rules', rules.errors);
    result.warnings.push(...rules.warnings);
    result.rules = {
      rules: rules.ruleSet.rules.length,
      correlations: rules.ruleSet.correlations.length,
      files: rules.ruleSet.sources.length,
    };
  }
  if (sections.kubernetes) add('kubernetes', await kubernetesProblems(sections.kubernetes, env, checks));
  if (checks.sources && sections.sources) add('sources', sourceProblems(sections.sources));
  if (config && groups.length === 0) result.config = config;
  return result;
}

/** The problems as `perch check` lists them and `perch run` refuses to start with them. */
export function formatProblemGroups(groups: readonly ProblemGroup[]): string {
  return groups
    .map(
      ({ title, problems }) =>
        `${title}: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    )
    .join('\n');
}

export function countProblems(groups: readonly ProblemGroup[]): number {
  return groups.reduce((n, g) => n + g.problems.length, 0);
}

function formatConfigProblem(problem: ConfigProblem): string {
  return `${problem.path || '(top level)'}: ${problem.message}`;
}

/** The top-level sections that are valid on their own, with their defaults. */
function validSections(tree: Record<string, unknown>): Partial<PerchConfig> {
  const valid: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(configSchema.shape)) {
    const parsed = schema.safeParse(tree[key]);
    if (parsed.success) valid[key] = parsed.data;
  }
  return valid as Partial<PerchConfig>;
}

/** Sink names written in an invalid `sinks` section, so routes to them are not reported too. */
function namesIn(sinks: unknown): string[] {
  if (sinks === undefined) return ['console'];
  return sinks !== null && typeof sinks === 'object' ? Object.keys(sinks) : [];
}

async function kubernetesProblems(
  kubernetes: KubernetesConfig,
  env: NodeJS.ProcessEnv,
  checks: Checks,
): Promise<string[]> {
  if (kubernetes.podsFile) {
    if (!checks.podsFile) return [];
    try {
      loadClusterDump(kubernetes.podsFile, new ClusterState(clusterStateOptions(kubernetes)));
      return [];
    } catch (err) {
      return [`kubernetes.podsFile (--pods): ${(err as Error).message}`];
    }
  }
  if (!checks.cluster) return [];
  let location: ReturnType<typeof locateCluster>;
  try {
    location = locateCluster(kubernetes, env);
  } catch (err) {
    return [(err as Error).message];
  }
  if (!location.use || location.kind === 'in-cluster') return [];
  try {
    const { selectKubeconfig } = await import('../kube/cluster-connection.js');
    selectKubeconfig(location, kubernetes.context);
    return [];
  } catch (err) {
    const key = kubernetes.kubeconfig ? 'kubernetes.kubeconfig' : 'kubernetes';
    return [`${key}: cannot use ${location.describe}: ${redactSecrets((err as Error).message)}`];
  }
}

function sourceProblems(sources: PerchConfig['sources']): string[] {
  const { grpc } = sources;
  if (!grpc.enabled || !grpc.tls || grpc.address.startsWith('unix:')) return [];
  return checkTlsFiles(grpc.tls, 'sources.grpc.tls');
}
