import { EventParseError } from './event-parse-error.js';

// Falco writes `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`; other senders shorten the fraction or add an offset.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

// The second of the last timestamp in Falco's own form and its nanoseconds: an alert storm repeats it.
let lastSecond = '';
let lastSecondNs = 0n;
const FRACTION_AT = 20;
const FALCO_TIME_LENGTH = 30;

/** Parses an RFC 3339 timestamp into exact nanoseconds since the epoch. */
export function parseEventTime(value: unknown, path = 'time'): bigint {
  // Falco's `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` within the second seen last: only the fraction is new.
  if (
    typeof value === 'string' &&
    value.length === FALCO_TIME_LENGTH &&
    lastSecond !== '' &&
    value.startsWith(lastSecond)
  ) {
    const nanos = nineDigits(value);
    if (nanos >= 0 && value.charCodeAt(FALCO_TIME_LENGTH - 1) === 90 /* Z */)
      return lastSecondNs + BigInt(nanos);
  }
  const timeNs = parseFullEventTime(value, path);
  if (typeof value === 'string' && value.length === FALCO_TIME_LENGTH && nineDigits(value) >= 0) {
    // Includes the `.`: a prefix match then pins the layout up to the fraction.
    lastSecond = value.slice(0, FRACTION_AT);
    lastSecondNs = timeNs - BigInt(nineDigits(value));
  }
  return timeNs;
}

/** The nine fraction digits of a timestamp in Falco's form, or -1. */
function nineDigits(value: string): number {
  let n = 0;
  for (let i = FRACTION_AT; i < FRACTION_AT + 9; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

function parseFullEventTime(value: unknown, path: string): bigint {
  if (typeof value !== 'string') {
    throw new EventParseError(
      path,
      `expected an RFC 3339 string such as "2026-01-01T09:15:02.123456789Z", got ${describe(value)}`,
    );
  }
  const m = RFC3339.exec(value);
  if (!m) {
    throw new EventParseError(
      path,
      `"${clip(value)}" is not an RFC 3339 timestamp such as "2026-01-01T09:15:02.123456789Z"`,
    );
  }
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const [hour, minute, second] = [Number(h), Number(mi), Number(s)];
  if (hour > 23 || minute > 59 || second > 59) {
    throw new EventParseError(
      path,
      `"${clip(value)}" has a time of day out of range (hour 0-23, minute and second 0-59)`,
    );
  }
  // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(hour, minute, second, 0);
  const ms = date.getTime();
  if (Number.isNaN(ms) || date.getUTCDate() !== Number(d) || date.getUTCMonth() !== Number(mo) - 1) {
    throw new EventParseError(path, `"${clip(value)}" names a date that does not exist`);
  }
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const [offsetHours, offsetMins] = [Number(zone.slice(1, 3)), Number(zone.slice(4, 6))];
    if (offsetHours > 23 || offsetMins > 59)
      throw new EventParseError(path, `"${clip(value)}" has an invalid UTC offset`);
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const nanos = BigInt(frac.padEnd(9, '0') || '0');
  return (BigInt(ms) - BigInt(offsetMinutes) * 60_000n) * 1_000_000n + nanos;
}

/** The second formatTimestamp last wrote, as `2026-01-01T09:15:02`. */
const formattedSecond = { seconds: Number.NaN, text: '' };

/**
 * Seconds and nanoseconds (0-999,999,999) as Falco writes a time: UTC with nine fractional digits.
 * On Number arithmetic, because the gRPC source formats every event's google.protobuf.Timestamp.
 */
export function formatTimestamp(seconds: number, nanos: number): string {
  // Events come in time order, thousands to a second: the date and time of day are written once per second.
  if (seconds !== formattedSecond.seconds) {
    formattedSecond.text = new Date(seconds * 1000).toISOString().slice(0, 19);
    formattedSecond.seconds = seconds;
  }
  const fraction = String(nanos);
  return `${formattedSecond.text}.${'000000000'.slice(fraction.length)}${fraction}Z`;
}

/** Formats exact nanoseconds as Falco does: UTC with nine fractional digits. */
export function formatEventTime(timeNs: bigint): string {
  // Floor, not truncation: before 1970 the second must round down and the fraction stay positive.
  const nanos = ((timeNs % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return formatTimestamp(Number((timeNs - nanos) / 1_000_000_000n), Number(nanos));
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string "${clip(value)}"`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

export function clip(text: string, max = 80): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
