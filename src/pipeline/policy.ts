import type { PolicyOutcome, RuleSet } from '../rules/rule-set.js';
import { Observable, type OperatorFunction } from '../util/rx.js';
import type { EventAlert } from './alert.js';

/**
 * Applies the current rules to each alert: severity, routes, dedup settings; silenced and dropped
 * alerts leave the stream here (reported through `onOutcome` so they are counted, never lost
 * silently). The rules are read per alert, so a reload takes effect at once without touching
 * any state further down the pipeline. One operator rather than map → filter → map: every event
 * passes through it.
 */
export function applyPolicy(
  rules: () => RuleSet,
  now: () => number,
  onOutcome: (outcome: PolicyOutcome) => void,
  /** Every event as it enters, before the rules: a tap of its own would be one more hop per event. */
  onEvent?: (alert: EventAlert) => void,
): OperatorFunction<EventAlert, EventAlert> {
  return (source) =>
    new Observable<EventAlert>((subscriber) =>
      source.subscribe({
        next: (alert) => {
          let outcome: PolicyOutcome;
          try {
            onEvent?.(alert);
            // The alert was made for this event by the stage before: the rules may change it.
            outcome = rules().applyTo(alert, now());
            onOutcome(outcome);
          } catch (err) {
            // As RxJS's own map does with a throwing projection.
            subscriber.error(err);
            return;
          }
          if (outcome.disposition.kind === 'deliver') subscriber.next(outcome.alert);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}
