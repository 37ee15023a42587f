/**
 * User templates for chat messages: a small, logic-less syntax.
 *
 *   {{name}}     the value of a variable (spaces inside the braces are allowed: `{{ name }}`)
 *   \{{          a literal `{{`
 *
 * There are no sections, conditions or loops; a variable without a value (no pod on a host event)
 * renders as nothing. The template text is trusted configuration written in the markup of the block
 * it replaces, and is sent as written: Slack mrkdwn, Mattermost Markdown, Discord Markdown (the embed
 * description), Teams Adaptive Card Markdown (a TextBlock), Google Chat card HTML, Telegram HTML; for a
 * webhook it becomes a plain `text` field. Every variable's value is escaped by the destination,
 * because values come from Falco events and the cluster (Slack, Mattermost and Telegram show them as
 * code), and each destination first reshapes the template so a value is safe in whatever markup the
 * author put around it (template-markup.ts). A template replaces the main text block of the default
 * layout; title, colour and fields stay.
 */
import { type Piece, plainText, type Text } from './text.js';

export const TEMPLATE_VARIABLES = {
  title: 'the message title, e.g. [CRITICAL] Terminal shell in container',
  kind: 'event, digest or incident',
  severity: 'the priority name, e.g. Critical',
  rule: 'the Falco rule (for an incident: the rule of its last event)',
  output:
    "Falco's output without its time and priority prefix (a digest: its example repeat's, the first at its priority; an incident: its last event's)",
  reasons: "Perch's reasons for the priority and routing, separated by '; '",
  summary: 'digest: what repeated, how often and where; incident: how many events tied by what',
  count: 'events this alert stands for: 1, the repeats of a digest, the events of an incident',
  node: 'the node the event came from',
  namespace: "the pod's namespace",
  workload: 'kind/name of the workload, e.g. Deployment/payments-api',
  pod: 'the pod (for a digest: the pods, at most a few)',
  container: 'the container name',
  image: 'the container image',
  isolation: 'host, container, sandbox, vm or unknown',
  runtime_class: "the pod's RuntimeClass",
  handler: "the RuntimeClass's handler",
  pss_level: 'the highest Pod Security Standards level the pod meets',
  violations: 'the Pod Security checks that keep the pod from the next level, comma-separated',
  timeline: "an incident's events, one per line",
  time: 'when it happened, RFC 3339 UTC',
  id: "Perch's id for the alert",
  source: "Falco's event source, e.g. syscall",
  tags: "the Falco rule's tags, comma-separated",
} as const;

export type TemplateVariable = keyof typeof TEMPLATE_VARIABLES;
export type TemplateValues = Record<TemplateVariable, Text>;

const KNOWN = Object.keys(TEMPLATE_VARIABLES) as TemplateVariable[];

/**
 * A variable and where it stands in the template's markup, as a destination's markup rules found it
 * (see template-markup.ts): values must be safe whatever the author wrote around them.
 */
export interface VariablePart {
  variable: TemplateVariable;
  /** The author set the variable in code: its untrusted values are shown as code. */
  code?: boolean;
  /** The variable stands inside an HTML tag (an attribute value). */
  attribute?: boolean;
  /** Markup the author wrapped the variable in, re-applied around Perch's own words in its value. */
  trustedOpen?: string;
  trustedClose?: string;
}

export type Part = { literal: string } | VariablePart;

export interface CompiledTemplate {
  readonly source: string;
  readonly parts: readonly Part[];
}

export class TemplateError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid template: ${problems.join('; ')}`);
    this.name = 'TemplateError';
  }
}

function isKnown(name: string): name is TemplateVariable {
  return Object.hasOwn(TEMPLATE_VARIABLES, name);
}

function parse(source: string): { parts: Part[]; problems: string[] } {
  const parts: Part[] = [];
  const problems: string[] = [];
  let literal = '';
  let i = 0;
  while (i < source.length) {
    if (source.startsWith('\\{{', i)) {
      literal += '{{';
      i += 3;
      continue;
    }
    if (!source.startsWith('{{', i)) {
      literal += source[i];
      i += 1;
      continue;
    }
    const end = source.indexOf('}}', i + 2);
    if (end < 0) {
      problems.push(`unclosed {{ at character ${i + 1}`);
      break;
    }
    const name = source.slice(i + 2, end).trim();
    if (isKnown(name)) {
      if (literal) parts.push({ literal });
      literal = '';
      parts.push({ variable: name });
    } else {
      problems.push(`unknown variable {{${name}}} (known: ${KNOWN.join(', ')})`);
    }
    i = end + 2;
  }
  if (literal) parts.push({ literal });
  return { parts, problems };
}

/** Problems with a template, empty when it is valid: for `perch check` and config validation. */
export function validateTemplate(text: string): string[] {
  return parse(text).problems;
}

/** Throws TemplateError listing every problem, so a bad template fails when the sink is built. */
export function compileTemplate(text: string): CompiledTemplate {
  const { parts, problems } = parse(text);
  if (problems.length > 0) throw new TemplateError(problems);
  return { source: text, parts };
}

/** The template with its variables filled in; values keep their untrusted marking for the destination. */
export function renderTemplate(template: CompiledTemplate, values: TemplateValues): Text {
  const out: Piece[] = [];
  for (const part of template.parts) {
    if ('literal' in part) {
      out.push(part.literal);
      continue;
    }
    const value = values[part.variable];
    if (part.attribute) {
      // Inside a tag, Perch's words are no markup either: the whole value is one attribute value.
      const raw = plainText(value);
      if (raw) out.push({ untrusted: raw, attribute: true });
      continue;
    }
    for (const piece of value) {
      if (typeof piece === 'string') {
        if (piece) out.push(`${part.trustedOpen ?? ''}${piece}${part.trustedClose ?? ''}`);
      } else {
        out.push(part.code ? { ...piece, code: true } : piece);
      }
    }
  }
  return out;
}
