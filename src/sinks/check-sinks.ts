import type { PerchConfig } from '../config/schema.js';
import { type MessageSinkConfig, validateTemplate } from './destinations/index.js';

const MESSAGE_TYPES = new Set([
  'slack',
  'mattermost',
  'teams',
  'discord',
  'googlechat',
  'telegram',
  'webhook',
]);

/** User templates of the chat and webhook sinks, checked the way the sinks will use them. */
export function sinkTemplateProblems(config: PerchConfig): string[] {
  const problems: string[] = [];
  for (const [name, sink] of Object.entries(config.sinks)) {
    if (!MESSAGE_TYPES.has(sink.type)) continue;
    const template = (sink as MessageSinkConfig).template;
    if (template === undefined) continue;
    for (const problem of validateTemplate(template)) problems.push(`sinks.${name}.template: ${problem}`);
  }
  return problems;
}
