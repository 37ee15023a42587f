import { Priority, priorityName } from '../events/priority.js';
import { copyEventAlert, type EventAlert } from '../pipeline/alert.js';
import { fingerprint } from './alert-keys.js';
import type { CompiledCorrelation } from './compile-correlation.js';
import type { Predicate } from './compile-match.js';

export interface CompiledPolicyRule {
  name: string;
  matches: Predicate;
  severity?: { set: Priority } | { adjust: number };
  reason?: string;
  route?: string[];
  silence?: { untilMs: number; reason: string };
  drop: boolean;
  dedup?: { key?: string[]; windowMs?: number; enabled?: boolean };
  continue: boolean;
}

export interface DedupDefaults {
  key: string[];
  windowMs: number;
}

export type Disposition =
  | { kind: 'deliver' }
  | { kind: 'silenced'; rule: string; reason: string; untilMs: number }
  | { kind: 'dropped'; rule: string; reason?: string };

export interface PolicyOutcome {
  alert: EventAlert;
  disposition: Disposition;
  /** Names of the rules that matched, in order. */
  matched: readonly string[];
}

const DELIVER: Disposition = Object.freeze({ kind: 'deliver' });
const NONE_MATCHED: readonly string[] = Object.freeze([]);

/**
 * The loaded rules, applied top to bottom. A matching rule applies its actions; evaluation stops
 * at the first match unless the rule says `continue: true`. `drop` and an active `silence` end
 * evaluation at once. Severity changes accumulate, routes add up, the last dedup setting wins.
 */
export class RuleSet {
  constructor(
    readonly rules: readonly CompiledPolicyRule[],
    readonly correlations: readonly CompiledCorrelation[],
    readonly dedup: DedupDefaults,
    /** Where the rules came from, for logs. */
    readonly sources: readonly string[] = [],
  ) {}

  /** The input alert is never changed: the outcome carries a copy. */
  apply(input: EventAlert, nowMs: number): PolicyOutcome {
    return this.applyTo(copyEventAlert(input), nowMs);
  }

  /**
   * As apply, but the rules change `alert` itself (its reasons list excepted, which is copied before
   * it grows): for a caller that made the alert and hands it on, as the pipeline does for every
   * event, so that the common case (no rule matches) allocates only the outcome.
   */
  applyTo(alert: EventAlert, nowMs: number): PolicyOutcome {
    let matched: string[] | undefined;
    let dedupKey = this.dedup.key;
    let windowMs = this.dedup.windowMs;
    let enabled = windowMs > 0;
    for (const rule of this.rules) {
      if (!rule.matches(alert)) continue;
      if (!matched) {
        matched = [];
        // Reasons are about to grow: a list the alert shares (with the one it was copied from) stays as it was.
        alert.reasons = [...alert.reasons];
      }
      matched.push(rule.name);
      if (rule.drop)
        return {
          alert,
          matched,
          disposition: { kind: 'dropped', rule: rule.name, ...(rule.reason ? { reason: rule.reason } : {}) },
        };
      if (rule.silence && nowMs < rule.silence.untilMs) {
        return {
          alert,
          matched,
          disposition: {
            kind: 'silenced',
            rule: rule.name,
            reason: rule.silence.reason,
            untilMs: rule.silence.untilMs,
          },
        };
      }
      if (rule.severity) applySeverity(alert, rule);
      else if (rule.reason) alert.reasons.push(rule.reason);
      if (rule.route) alert.routes = [...new Set([...(alert.routes ?? []), ...rule.route])];
      if (rule.dedup) {
        dedupKey = rule.dedup.key ?? dedupKey;
        windowMs = rule.dedup.windowMs ?? windowMs;
        enabled = rule.dedup.enabled ?? enabled;
      }
      if (!rule.continue) break;
    }
    if (enabled && windowMs > 0) alert.dedup = { key: fingerprint(alert, dedupKey), windowMs };
    return { alert, matched: matched ?? NONE_MATCHED, disposition: DELIVER };
  }
}

function applySeverity(alert: EventAlert, rule: CompiledPolicyRule): void {
  const before = alert.priority;
  const severity = rule.severity;
  if (!severity) return;
  const after =
    'set' in severity
      ? severity.set
      : (Math.min(Priority.Emergency, Math.max(Priority.Debug, before + severity.adjust)) as Priority);
  alert.priority = after;
  const verb = after > before ? 'raised to' : after < before ? 'lowered to' : 'kept at';
  alert.reasons.push(`${rule.reason ?? rule.name}: ${verb} ${priorityName(after)}`);
}
