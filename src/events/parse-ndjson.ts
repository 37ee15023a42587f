import { EventParseError } from './event-parse-error.js';
import type { FalcoEvent } from './falco-event.js';
import { parseFalcoJson } from './parse-falco-json.js';

export interface LineRejection {
  line: number;
  error: string;
}

export interface BatchResult {
  events: FalcoEvent[];
  /** The first rejections, with line numbers; `rejectedCount` counts them all. */
  rejected: LineRejection[];
  rejectedCount: number;
}

/**
 * A batch this bad is not Falco's: past this many malformed lines the rest of the body is rejected
 * unread, so a megabyte of junk costs milliseconds rather than seconds of CPU.
 */
export const MAX_MALFORMED_LINES = 100;
const MAX_REPORTED = 20;

/** Parses newline-delimited alerts; a bad line is reported with its number and does not spoil the others. */
export function parseNdjson(text: string): BatchResult {
  const events: FalcoEvent[] = [];
  const rejected: LineRejection[] = [];
  let rejectedCount = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '') continue;
    if (rejectedCount >= MAX_MALFORMED_LINES) {
      const rest = lines.slice(i).filter((l) => l.trim() !== '').length;
      rejectedCount += rest;
      rejected.push({
        line: i + 1,
        error: `${rest} more lines not read: more than ${MAX_MALFORMED_LINES} lines were malformed`,
      });
      break;
    }
    try {
      events.push(parseFalcoJson(line));
    } catch (err) {
      rejectedCount += 1;
      if (rejected.length < MAX_REPORTED) {
        rejected.push({ line: i + 1, error: err instanceof EventParseError ? err.message : String(err) });
      }
    }
  }
  return { events, rejected, rejectedCount };
}
