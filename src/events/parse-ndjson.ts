import { EventParseError } from './event-parse-error.js';
import type { FalcoEvent } from './falco-event.js';
import { parseFalcoJson } from './parse-falco-json.js';

export interface LineRejection {
  line: number;
  error: string;
}

export interface BatchResult {
  events: FalcoEvent[];
  rejected: LineRejection[];
}

/** Parses newline-delimited alerts; a bad line is reported with its number and does not spoil the others. */
export function parseNdjson(text: string): BatchResult {
  const events: FalcoEvent[] = [];
  const rejected: LineRejection[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '') continue;
    try {
      events.push(parseFalcoJson(line));
    } catch (err) {
      rejected.push({ line: i + 1, error: err instanceof EventParseError ? err.message : String(err) });
    }
  }
  return { events, rejected };
}
