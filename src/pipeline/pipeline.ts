import type { FalcoEvent } from '../events/falco-event.js';
import type { Logger } from '../logging/logger.js';
import type { RuleSet } from '../rules/rule-set.js';
import type { AlertSink, EventSink, Sink } from '../sinks/sink.js';
import { fanOut } from '../util/event-feed.js';
import { identity, map, merge, type Observable, type SchedulerLike, tap } from '../util/rx.js';
import type { Accounting } from './accounting.js';
import { type Alert, type EventAlert, eventAlert } from './alert.js';
import { correlate } from './correlate.js';
import { dedup } from './dedup.js';
import { type EnrichOptions, type EnrichShape, enrich, type Resolver } from './enrich.js';
import { intakeBuffer } from './intake-buffer.js';
import { applyPolicy } from './policy.js';
import { routeAlerts, routeEvents } from './route.js';

export interface PipelineDeps {
  sinks: readonly Sink[];
  log: Logger;
  /** Receipt clock; replay passes the alerts' own clock. */
  now: () => number;
  /**
   * Clock for the timers that close windows and end waits (dedup, correlation, enrichment);
   * default: real time. What a window holds is decided by the alerts' own time (alert-time.ts).
   */
  scheduler?: SchedulerLike;
  /** The cluster cache; without one, alerts carry no Kubernetes context (`disabled`). */
  resolver?: Resolver;
  enrich?: Omit<EnrichOptions, 'scheduler'>;
  /** The current rules, read per alert so that a reload applies at once. */
  rules: () => RuleSet;
  accounting: Accounting;
  /** The bounded buffer in front of the pipeline; left out by replay, which reads at its own pace. */
  intake?: { capacity: number };
  dedupMaxKeys: number;
  correlationMaxGroups: number;
  /**
   * How long dedup windows and correlation groups wait past their end for alerts that arrive late,
   * and how far past its receipt an alert's own time may lie (`pipeline.allowedLateness`).
   */
  allowedLatenessMs: number;
  onRuleOutcome?: (disposition: 'silenced' | 'dropped', rule: string) => void;
  /** Every event as it enters the policy stage, with its context (event metrics). */
  onEvent?: (alert: EventAlert) => void;
  /** Every alert handed to the people's sinks (digest, incident and latency metrics). */
  onSent?: (alert: Alert) => void;
  /**
   * Each input event once the pipeline is done with it: shed, silenced, dropped, digested, or
   * handed to the sinks (called before they take it, in the same synchronous run, so that what
   * they spool and the intake journal's release share one transaction).
   */
  onSettled?: (event: FalcoEvent) => void;
}

/** An event as it was taken in, with when. */
interface Received {
  event: FalcoEvent;
  receivedAtMs: number;
}

const RECEIVED_TO_ALERT: EnrichShape<Received, EventAlert> = {
  eventOf: (item) => item.event,
  enriched: (item, enrichment) => eventAlert(item.event, enrichment, item.receivedAtMs),
};

/**
 * The whole path of an alert, in one place:
 *
 *   sources → intake (bounded, sheds lowest priorities) → enrich (pod context)
 *     → policy (rules: severity, routes, silences, drops, dedup keys) → [every-event sinks]
 *     → dedup (first occurrence now, repeats as one digest)  ┐
 *     → correlate (Sigma-style incidents)                    ┴→ route to alert sinks
 *
 * Every input event ends in exactly one of routed (handed to the sinks), digested, silenced, dropped
 * or shed. What each sink then does with it is its own account (perch_sink_deliveries_total, discards).
 */
export function buildPipeline(events$: Observable<FalcoEvent>, deps: PipelineDeps): Observable<Alert> {
  const { accounting, log } = deps;
  const eventSinks = deps.sinks.filter((s): s is EventSink => s.feed === 'events');
  const alertSinks = deps.sinks.filter((s): s is AlertSink => s.feed === 'alerts');
  const scheduler = deps.scheduler;

  // Receipt time travels beside the event (not in it) so latency covers the intake buffer and enrichment waits.
  const received$ = events$.pipe(map((event): Received => ({ event, receivedAtMs: deps.now() })));
  const taken$ = deps.intake
    ? received$.pipe(
        intakeBuffer<Received>({
          capacity: deps.intake.capacity,
          priorityOf: (item) => item.event.priority,
          onShed: (item, reason) => {
            accounting.record('shed', reason);
            deps.onSettled?.(item.event);
          },
        }),
      )
    : received$;

  const alerts$: Observable<EventAlert> = deps.resolver
    ? taken$.pipe(
        enrich(
          deps.resolver,
          {
            pendingTimeoutMs: 2000,
            maxPending: 10_000,
            ...deps.enrich,
            ...(scheduler ? { scheduler } : {}),
          },
          RECEIVED_TO_ALERT,
        ),
      )
    : taken$.pipe(
        map(({ event, receivedAtMs }) => {
          deps.enrich?.onOutcome?.('disabled');
          return eventAlert(event, { outcome: 'disabled' }, receivedAtMs);
        }),
      );

  return alerts$.pipe(
    applyPolicy(
      deps.rules,
      deps.now,
      ({ alert, disposition }) => {
        if (disposition.kind === 'deliver') return;
        accounting.record(disposition.kind, disposition.rule);
        deps.onRuleOutcome?.(disposition.kind, disposition.rule);
        deps.onSettled?.(alert.event);
      },
      deps.onEvent,
    ),
    // Most agents have no event sink: no hop per event for nobody.
    eventSinks.length > 0 ? routeEvents(eventSinks, log) : identity,
    // Both branches subscribe before the first event flows, so neither misses one.
    fanOut((alerts$) =>
      merge(
        alerts$.pipe(
          dedup({
            maxKeys: deps.dedupMaxKeys,
            allowedLatenessMs: deps.allowedLatenessMs,
            ...(scheduler ? { scheduler } : {}),
            onOutcome: (outcome, alert) => {
              accounting.record(outcome);
              deps.onSettled?.(alert.event);
            },
          }),
        ),
        alerts$.pipe(
          correlate(() => deps.rules().correlations, {
            maxGroups: deps.correlationMaxGroups,
            allowedLatenessMs: deps.allowedLatenessMs,
            ...(scheduler ? { scheduler } : {}),
          }),
        ),
      ),
    ),
    routeAlerts(alertSinks, log),
    tap((alert) => deps.onSent?.(alert)),
  );
}
