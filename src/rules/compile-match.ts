import { parse } from '@marcbachmann/cel-js';
import { eventTags, isHostEvent, sourceKind } from '../events/falco-event.js';
import { Priority, parsePriority } from '../events/priority.js';
import type { PssViolation } from '../kube/pod-security.js';
import type { EventAlert } from '../pipeline/alert.js';
import { alertIsolation, alertNamespace, alertWorkload, celContext, fieldText } from './alert-facts.js';
import { anyOf, isGlob } from './glob.js';
import { KNOWN_FALCO_RULES } from './known-falco-rules.js';
import type { MatchBlock } from './rule-schema.js';

export type Predicate = (alert: EventAlert) => boolean;

export interface CompileNotes {
  errors: string[];
  warnings: string[];
}

/** Called when a CEL expression fails at run time (a missing key, a type mismatch): it counts as no match. */
export type ExpressionErrorHandler = (expr: string, error: Error) => void;

const list = (v: string | readonly string[]) => (typeof v === 'string' ? [v] : v);

/**
 * Turns a match block into one predicate: every condition given must hold; a list means any of
 * its values; `not` negates a nested block. Problems are reported with the block's path so
 * `perch check` can name them.
 */
export function compileMatch(
  block: MatchBlock,
  path: string,
  notes: CompileNotes,
  onExpressionError: ExpressionErrorHandler = () => {},
): Predicate {
  const tests: Predicate[] = [];
  // Tests run in this order until one fails: first the cheap ones that most alerts fail (on the host,
  // the pod's isolation), so that the rest rarely runs.
  if (block.host !== undefined) {
    const wanted = block.host;
    tests.push((a) => isHostEvent(a.event) === wanted);
  }
  if (block.isolation) {
    const wanted = new Set<string>(list(block.isolation));
    tests.push((a) => {
      const isolation = alertIsolation(a);
      return isolation !== undefined && wanted.has(isolation);
    });
  }
  if (block.rule) {
    const names = list(block.rule);
    const unknown = names.filter((n) => !isGlob(n) && !KNOWN_FALCO_RULES.has(n));
    if (unknown.length > 0) {
      notes.warnings.push(
        `${path}.rule: ${unknown.map((n) => `"${n}"`).join(', ')} is not a rule of Falco's rules 5.1.0 (a custom rule, or a typo?)`,
      );
    }
    const test = anyOf(names);
    tests.push((a) => test(a.event.rule));
  }
  if (block.priority) tests.push(compilePriority(block.priority, `${path}.priority`, notes));
  if (block.tags) {
    const wanted = block.tags;
    // A loop, not `every` with an arrow: one that reads the alert would be a closure per call.
    tests.push((a) => {
      const tags = eventTags(a.event);
      for (const tag of wanted) if (!tags.includes(tag)) return false;
      return true;
    });
  }
  if (block.source) {
    const test = anyOf(block.source);
    tests.push((a) => test(sourceKind(a.event)));
  }
  for (const [name, pattern] of Object.entries(block.fields ?? {})) {
    if (pattern === null) {
      tests.push((a) => fieldText(a, name) === null);
      continue;
    }
    const test = anyOf(pattern);
    tests.push((a) => test(fieldText(a, name) ?? undefined));
  }
  if (block.namespace) {
    const test = anyOf(block.namespace);
    tests.push((a) => test(alertNamespace(a)));
  }
  if (block.workload) {
    const test = anyOf(
      list(block.workload).map((w) =>
        w.replace(/^([A-Za-z]+)\//, (_m, kind: string) => `${kind.toLowerCase()}/`),
      ),
    );
    tests.push((a) => test(alertWorkload(a)));
  }
  for (const [label, pattern] of Object.entries(block.labels ?? {})) {
    const test = anyOf(pattern);
    tests.push((a) => test(a.enrichment.pod?.labels[label]));
  }
  if (block.runtimeClass) {
    const test = anyOf(block.runtimeClass);
    tests.push((a) => test(a.enrichment.pod?.runtimeClass));
  }
  if (block.pss) {
    const wanted = new Set<string>(list(block.pss));
    tests.push((a) => {
      const level = a.enrichment.pod?.posture.level;
      return level !== undefined && wanted.has(level);
    });
  }
  if (block.pssViolations) {
    const wanted = new Set(block.pssViolations);
    // A pod's posture is frozen and shared by all its alerts: its answer is found once.
    const answers = new WeakMap<readonly PssViolation[], boolean>();
    tests.push((a) => {
      const violations = a.enrichment.pod?.posture.violations;
      if (violations === undefined || violations.length === 0) return false;
      let answer = answers.get(violations);
      if (answer === undefined) {
        answer = violations.some((v) => wanted.has(v.check));
        if (Object.isFrozen(violations)) answers.set(violations, answer);
      }
      return answer;
    });
  }
  if (block.expr) tests.push(compileExpression(block.expr, `${path}.expr`, notes, onExpressionError));
  if (block.not) {
    const inner = compileMatch(block.not, `${path}.not`, notes, onExpressionError);
    tests.push((a) => !inner(a));
  }
  lintImpossible(block, path, notes);
  return allOf(tests);
}

/** Every test holds; written out because a predicate runs for every event and every rule. */
function allOf(tests: readonly Predicate[]): Predicate {
  const [only] = tests;
  if (tests.length === 0) return () => true;
  if (tests.length === 1 && only) return only;
  return (alert) => {
    for (const test of tests) if (!test(alert)) return false;
    return true;
  };
}

const COMPARISON = /^(<=|>=|<|>|==|=|!=)?\s*(.+)$/;

function compilePriority(condition: string, path: string, notes: CompileNotes): Predicate {
  const m = COMPARISON.exec(condition.trim());
  const op = m?.[1] ?? '=';
  const p = parsePriority(m?.[2] ?? '');
  if (p === undefined) {
    notes.errors.push(`${path}: "${condition}" does not name a Falco priority`);
    return () => false;
  }
  if ((op === '>' && p === Priority.Emergency) || (op === '<' && p === Priority.Debug)) {
    notes.errors.push(
      `${path}: "${condition}" can never match (nothing is ${op === '>' ? 'above Emergency' : 'below Debug'})`,
    );
  }
  switch (op) {
    case '>':
      return (a) => a.priority > p;
    case '>=':
      return (a) => a.priority >= p;
    case '<':
      return (a) => a.priority < p;
    case '<=':
      return (a) => a.priority <= p;
    case '!=':
      return (a) => a.priority !== p;
    default:
      return (a) => a.priority === p;
  }
}

function compileExpression(
  expr: string,
  path: string,
  notes: CompileNotes,
  onError: ExpressionErrorHandler,
): Predicate {
  let evaluate: (context: Record<string, unknown>) => unknown;
  try {
    evaluate = parse(expr);
  } catch (err) {
    notes.errors.push(`${path}: CEL syntax error in "${expr}": ${(err as Error).message.split('\n')[0]}`);
    return () => false;
  }
  return (alert) => {
    try {
      return evaluate(celContext(alert)) === true;
    } catch (err) {
      onError(expr, err as Error);
      return false;
    }
  };
}

const POD_ONLY = ['namespace', 'workload', 'labels', 'runtimeClass', 'pss', 'pssViolations'] as const;

function lintImpossible(block: MatchBlock, path: string, notes: CompileNotes): void {
  if (block.host === true) {
    const podFields = POD_ONLY.filter((k) => block[k] !== undefined);
    if (podFields.length > 0) {
      notes.errors.push(
        `${path}: host: true can never match together with ${podFields.join(', ')} (host processes have no pod)`,
      );
    }
    const isolation = block.isolation === undefined ? undefined : list(block.isolation);
    if (isolation && !isolation.includes('host'))
      notes.errors.push(`${path}: host: true can never match isolation ${isolation.join(', ')}`);
  }
  if (
    block.host === false &&
    block.isolation !== undefined &&
    list(block.isolation).every((i) => i === 'host')
  ) {
    notes.errors.push(`${path}: host: false can never match isolation: host`);
  }
}
