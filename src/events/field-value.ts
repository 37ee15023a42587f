/**
 * One value of Falco's `output_fields`, kept with the JSON type Falco wrote. Integers beyond 2^53
 * (such as `evt.time` in nanoseconds) are `bigint`; `null` means Falco could not resolve the field
 * (`<NA>` in its text output).
 */
export type FieldScalar = string | number | bigint | boolean | null;

/** libsinsp writes list fields (`container.image.digest`, `k8s.pod.labels`…) as JSON arrays. */
export type FieldValue = FieldScalar | FieldScalar[];

/** What Falco's text output and its gRPC `map<string,string>` print for a field without a value. */
export const NOT_AVAILABLE = '<NA>';

/**
 * A field value the way Falco's own text prints it: what its gRPC output carried, what the
 * `output` line shows, and what rules compare. libsinsp prints a list as `(a,b)`, each element
 * as it prints a single value. `null` stays null: whoever prints it decides how to say "no value".
 */
export function fieldValueText(value: FieldValue): string | null {
  if (value === null) return null;
  if (Array.isArray(value))
    return `(${value.map((v) => (v === null ? NOT_AVAILABLE : String(v))).join(',')})`;
  return String(value);
}
