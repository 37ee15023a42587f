import { configSchema } from '../../../src/config/schema.js';

/**
 * What a YAML or JSON snippet of the docs is, told by its top-level keys: perch.yaml (the keys of
 * Perch's schema, read at run time), a rules file (`rules:` and `correlations:` as lists), Falco's
 * own configuration (falco.yaml, or the Helm chart's values under `falco:`), or Kubernetes objects
 * (`apiVersion` and `kind`; several YAML documents come as a list).
 */
export type SnippetKind = 'perch-config' | 'rules-file' | 'falco-config' | 'kubernetes-manifest' | 'unknown';

/** Top-level keys of falco.yaml that the docs show, and the Helm chart's `falco:` values root. */
const FALCO_KEYS = new Set([
  'falco',
  'json_output',
  'json_include_output_property',
  'json_include_tags_property',
  'json_include_message_property',
  'json_include_output_fields_property',
  'time_format_iso_8601',
  'http_output',
  'file_output',
  'stdout_output',
  'program_output',
  'syslog_output',
  'grpc',
  'grpc_output',
  'buffered_outputs',
  'priority',
  'rules_files',
  'load_plugins',
  'plugins',
]);

export function perchConfigKeys(): string[] {
  return Object.keys(configSchema.shape);
}

export function snippetKind(value: unknown): SnippetKind {
  if (Array.isArray(value) ? value.length > 0 && value.every(isManifest) : isManifest(value))
    return 'kubernetes-manifest';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'unknown';
  const entries = Object.entries(value);
  if (entries.length === 0) return 'unknown';
  const keys = entries.map(([key]) => key);
  const isRulesFile = entries.every(
    ([key, v]) => (key === 'rules' || key === 'correlations') && Array.isArray(v),
  );
  if (isRulesFile) return 'rules-file';
  const perch = new Set(perchConfigKeys());
  if (keys.every((key) => perch.has(key)) && !Array.isArray((value as Record<string, unknown>).rules))
    return 'perch-config';
  if (keys.every((key) => FALCO_KEYS.has(key))) return 'falco-config';
  return 'unknown';
}

function isManifest(value: unknown): boolean {
  const object = value as { apiVersion?: unknown; kind?: unknown } | null;
  return typeof object?.apiVersion === 'string' && typeof object.kind === 'string';
}
