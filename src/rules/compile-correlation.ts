import type { Priority } from '../events/priority.js';
import type { EventAlert } from '../pipeline/alert.js';
import { groupKeys, keyPart } from './alert-keys.js';
import {
  type CompileNotes,
  compileMatch,
  type ExpressionErrorHandler,
  type Predicate,
} from './compile-match.js';
import type { CorrelationSpec } from './rule-schema.js';

export type CorrelationType = CorrelationSpec['type'];

/** A correlation rule ready for the correlate operator: everything it needs is a function. */
export interface CompiledCorrelation {
  name: string;
  title: string;
  type: CorrelationType;
  /** One predicate per referenced rule; for temporal_ordered, in the required order. */
  steps: Predicate[];
  /** The group an event belongs to, or undefined when a group-by value is missing (the event is not counted). */
  groupKey: (alert: EventAlert) => string | undefined;
  /** The group-by values by name, for the incident; asked only when a group is created. */
  groupLabels: (alert: EventAlert) => Record<string, string>;
  /** value_count: the value whose distinct occurrences are counted, and its name for messages. */
  valueOf?: (alert: EventAlert) => string | undefined;
  valueField?: string;
  /** Whether a count (events, distinct values, or distinct steps seen) satisfies the condition. */
  satisfied: (count: number) => boolean;
  timespanMs: number;
  severity?: Priority;
}

const OPS = {
  gt: (n: number, v: number) => n > v,
  gte: (n: number, v: number) => n >= v,
  lt: (n: number, v: number) => n < v,
  lte: (n: number, v: number) => n <= v,
  eq: (n: number, v: number) => n === v,
  neq: (n: number, v: number) => n !== v,
} as const;

export function compileCorrelation(
  spec: CorrelationSpec,
  path: string,
  notes: CompileNotes,
  onExpressionError?: ExpressionErrorHandler,
): CompiledCorrelation {
  const steps = spec.rules.map((r, i) =>
    compileMatch(typeof r === 'string' ? { rule: r } : r, `${path}.rules[${i}]`, notes, onExpressionError),
  );
  const groupBy = spec['group-by'];
  const condition = spec.condition;
  const temporal = spec.type === 'temporal' || spec.type === 'temporal_ordered';
  if (spec.type === 'value_count' && !condition?.field) {
    notes.errors.push(
      `${path}.condition.field: value_count needs the field whose distinct values are counted`,
    );
  }
  if (!temporal && !condition)
    notes.errors.push(`${path}.condition: ${spec.type} needs a condition such as {gte: 5}`);
  if (temporal && steps.length < 2)
    notes.warnings.push(`${path}.rules: a ${spec.type} correlation of one rule is an event_count`);
  const tests = Object.entries(OPS)
    .filter(([op]) => condition?.[op as keyof typeof OPS] !== undefined)
    .map(
      ([op, fn]) =>
        (n: number) =>
          fn(n, condition?.[op as keyof typeof OPS] as number),
    );
  // Sigma: temporal types without a condition need every referenced rule.
  const satisfied =
    tests.length > 0
      ? (n: number) => {
          for (const test of tests) if (!test(n)) return false;
          return true;
        }
      : (n: number) => n >= steps.length;
  const field = condition?.field;
  const keys = groupKeys(groupBy);
  return {
    name: spec.name,
    title: spec.title ?? spec.name,
    type: spec.type,
    steps,
    groupKey: (alert) => keys.key(alert),
    groupLabels: (alert) => {
      const labels: Record<string, string> = {};
      for (const name of groupBy) labels[name] = keyPart(alert, name) ?? '';
      return labels;
    },
    ...(field ? { valueOf: (alert: EventAlert) => keyPart(alert, field), valueField: field } : {}),
    satisfied,
    timespanMs: spec.timespan,
    ...(spec.severity !== undefined ? { severity: spec.severity } : {}),
  };
}
