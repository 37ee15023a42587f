// Field and label selectors, parsed and matched the way the apiserver does (subset: no escaping, no `<`/`>`).

import { type FakeObject, fieldValue } from './kube-objects.js';
import type { ResourceInfo } from './kube-resources.js';

/** Thrown for selectors the apiserver would reject with 400 BadRequest. */
export class SelectorError extends Error {}

export type ObjectFilter = (obj: FakeObject) => boolean;

interface FieldRequirement {
  field: string;
  negate: boolean;
  value: string;
}

function parseFieldSelector(selector: string): FieldRequirement[] {
  const requirements: FieldRequirement[] = [];
  for (const term of selector.split(',')) {
    if (term.trim() === '') continue;
    const match = /^([^=!]+)(!=|==|=)(.*)$/.exec(term);
    if (!match) throw new SelectorError(`invalid selector: '${selector}'; can't understand '${term}'`);
    const [, field = '', op, value = ''] = match;
    requirements.push({ field: field.trim(), negate: op === '!=', value: value.trim() });
  }
  return requirements;
}

export function compileFieldSelector(info: ResourceInfo, selector: string | undefined): ObjectFilter {
  if (!selector) return () => true;
  const requirements = parseFieldSelector(selector);
  for (const { field } of requirements) {
    if (!info.fieldLabels.includes(field)) throw new SelectorError(`field label not supported: ${field}`);
  }
  return (obj) => requirements.every((r) => (fieldValue(obj, r.field) === r.value) !== r.negate);
}

type LabelRequirement =
  | { key: string; op: 'exists' | 'notexists' }
  | { key: string; op: 'in' | 'notin'; values: string[] };

/** Splits on commas that are not inside `( )`. */
function splitTopLevel(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

function parseLabelTerm(term: string): LabelRequirement {
  let match = /^!\s*([\w./-]+)$/.exec(term);
  if (match?.[1]) return { key: match[1], op: 'notexists' };
  match = /^([\w./-]+)\s*(!=|==|=)\s*([\w.-]*)$/.exec(term);
  if (match?.[1]) {
    return { key: match[1], op: match[2] === '!=' ? 'notin' : 'in', values: [match[3] ?? ''] };
  }
  match = /^([\w./-]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (match?.[1]) {
    const values = (match[3] ?? '').split(',').map((v) => v.trim());
    return { key: match[1], op: match[2] === 'notin' ? 'notin' : 'in', values };
  }
  match = /^([\w./-]+)$/.exec(term);
  if (match?.[1]) return { key: match[1], op: 'exists' };
  throw new SelectorError(`unable to parse requirement: ${term}`);
}

function labelMatches(labels: Record<string, string>, r: LabelRequirement): boolean {
  const present = Object.hasOwn(labels, r.key);
  switch (r.op) {
    case 'exists':
      return present;
    case 'notexists':
      return !present;
    case 'in':
      return present && r.values.includes(labels[r.key] ?? '');
    case 'notin':
      return !present || !r.values.includes(labels[r.key] ?? '');
  }
}

export function compileLabelSelector(selector: string | undefined): ObjectFilter {
  if (!selector) return () => true;
  const requirements = splitTopLevel(selector).map(parseLabelTerm);
  return (obj) => requirements.every((r) => labelMatches(obj.metadata.labels ?? {}, r));
}

export interface FilterSpec {
  namespace?: string | undefined;
  name?: string | undefined;
  fieldSelector?: string | undefined;
  labelSelector?: string | undefined;
}

/** Namespace/name scope from the URL plus both selectors; throws SelectorError for bad selectors. */
export function compileFilter(info: ResourceInfo, spec: FilterSpec): ObjectFilter {
  const fields = compileFieldSelector(info, spec.fieldSelector);
  const labels = compileLabelSelector(spec.labelSelector);
  return (obj) =>
    (spec.namespace === undefined || obj.metadata.namespace === spec.namespace) &&
    (spec.name === undefined || obj.metadata.name === spec.name) &&
    fields(obj) &&
    labels(obj);
}
