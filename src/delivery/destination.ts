import type { Alert } from '../pipeline/alert.js';
import type { HeaderReader } from './response-headers.js';

/** One HTTP request a destination wants sent for an alert. */
export interface RenderedRequest {
  /** Full URL; may embed a secret (Slack webhook URL, Telegram bot token): never log it. */
  url: string;
  body: string;
  headers: Record<string, string>;
}

/** What a destination's answer means for the delivery engine. */
export type DeliveryVerdict =
  | { kind: 'delivered' }
  /** Try again later: 5xx, 429 (with the delay the service asked for), timeouts, connection errors. */
  | { kind: 'retry'; reason: string; afterMs?: number }
  /** Never retried (a 4xx other than 408/429): counted and logged once with the reason. */
  | { kind: 'rejected'; reason: string };

export interface DestinationResponse {
  status: number;
  headers: HeaderReader;
  body: string;
}

/**
 * A chat service, webhook or Alertmanager: how an alert becomes a request, and how the service's
 * answer is read. Pure and synchronous: the delivery engine does the sending, pacing and retrying.
 */
export interface Destination {
  /** `slack`, `teams`, … for logs and metrics. */
  readonly kind: string;
  /** Requests per second this service tolerates (its documented limit), and a small burst. */
  readonly defaultRate: { perSecond: number; burst: number };
  render(alert: Alert): RenderedRequest;
  /** Called before each attempt (signatures carry a timestamp); default: headers as rendered. */
  prepare?(request: RenderedRequest, attempt: number): RenderedRequest;
  /** Default: 2xx delivered; 408, 425, 429, 5xx retried (429 honouring Retry-After); other 4xx rejected. */
  classify?(response: DestinationResponse): DeliveryVerdict;
  /**
   * Requests a sink may keep in flight at once when its config does not say (`maxInFlight`);
   * default 1. More than one means alerts may arrive slightly out of order.
   */
  readonly defaultMaxInFlight?: number;
  /** Present when the service takes several alerts in one request; see BatchRendering. */
  readonly batch?: BatchRendering;
}

/** How many alerts go in one request, and how long the engine may hold the first back to gather more. */
export interface BatchLimits {
  maxAlerts: number;
  /** 0: whatever is queued when a request can go, without waiting for more. */
  maxWaitMs: number;
}

/**
 * A destination that accepts several alerts in one request. The engine still renders (and spools)
 * each alert on its own with `render()`; when a request can go it takes up to `maxAlerts` queued
 * requests for the same URL, in queue order, and asks `combine` for the one request that carries
 * them all. `prepare` then sees the combined request, so a signature covers the whole body.
 *
 * Outcome: by default the verdict of `classify` applies to every alert of the batch (counted per
 * alert; a retry resends the alerts that are still queued, a rejection drops them all, logged
 * once). A service that answers per alert may implement `classifyBatch` instead.
 */
export interface BatchRendering {
  /** Used when the sink's config has no `batch`; absent: one alert per request unless configured. */
  readonly defaults?: BatchLimits;
  /** One request carrying these (rendered by render(), same URL, at least two, oldest first). */
  combine(requests: readonly RenderedRequest[]): RenderedRequest;
  /**
   * The verdict for each alert of a combined request, in the order given to combine (an array of
   * `count` verdicts), or one verdict for all. Default: `classify` for all.
   */
  classifyBatch?(response: DestinationResponse, count: number): DeliveryVerdict | readonly DeliveryVerdict[];
}
