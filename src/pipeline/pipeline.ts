import { map, type Observable, type SchedulerLike } from 'rxjs';
import type { FalcoEvent } from '../events/falco-event.js';
import type { Logger } from '../logging/logger.js';
import type { Sink } from '../sinks/sink.js';
import { type Alert, alertFromEvent } from './alert.js';
import { type EnrichedEvent, type EnrichOptions, enrich, type Resolver } from './enrich.js';
import { routeToSinks } from './route.js';

export interface PipelineDeps {
  sinks: readonly Sink[];
  log: Logger;
  /** Wall clock for receipt times; replay passes the alerts' own clock. */
  now: () => number;
  /** The cluster cache; without one, alerts carry no Kubernetes context (`disabled`). */
  resolver?: Resolver;
  enrich?: Omit<EnrichOptions, 'scheduler'>;
  scheduler?: SchedulerLike;
}

/**
 * The whole path of an alert, in order: sources (already normalised to FalcoEvent) → enrich with
 * the pod's context → alert → route to sinks. Policy and correlation stages slot in here.
 */
export function buildPipeline(events$: Observable<FalcoEvent>, deps: PipelineDeps): Observable<Alert> {
  const enriched$: Observable<EnrichedEvent> = deps.resolver
    ? events$.pipe(
        enrich(deps.resolver, {
          pendingTimeoutMs: 2000,
          maxPending: 10_000,
          ...deps.enrich,
          ...(deps.scheduler ? { scheduler: deps.scheduler } : {}),
        }),
      )
    : events$.pipe(
        map((event) => {
          deps.enrich?.onOutcome?.('disabled');
          return { event, enrichment: { outcome: 'disabled' as const } };
        }),
      );
  return enriched$.pipe(
    map((enriched) => alertFromEvent(enriched, deps.now())),
    routeToSinks(deps.sinks, deps.log),
  );
}
