import type { PerchConfig } from '../config/schema.js';
import { type MessageSinkConfig, templateProblems } from './destinations/index.js';

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
    const { type, template } = sink as MessageSinkConfig;
    if (template === undefined) continue;
    for (const problem of templateProblems(type, template))
      problems.push(`sinks.${name}.template: ${problem}`);
  }
  return problems;
}
