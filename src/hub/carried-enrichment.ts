import type { FalcoEvent } from '../events/falco-event.js';
import type { Enrichment } from '../kube/pod-context.js';
import type { Resolver } from '../pipeline/enrich.js';
import { NEVER } from '../util/rx.js';

/**
 * The hub's cluster view: the context each agent resolved on its node travels with the alert, so
 * the hub needs no watch of its own and never waits for a pod.
 */
export class CarriedEnrichment implements Resolver {
  private readonly carried = new WeakMap<FalcoEvent, Enrichment>();
  readonly changes$ = NEVER;

  carry(event: FalcoEvent, enrichment: Enrichment): void {
    this.carried.set(event, enrichment);
  }

  resolve(event: FalcoEvent): Enrichment {
    return this.carried.get(event) ?? { outcome: 'unresolved' };
  }
}
