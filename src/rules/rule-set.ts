import { Priority, priorityName } from '../events/priority.js';
import type { EventAlert } from '../pipeline/alert.js';
import { joinKey, keyPart } from './alert-keys.js';
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
  matched: string[];
}

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

  apply(input: EventAlert, nowMs: number): PolicyOutcome {
    const alert: EventAlert = { ...input, reasons: [...input.reasons] };
    const matched: string[] = [];
    let dedupSetting = {
      key: this.dedup.key,
      windowMs: this.dedup.windowMs,
      enabled: this.dedup.windowMs > 0,
    };
    for (const rule of this.rules) {
      if (!rule.matches(alert)) continue;
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
      if (rule.dedup) dedupSetting = { ...dedupSetting, ...definedOnly(rule.dedup) };
      if (!rule.continue) break;
    }
    if (dedupSetting.enabled && dedupSetting.windowMs > 0) {
      alert.dedup = {
        key: joinKey(dedupSetting.key.map((k) => keyPart(alert, k))),
        windowMs: dedupSetting.windowMs,
      };
    }
    return { alert, matched, disposition: { kind: 'deliver' } };
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

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
