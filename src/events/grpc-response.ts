import type { FalcoResponse } from '../grpc/falco-proto.js';
import { EventParseError } from './event-parse-error.js';
import { formatTimestamp } from './event-time.js';
import type { FalcoEvent } from './falco-event.js';
import { type FieldValue, fieldValueText, NOT_AVAILABLE } from './field-value.js';
import { Priority, parsePriority, priorityName } from './priority.js';
import { setOwn } from './set-own.js';

/** A `falco.outputs.response` from Falco ≤ 0.43 as the same FalcoEvent the JSON inputs produce. */
export function fromGrpcResponse(response: FalcoResponse): FalcoEvent {
  if (!response.rule) throw new EventParseError('rule', 'the gRPC response has no rule name');
  // int64 seconds arrive as a decimal string; every valid Timestamp is well inside Number's exact range.
  const rawSeconds = response.time?.seconds ?? 0;
  const seconds = Number(rawSeconds);
  const nanos = response.time?.nanos ?? 0;
  if (seconds === 0 && nanos === 0) throw new EventParseError('time', 'the gRPC response has no time');
  // Years 0001-9999, as google.protobuf.Timestamp defines them; nanos 0-999,999,999.
  if (
    !Number.isInteger(seconds) ||
    !Number.isInteger(nanos) ||
    seconds < -62_135_596_800 ||
    seconds > 253_402_300_799 ||
    nanos < 0 ||
    nanos > 999_999_999
  ) {
    throw new EventParseError(
      'time',
      `the gRPC Timestamp {seconds: ${rawSeconds}, nanos: ${nanos}} is out of range`,
    );
  }
  const timeNs = BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
  // proto3 leaves the zero value off the wire: no priority means EMERGENCY (0).
  const priority = response.priority === undefined ? Priority.Emergency : parsePriority(response.priority);
  if (priority === undefined)
    throw new EventParseError('priority', `unknown priority ${String(response.priority)}`);
  // The decoded response is the source's alone: its map becomes the event's fields where it is.
  // Falco's gRPC output writes `<NA>` where JSON has null; one event model means one spelling.
  const outputFields: Record<string, FieldValue> | undefined = response.output_fields;
  let fieldCount = 0;
  for (const key in outputFields) {
    fieldCount += 1;
    if (outputFields[key] === NOT_AVAILABLE) setOwn(outputFields, key, null);
  }
  // proto3 cannot tell an empty string, list or map from a missing one: either is read as missing,
  // like the JSON key Falco leaves out. `source` (field 9) arrived in Falco 0.31;
  // `source_deprecated` is ignored as Falco advises.
  return {
    time: formatTimestamp(seconds, nanos),
    timeNs,
    priority,
    rule: response.rule,
    output: response.output || undefined,
    source: response.source || undefined,
    hostname: response.hostname || undefined,
    tags: response.tags?.length ? response.tags : undefined,
    outputFields: fieldCount > 0 ? outputFields : undefined,
  };
}

/**
 * The FalcoEvent as Falco 0.43 would have sent it over gRPC, plus optional extra fields. The map
 * holds strings only, so each value is written as Falco's text prints it: numbers in decimal
 * (big integers digit for digit), `<NA>` for null, a list as `(a,b)`.
 */
export function toGrpcResponse(event: FalcoEvent, extraFields: Record<string, string> = {}): FalcoResponse {
  const fields: Record<string, string> = {};
  if (event.outputFields !== undefined)
    for (const [key, value] of Object.entries(event.outputFields)) {
      setOwn(fields, key, fieldValueText(value) ?? NOT_AVAILABLE);
    }
  Object.assign(fields, extraFields);
  const response: FalcoResponse = {
    time: {
      seconds: (event.timeNs / 1_000_000_000n).toString(),
      nanos: Number(event.timeNs % 1_000_000_000n),
    },
    rule: event.rule,
    // Falco's C++ (proto3) writes no empty string or list; protobufjs would, if given one.
    output: event.output || undefined,
    output_fields: fields,
    hostname: event.hostname || undefined,
    tags: event.tags?.length ? event.tags : undefined,
    source: event.source || undefined,
  };
  // Emergency is proto3's zero value: like Falco, leave it off the wire.
  if (event.priority !== Priority.Emergency) response.priority = priorityName(event.priority).toUpperCase();
  return response;
}
