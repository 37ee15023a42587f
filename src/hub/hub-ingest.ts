import type { FastifyInstance } from 'fastify';
import type { FalcoEvent } from '../events/falco-event.js';
import type { Enrichment } from '../kube/pod-context.js';
import { bearerTokenMatches } from '../util/bearer-token-match.js';
import type { HubMetrics } from './hub-metrics.js';
import type { SettleLedger, Settlement } from './settle-ledger.js';
import { BatchFormatError, type BatchResult, decodeBatch, HUB_INGEST_PATH } from './wire.js';

export type HubRole = 'leader' | 'standby' | 'draining';

export interface HubIngestDeps {
  role(): HubRole;
  /** Who holds the lease, for a standby's answer. */
  holder(): string | undefined;
  ledger: SettleLedger;
  /** Hands an admitted event, with the context its agent resolved, to the pipeline. */
  take(event: FalcoEvent, enrichment: Enrichment): void;
  ackTimeoutMs: number;
  metrics: HubMetrics;
  /** `hub.token`: when set, a request without it is refused (401) before anything else. */
  token?: string;
}

/** Seconds an agent waits before sending again what the hub could not take yet. */
const RETRY_AFTER_SECONDS = 1;
/** A standby or a hub shutting down: by then the Service points at the new leader. */
const STANDBY_RETRY_AFTER_SECONDS = 2;
/** Batches of a few hundred alerts with their pod context. */
const BODY_LIMIT = 16 * 1024 * 1024;

/**
 * POST /v1/hub/alerts: answers 200 once every alert of the batch is settled at the hub (see
 * SettleLedger), 503 with Retry-After when some are not within `hub.ackTimeout`, when this
 * replica is a standby, or while it shuts down. `results` says, in batch order, which alerts were
 * taken: the agent sends the others again (they stay in its spool); should it send a taken one
 * again all the same, it is dropped by id.
 */
export function registerHubIngest(app: FastifyInstance, deps: HubIngestDeps): void {
  app.post(HUB_INGEST_PATH, { bodyLimit: BODY_LIMIT }, async (request, reply) => {
    if (deps.token !== undefined && !bearerTokenMatches(request.headers.authorization, deps.token)) {
      deps.metrics.unauthorized();
      return reply.code(401).send({ error: 'missing or wrong bearer token (hub.token)' });
    }
    const role = deps.role();
    if (role !== 'leader') {
      const holder = deps.holder();
      return reply
        .code(503)
        .header('retry-after', String(STANDBY_RETRY_AFTER_SECONDS))
        .send({
          status: role === 'standby' ? 'standby' : 'shutting down',
          ...(holder === undefined ? {} : { leader: holder }),
        });
    }
    let alerts: ReturnType<typeof decodeBatch>;
    try {
      alerts = decodeBatch(request.body);
    } catch (err) {
      if (err instanceof BatchFormatError) return reply.code(400).send({ error: err.message });
      throw err;
    }
    // One wait per alert, in batch order; a duplicate is settled already.
    const waits: Promise<Settlement>[] = [];
    const fresh: (typeof alerts)[number][] = [];
    let duplicates = 0;
    let joined = 0;
    for (const alert of alerts) {
      const admission = deps.ledger.admit(alert.id, alert.event);
      if (admission.kind === 'duplicate') {
        duplicates += 1;
        waits.push(Promise.resolve('taken'));
        continue;
      }
      if (admission.kind === 'joined') joined += 1;
      else fresh.push(alert);
      waits.push(admission.settled);
    }
    deps.metrics.countReceived('new', fresh.length);
    deps.metrics.countReceived('duplicate', duplicates);
    deps.metrics.countReceived('joined', joined);
    for (const alert of fresh) {
      // The batch's own parsed object, so it is completed in place: a spread then given `node` would
      // get a hidden class of its own in V8, for every alert the hub takes.
      alert.enrichment.node ??= alert.node;
      deps.take(alert.event, alert.enrichment);
    }
    const settlements = await within(waits, deps.ackTimeoutMs);
    const results: BatchResult[] = settlements.map((s) => (s === 'taken' ? 'taken' : 'not_taken'));
    const taken = results.filter((r) => r === 'taken').length;
    const notTaken = results.length - taken;
    deps.metrics.countAcks('taken', taken);
    deps.metrics.countAcks('not_taken', notTaken);
    if (notTaken === 0) return reply.code(200).send({ taken, duplicates, results });
    return reply
      .code(503)
      .header('retry-after', String(RETRY_AFTER_SECONDS))
      .send({ status: 'not settled yet', taken, notTaken, results });
  });
}

/** Each settlement, or `undefined` for those still pending after `ms`. */
async function within(waits: Promise<Settlement>[], ms: number): Promise<(Settlement | undefined)[]> {
  if (waits.length === 0) return [];
  const results: (Settlement | undefined)[] = waits.map(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  const all = Promise.all(
    waits.map((wait, i) =>
      wait.then((settlement) => {
        results[i] = settlement;
      }),
    ),
  );
  await Promise.race([all, timeout]);
  clearTimeout(timer);
  return [...results];
}
