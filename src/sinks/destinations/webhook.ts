/**
 * Generic webhook: the alert as JSON, optionally signed the Standard Webhooks (v1) way.
 *
 * Body (stable; `version` changes only with an incompatible change):
 *
 *   { "version": 1, "source": "perch", "type": "alert.event" | "alert.digest" | "alert.incident",
 *     "timestamp": "<RFC 3339 of when Perch took the alert in>", "data": <alertToJson(alert)> }
 *
 * The alert is nested under `data` (Standard Webhooks' recommended `{type, timestamp, data}` shape)
 * rather than merged, so its own fields can never collide with the envelope's. Big integers (Falco's
 * nanosecond `evt.time`) are written exactly. With a `template`, the envelope also carries `text`: the
 * template rendered with its values as they are (JSON needs no escaping), for receivers that post it.
 *
 * Headers: `webhook-id` is always the alert's id, the same on every attempt so the receiver can drop
 * duplicates. Signing (when `signingSecret` is set) adds `webhook-timestamp` is the attempt's Unix time in seconds; and
 * `webhook-signature` is `v1,` + base64(HMAC-SHA256(secret, `${id}.${timestamp}.${body}`)). A secret
 * written `whsec_…` is base64 after the prefix, as Standard Webhooks shows it; any other string is used
 * as its UTF-8 bytes.
 *
 * Batches (opt-in, `batch`): the body is a JSON array of exactly the objects above, oldest first,
 * and `webhook-id` names the batch (`batch_` + a digest of its alerts' ids, the same on every
 * attempt of the same alerts); each object's `data.id` still names its alert. The signature covers
 * the whole array body.
 */

import { createHash, createHmac } from 'node:crypto';
import type { SinkConfig } from '../../config/schema.js';
import { defaultClassify } from '../../delivery/classify.js';
import type {
  DeliveryVerdict,
  Destination,
  DestinationResponse,
  RenderedRequest,
} from '../../delivery/destination.js';
import type { Alert } from '../../pipeline/alert.js';
import { alertToJson, formatAlertJson } from '../alert-json.js';
import { alertView } from './alert-view.js';
import { JSON_CONTENT_TYPE } from './http.js';
import { type CompiledTemplate, compileTemplate, renderTemplate } from './template.js';
import { plainText } from './text.js';

export type WebhookConfig = Pick<
  Extract<SinkConfig, { type: 'webhook' }>,
  'url' | 'signingSecret' | 'headers' | 'template'
>;

export interface WebhookOptions {
  /** Clock for `webhook-timestamp` (tests). */
  now?: () => number;
}

export const WEBHOOK_ENVELOPE_VERSION = 1;

/** Headers Perch owns: a configured header of the same name would break signing or parsing. */
const RESERVED = new Set(['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature']);

/** The one-alert body as an object (big integers as bigints); webhookBodyText writes it. */
export function webhookBody(alert: Alert, template?: CompiledTemplate): Record<string, unknown> {
  return {
    version: WEBHOOK_ENVELOPE_VERSION,
    source: 'perch',
    type: `alert.${alert.kind}`,
    timestamp: new Date(alert.receivedAtMs).toISOString(),
    ...(template ? { text: plainText(renderTemplate(template, alertView(alert).variables)) } : {}),
    data: alertToJson(alert),
  };
}

/**
 * The text of `webhookBody(alert, template)` with exact big integers: the envelope written around
 * formatAlertJson's text, which reuses the enrichment's JSON from one alert of a container to the next.
 */
export function webhookBodyText(alert: Alert, template?: CompiledTemplate): string {
  const text = template
    ? `"text":${JSON.stringify(plainText(renderTemplate(template, alertView(alert).variables)))},`
    : '';
  return (
    `{"version":${WEBHOOK_ENVELOPE_VERSION},"source":"perch","type":"alert.${alert.kind}",` +
    `"timestamp":"${new Date(alert.receivedAtMs).toISOString()}",${text}"data":${formatAlertJson(alert)}}`
  );
}

/** The key bytes of a signing secret: `whsec_` + base64, or the string itself. */
export function signingKey(secret: string): Buffer {
  return secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

export function sign(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`, 'utf8').digest('base64');
  return `v1,${mac}`;
}

/** The array body of a batch: the one-alert bodies, as rendered, joined. */
export function combineWebhookRequests(requests: readonly RenderedRequest[]): RenderedRequest {
  const [first] = requests;
  if (!first) throw new RangeError('a batch needs at least one request');
  const ids = requests.map((r) => r.headers['webhook-id'] ?? '');
  return {
    url: first.url,
    body: `[${requests.map((r) => r.body).join(',')}]`,
    headers: { ...first.headers, 'webhook-id': batchId(ids) },
  };
}

/** base64url has no `.`, as the signed content `id.timestamp.body` requires. */
function batchId(ids: readonly string[]): string {
  return `batch_${createHash('sha256').update(ids.join('\n')).digest('base64url').slice(0, 32)}`;
}

export function webhookDestination(config: WebhookConfig, options: WebhookOptions = {}): Destination {
  const now = options.now ?? Date.now;
  const template = config.template ? compileTemplate(config.template) : undefined;
  const key = config.signingSecret ? signingKey(config.signingSecret.reveal()) : undefined;
  if (key && key.length === 0) throw new Error('webhook signingSecret is empty after decoding');
  const extra = Object.fromEntries(
    Object.entries(config.headers).filter(([name]) => !RESERVED.has(name.toLowerCase())),
  );
  const destination: Destination = {
    kind: 'webhook',
    // No service-defined limit; generous, and 429/Retry-After still slow Perch down.
    defaultRate: { perSecond: 10, burst: 20 },
    // Receivers are servers of the user's own that take concurrent requests; each alert carries its
    // own id and time, so order between overlapping requests is not part of the contract.
    defaultMaxInFlight: 8,
    batch: { combine: combineWebhookRequests },
    render(alert: Alert): RenderedRequest {
      // Sent signed or not, for receivers that drop duplicates. Alert ids contain no `.`, as the
      // signed content `id.timestamp.body` requires.
      return {
        url: config.url.reveal(),
        body: webhookBodyText(alert, template),
        headers: { 'content-type': JSON_CONTENT_TYPE, ...extra, 'webhook-id': alert.id },
      };
    },
    classify(response: DestinationResponse): DeliveryVerdict {
      if (response.status === 410) {
        return { kind: 'rejected', reason: 'HTTP 410 Gone: the receiver asks Perch to stop sending' };
      }
      return defaultClassify(response);
    },
  };
  if (key) {
    destination.prepare = (request: RenderedRequest): RenderedRequest => {
      const id = request.headers['webhook-id'] ?? '';
      // A fresh timestamp per attempt: receivers reject old ones to stop replays.
      const timestamp = Math.floor(now() / 1000);
      return {
        ...request,
        // Not `{ ...request.headers, … }`: a spread then given more properties gets a hidden class
        // of its own in V8, on every attempt.
        headers: Object.assign({}, request.headers, {
          'webhook-timestamp': String(timestamp),
          'webhook-signature': sign(key, id, timestamp, request.body),
        }),
      };
    };
  }
  return destination;
}
