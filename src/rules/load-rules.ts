import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/config-error.js';
import { describeIssue } from '../config/describe-issue.js';
import { readYaml } from '../config/load-config.js';
import type { RulesConfig } from '../config/schema.js';
import { type CompiledCorrelation, compileCorrelation } from './compile-correlation.js';
import { type CompileNotes, compileMatch, type ExpressionErrorHandler } from './compile-match.js';
import { correlationRule, type PolicyRuleSpec, policyRule, rulesFileShape } from './rule-schema.js';
import { type CompiledPolicyRule, RuleSet } from './rule-set.js';

export const DEFAULT_RULES_FILE = fileURLToPath(new URL('../../rules/default.yaml', import.meta.url));

export interface LoadedRules {
  ruleSet: RuleSet;
  /** Problems that make the rules unusable: `perch check` fails, `perch run` refuses to start or reload. */
  errors: string[];
  /** Worth a look but not fatal: expired silences, unknown Falco rule names, … */
  warnings: string[];
  /** Rules plus correlations in each file that could be read and parsed, valid or not. */
  itemsPerFile: ReadonlyMap<string, number>;
}

export interface LoadRulesOptions {
  config: RulesConfig;
  /** Sink names from perch.yaml, to catch routes to sinks that do not exist. */
  sinkNames: readonly string[];
  nowMs?: number;
  onExpressionError?: ExpressionErrorHandler;
}

/** Loads, validates, compiles and lints the rules files: every problem, each with its file and path. */
export function loadRules(options: LoadRulesOptions): LoadedRules {
  const { config } = options;
  const files = [...config.files, ...(config.defaults ? [DEFAULT_RULES_FILE] : [])];
  const notes: CompileNotes = { errors: [], warnings: [] };
  const rules: CompiledPolicyRule[] = [];
  const correlations: CompiledCorrelation[] = [];
  const names = new Map<string, string>();
  const itemsPerFile = new Map<string, number>();
  for (const file of files) {
    let raw: unknown;
    try {
      raw = readYaml(file);
    } catch (err) {
      if (err instanceof ConfigError) notes.errors.push(...err.problems.map((p) => `${file}: ${p.message}`));
      else throw err;
      continue;
    }
    // Each rule is validated on its own, so one bad rule does not hide the problems of the others.
    const top = rulesFileShape.safeParse(raw ?? {}, { reportInput: true });
    if (!top.success) {
      notes.errors.push(
        ...top.error.issues.map(describeIssue).map((p) => `${file}: ${p.path}: ${p.message}`),
      );
      continue;
    }
    itemsPerFile.set(file, top.data.rules.length + top.data.correlations.length);
    top.data.rules.forEach((item, i) => {
      const parsed = policyRule.safeParse(item, { reportInput: true });
      const label = `${file}: rules[${i}]${parsed.success ? ` (${parsed.data.name})` : ''}`;
      if (!parsed.success) {
        notes.errors.push(
          ...parsed.error.issues
            .map(describeIssue)
            .map((p) => `${label}${p.path ? `.${p.path}` : ''}: ${p.message}`),
        );
        return;
      }
      const spec = parsed.data;
      const seen = names.get(spec.name);
      if (seen) notes.errors.push(`${label}: the name "${spec.name}" is already used in ${seen}`);
      names.set(spec.name, file);
      try {
        rules.push(compilePolicyRule(spec, label, notes, options));
      } catch (err) {
        notes.errors.push(`${label}: ${(err as Error).message}`);
      }
    });
    top.data.correlations.forEach((item, i) => {
      const parsed = correlationRule.safeParse(item, { reportInput: true });
      const label = `${file}: correlations[${i}]${parsed.success ? ` (${parsed.data.name})` : ''}`;
      if (!parsed.success) {
        notes.errors.push(
          ...parsed.error.issues
            .map(describeIssue)
            .map((p) => `${label}${p.path ? `.${p.path}` : ''}: ${p.message}`),
        );
        return;
      }
      const key = `correlation ${parsed.data.name}`;
      const seen = names.get(key);
      if (seen)
        notes.errors.push(`${label}: the correlation name "${parsed.data.name}" is already used in ${seen}`);
      names.set(key, file);
      try {
        correlations.push(compileCorrelation(parsed.data, label, notes, options.onExpressionError));
      } catch (err) {
        notes.errors.push(`${label}: ${(err as Error).message}`);
      }
    });
  }
  const ruleSet = new RuleSet(
    rules,
    correlations,
    { key: config.dedup.key, windowMs: config.dedup.window },
    files,
  );
  return { ruleSet, errors: notes.errors, warnings: notes.warnings, itemsPerFile };
}

function compilePolicyRule(
  spec: PolicyRuleSpec,
  path: string,
  notes: CompileNotes,
  options: LoadRulesOptions,
): CompiledPolicyRule {
  const matches = compileMatch(spec.match, `${path}.match`, notes, options.onExpressionError);
  const unknownSinks = (spec.route ?? []).filter((s) => !options.sinkNames.includes(s));
  if (unknownSinks.length > 0) {
    notes.errors.push(
      `${path}.route: no sink named ${unknownSinks.map((s) => `"${s}"`).join(', ')} in perch.yaml (sinks: ${options.sinkNames.join(', ') || 'none'})`,
    );
  }
  const now = options.nowMs ?? Date.now();
  if (spec.silence && spec.silence.until <= now) {
    notes.warnings.push(
      `${path}.silence: expired on ${new Date(spec.silence.until).toISOString()}; it no longer silences anything`,
    );
  }
  if (spec.drop && (spec.severity !== undefined || spec.route || spec.silence)) {
    notes.warnings.push(`${path}: drop ends evaluation, so its other actions never apply`);
  }
  const actions = [spec.severity, spec.route, spec.silence, spec.drop, spec.dedup, spec.reason].filter(
    (a) => a !== undefined,
  );
  if (actions.length === 0)
    notes.warnings.push(`${path}: has no action (severity, route, silence, drop, dedup or reason)`);
  let severity: CompiledPolicyRule['severity'];
  if (typeof spec.severity === 'string') severity = { adjust: Number(spec.severity) };
  else if (spec.severity !== undefined) severity = { set: spec.severity };
  return {
    name: spec.name,
    matches,
    ...(severity ? { severity } : {}),
    ...(spec.reason ? { reason: spec.reason } : {}),
    ...(spec.route ? { route: spec.route } : {}),
    ...(spec.silence ? { silence: { untilMs: spec.silence.until, reason: spec.silence.reason } } : {}),
    drop: spec.drop === true,
    ...(spec.dedup
      ? {
          dedup: {
            ...(spec.dedup.key ? { key: spec.dedup.key } : {}),
            ...(spec.dedup.window !== undefined ? { windowMs: spec.dedup.window } : {}),
            ...(spec.dedup.enabled !== undefined ? { enabled: spec.dedup.enabled } : {}),
          },
        }
      : {}),
    continue: spec.continue,
  };
}
