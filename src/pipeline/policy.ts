import { filter, map, type Observable, type OperatorFunction } from 'rxjs';
import type { PolicyOutcome, RuleSet } from '../rules/rule-set.js';
import type { EventAlert } from './alert.js';

/**
 * Applies the current rules to each alert: severity, routes, dedup settings; silenced and dropped
 * alerts leave the stream here (reported through `onOutcome` so they are counted, never lost
 * silently). The rules are read per alert, so a reload takes effect at once without touching
 * any state further down the pipeline.
 */
export function applyPolicy(
  rules: () => RuleSet,
  now: () => number,
  onOutcome: (outcome: PolicyOutcome) => void,
): OperatorFunction<EventAlert, EventAlert> {
  return (source: Observable<EventAlert>) =>
    source.pipe(
      map((alert) => {
        const outcome = rules().apply(alert, now());
        onOutcome(outcome);
        return outcome;
      }),
      filter((outcome) => outcome.disposition.kind === 'deliver'),
      map((outcome) => outcome.alert),
    );
}
