/**
 * The one place that decides what of a text may be shown. Destination URLs, tokens and header
 * values are credentials, and services, fetch errors and config mistakes echo them in every form:
 * with or without scheme, inside JSON, quoted, URL-encoded. Everything that prints text from outside
 * Perch (logs, /readyz, `perch check`) passes it through `redactSecrets`.
 */

/** What stands where a secret was. */
export const REDACTED = '<redacted>';

/** Names of settings, headers, fields and query parameters whose value is a credential. */
const SECRET_NAME = String.raw`[\w-]*(?:token|secret|password|passwd|passphrase|pwd|key|sig|signature|auth|authorization|credentials?|cookie)`;

/**
 * Hosts whose name is the same for every customer, so showing it tells nothing secret. Any other
 * host may be a credential itself (capability URLs such as Pipedream's or AWS Lambda function URLs
 * put the secret in the host name) and is redacted with the rest; credentials (`user:pass@`) never
 * make the host list.
 */
const SHARED_HOSTS = new Set([
  'hooks.slack.com',
  'slack.com',
  'discord.com',
  'discordapp.com',
  'ptb.discord.com',
  'canary.discord.com',
  'api.telegram.org',
  'chat.googleapis.com',
  'outlook.office.com',
]);

/** A URL with an authority (`scheme://…`): `unix:///path` and `file:///path` have an empty one. */
const URL_WITH_AUTHORITY = /\b([a-z][a-z0-9+.-]*):\/\/([^\s"'<>\\/?#]*)([^\s"'<>\\]*)/gi;

/** Token-bearing path segments: Slack (/services/, /triggers/, /workflows/), Discord (/api/webhooks/), Mattermost (/hooks/), Teams and Power Automate. */
const TOKEN_PATH =
  /(?<![\w-])(services|triggers|workflows|webhooks|webhookb2|IncomingWebhook|hooks)\/[^\s"'<>\\]+/gi;

const RULES: ReadonlyArray<[RegExp, string | ((match: string, ...groups: string[]) => string)]> = [
  [URL_WITH_AUTHORITY, (whole, scheme, authority, rest) => redactUrl(whole, scheme, authority, rest)],
  // JSON or quoted pairs: {"token": "…"}, 'password': '…', "api_key": 12345.
  [
    new RegExp(
      String.raw`(["'])(${SECRET_NAME})\1(\s*:\s*)(?:(["'])(?:\\.|(?!\4)[^\\])*\4|[^\s,;}\]"'<>]+)`,
      'gi',
    ),
    `$1$2$1$3"${REDACTED}"`,
  ],
  // The same inside a JSON string that was itself JSON-encoded: {\"token\":\"…\"}.
  [
    new RegExp(String.raw`(\\+["'])(${SECRET_NAME})\1(\s*:\s*)\1(?:(?!\1).)*\1`, 'gi'),
    `$1$2$1$3$1${REDACTED}$1`,
  ],
  // Query and form parameters: ?token=…, &sig=…, api_key=….
  [new RegExp(String.raw`\b(${SECRET_NAME})=[^&\s"'<>#,;\\]+`, 'gi'), `$1=${REDACTED}`],
  // Header and YAML lines: `Authorization: Bearer …`, `X-Api-Key: …`; not a file path ending in `/token:`.
  [
    new RegExp(
      String.raw`(?<![\w./\\-])(${SECRET_NAME}):[ \t]*(?:(?:Bearer|Basic|Bot|Token|Digest|ApiKey)[ \t]+)?[^\s"',;<>{}[\]]+`,
      'gi',
    ),
    `$1: ${REDACTED}`,
  ],
  [/\b(Bearer|bearer|Basic)\s+[\w.~+/-]+=*/g, `$1 ${REDACTED}`],
  // fetch quotes a header value it refuses, and a header value is often a credential.
  [/"(?:[^"\\]|\\.)*"(?= is an invalid header value)/g, `"${REDACTED}"`],
  [TOKEN_PATH, `$1/${REDACTED}`],
  // Telegram bot tokens, in a path (/bot123:ABC/sendMessage) or anywhere; bare ones are long.
  [/bot\d+:[\w-]+/gi, `bot${REDACTED}`],
  [/(?<![\w:])\d{6,}:[\w-]{30,}/g, REDACTED],
  // Slack tokens: bot, user, app, refresh, configuration.
  [/\b(?:xox[a-z]|xapp|xoxe\.xox[a-z])-[\w-]+/gi, REDACTED],
  // Credentials before a host without a scheme: user:pass@host.
  [/(?<![\w.+-])[^\s:/@"'<>]+:[^\s/@"'<>]*@(?=[\w[])/g, `${REDACTED}@`],
];

function redactUrl(whole: string, scheme: string, authority: string, rest: string): string {
  if (authority === '') return whole;
  const host = authority.replace(/:\d*$/, '').toLowerCase();
  if (!SHARED_HOSTS.has(host)) return `${scheme}://${REDACTED}`;
  return `${scheme}://${authority}${rest === '' ? '' : `/${REDACTED}`}`;
}

function redactPlain(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) {
    out =
      typeof replacement === 'string' ? out.replace(pattern, replacement) : out.replace(pattern, replacement);
  }
  return out;
}

/**
 * A run of text that may hide a secret behind %-encoding (%2F, %3D, double-encoded) or JSON's `\/`.
 * Single quotes belong to the run: encodeURIComponent leaves them as they are.
 */
const ENCODED_RUN = /[^\s"<>]*(?:%[0-9a-f]{2}|\\\/|\\u[0-9a-f]{4})[^\s"<>]*/gi;

function decode(run: string): string {
  let out = run;
  for (let round = 0; round < 3; round++) {
    const next = out
      .replace(/\\\//g, '/')
      .replace(/\\u([0-9a-f]{4})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
      .replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    if (next === out) break;
    out = next;
  }
  return out;
}

/**
 * The text with every credential replaced by `<redacted>`: userinfo, secret query parameters,
 * header values, Slack/Discord/Mattermost/Teams webhook paths, Telegram bot tokens, Slack tokens.
 * A URL keeps its scheme, and its host when that is a chat service's shared host
 * (`https://hooks.slack.com/<redacted>`); any other URL becomes `https://<redacted>`.
 */
export function redactSecrets(text: string): string {
  return redactPlain(text).replace(ENCODED_RUN, (run) => {
    const decoded = decode(run);
    const redacted = redactPlain(decoded);
    return redacted === decoded ? run : redacted;
  });
}

/** A response body or error text made fit for a log line: one line, secrets redacted, at most `max` characters. */
export function snippet(text: string, max = 200): string {
  // Control characters (\p{Cc}) could forge log lines or terminal escapes. They go first, so that
  // one inside a token cannot split it past the patterns that recognise it.
  const oneLine = redactSecrets(text.replace(/[\p{Cc}\s]+/gu, ' ')).trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

/** Whether a setting, header or log field of this name holds a credential. */
export function isSecretName(name: string): boolean {
  return /^[\w-]*(?:token|secret|password|passwd|passphrase|authorization|cookie|api[-_]?key|apikey|signature)$/i.test(
    name,
  );
}

const MAX_DEPTH = 8;

/**
 * A copy of a log record's fields as JSON would show them, with every string redacted and fields
 * named like a credential hidden. `plain` turns an Error into fields (its message, stack and
 * properties such as `new URL`'s `input` may quote a secret).
 */
export function redactFields(value: unknown, plain: (err: Error) => object, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth > MAX_DEPTH) return REDACTED;
  if (isErrorLike(value)) return redactEntries(plain(value), plain, depth);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  // A Secret prints a placeholder through its toJSON; a Date its ISO time.
  if (typeof toJSON === 'function') return redactFields(toJSON.call(value), plain, depth + 1);
  if (Array.isArray(value)) return value.map((item) => redactFields(item, plain, depth + 1));
  return redactEntries(value, plain, depth);
}

function redactEntries(value: object, plain: (err: Error) => object, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    out[key] =
      isSecretName(key) && typeof field === 'string' ? REDACTED : redactFields(field, plain, depth + 1);
  }
  return out;
}

// Not only instanceof: errors from fetch, DOMException or a test's vm may come from another realm.
function isErrorLike(value: object): value is Error {
  const { message, stack } = value as { message?: unknown; stack?: unknown };
  return (
    value instanceof Error ||
    Object.prototype.toString.call(value) === '[object Error]' ||
    (typeof message === 'string' && typeof stack === 'string')
  );
}
