import { z } from 'zod';
import { duration, priority } from '../config/value-types.js';

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** `>=Warning`, `<Error`, `Critical` (equal), as Falco Talon writes priority conditions. */
const PRIORITY_CONDITION = /^(<|>|<=|>=|=|==|!=)?\s*([A-Za-z]+|[0-7])$/;

const matchFields = {
  /** Falco rule names, exact or glob (`*`, `?`); any of them. */
  rule: oneOrMany.optional(),
  priority: z
    .string()
    .regex(PRIORITY_CONDITION, 'expected a priority with an optional comparison, e.g. >=Warning')
    .optional(),
  /** Every tag listed must be on the alert. */
  tags: z.array(z.string().min(1)).min(1).optional(),
  source: oneOrMany.optional(),
  /** Output field → glob (or list of globs, any of); `null` matches a field Falco could not resolve. */
  fields: z.record(z.string().min(1), z.union([z.null(), oneOrMany])).optional(),
  namespace: oneOrMany.optional(),
  /** `kind/name` globs, e.g. `deployment/payments*`, `cronjob/*`; kind in lower case. */
  workload: oneOrMany.optional(),
  /** Pod labels (only those in kubernetes.labels reach alerts) → glob. */
  labels: z.record(z.string().min(1), oneOrMany).optional(),
  runtimeClass: oneOrMany.optional(),
  isolation: z
    .union([
      z.enum(['host', 'container', 'sandbox', 'vm', 'unknown']),
      z.array(z.enum(['host', 'container', 'sandbox', 'vm', 'unknown'])).min(1),
    ])
    .optional(),
  /** The pod's Pod Security Standards level: any of. */
  pss: z
    .union([
      z.enum(['privileged', 'baseline', 'restricted']),
      z.array(z.enum(['privileged', 'baseline', 'restricted'])),
    ])
    .optional(),
  /** Any of these pod-security-admission check ids failed for the pod. */
  pssViolations: z.array(z.string().min(1)).min(1).optional(),
  /** true: host processes only; false: container processes only. */
  host: z.boolean().optional(),
  /** A CEL expression over `event`, `pod` and `host`, for anything the fields above cannot say. */
  expr: z.string().min(1).optional(),
};

export type MatchBlock = {
  [K in keyof typeof matchFields]?: z.output<(typeof matchFields)[K]>;
} & { not?: MatchBlock };

export const matchBlock: z.ZodType<MatchBlock> = z.lazy(() =>
  z.strictObject({ ...matchFields, not: matchBlock.optional() }),
);

const SEVERITY_ADJUST = /^[+-][1-7]$/;

export const policyRule = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  match: matchBlock.default({}),
  /** Set a priority (`Critical`) or move it (`+1`, `-2`); `reason` says why, on the alert. */
  severity: z
    .union([priority, z.string().regex(SEVERITY_ADJUST, 'expected a priority name or +N / -N')])
    .optional(),
  reason: z.string().min(1).optional(),
  /** Sink names the alert goes to (instead of every sink). */
  route: z.array(z.string().min(1)).min(1).optional(),
  silence: z
    .strictObject({
      /** RFC 3339 or date; the silence ends then and `perch check` reports it as expired. */
      until: z.union([z.string(), z.date()]).transform((v, ctx) => {
        const ms = v instanceof Date ? v.getTime() : Date.parse(v);
        if (Number.isNaN(ms)) {
          ctx.addIssue({
            code: 'custom',
            message: `expected a date such as 2026-12-31T00:00:00Z, got "${String(v)}"`,
          });
          return z.NEVER;
        }
        return ms;
      }),
      reason: z.string().min(1),
    })
    .optional(),
  drop: z.boolean().optional(),
  dedup: z
    .strictObject({
      /** Fingerprint parts: rule, workload, namespace, pod, container, node, or any output field name. */
      key: z.array(z.string().min(1)).min(1).optional(),
      window: duration.optional(),
      /** false: never collapse these alerts. */
      enabled: z.boolean().optional(),
    })
    .optional(),
  /** Keep evaluating later rules after this one matched (default: stop here). */
  continue: z.boolean().default(false),
});

const conditionSchema = z
  .strictObject({
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
    eq: z.number().optional(),
    neq: z.number().optional(),
    /** value_count: the field whose distinct values are counted. */
    field: z.string().min(1).optional(),
  })
  .refine((c) => ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'].some((k) => c[k as keyof typeof c] !== undefined), {
    message: 'a condition needs at least one of gt, gte, lt, lte, eq, neq',
  });

export const correlationRule = z.strictObject({
  name: z.string().min(1),
  title: z.string().min(1).optional(),
  type: z.enum(['event_count', 'value_count', 'temporal', 'temporal_ordered']),
  /** Falco rule names (globs) or match blocks; temporal types need every one of them, ordered in order. */
  rules: z.array(z.union([z.string().min(1), matchBlock])).min(1),
  'group-by': z.array(z.string().min(1)).min(1),
  timespan: duration,
  condition: conditionSchema.optional(),
  severity: priority.optional(),
});

/** The file's outline; each rule and correlation is then validated on its own. */
export const rulesFileShape = z.strictObject({
  rules: z.array(z.unknown()).default([]),
  correlations: z.array(z.unknown()).default([]),
});

export const rulesFile = z.strictObject({
  rules: z.array(policyRule).default([]),
  correlations: z.array(correlationRule).default([]),
});

export type PolicyRuleSpec = z.output<typeof policyRule>;
export type CorrelationSpec = z.output<typeof correlationRule>;
export type RulesFileSpec = z.output<typeof rulesFile>;
