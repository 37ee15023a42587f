/** The chat and webhook destinations, one factory per sink type. */
import type { SinkConfig } from '../../config/schema.js';
import type { Destination } from '../../delivery/destination.js';
import { discordDestination } from './discord.js';
import { googleChatDestination } from './google-chat.js';
import { mattermostDestination } from './mattermost.js';
import { slackDestination } from './slack.js';
import { teamsDestination } from './teams.js';
import { telegramDestination } from './telegram.js';
import { compileTemplate, validateTemplate } from './template.js';
import { type TemplateMarkup, templateMarkupProblems } from './template-markup.js';
import { webhookDestination } from './webhook.js';

export { discordDestination } from './discord.js';
export { googleChatDestination } from './google-chat.js';
export { mattermostDestination } from './mattermost.js';
export { slackDestination } from './slack.js';
export { teamsDestination } from './teams.js';
export { telegramDestination } from './telegram.js';
export { TEMPLATE_VARIABLES, TemplateError, validateTemplate } from './template.js';
export { webhookDestination } from './webhook.js';

export type MessageSinkConfig = Extract<
  SinkConfig,
  { type: 'slack' | 'mattermost' | 'teams' | 'discord' | 'googlechat' | 'telegram' | 'webhook' }
>;

/** The markup each sink type reads its template in. */
const TEMPLATE_MARKUP: Readonly<Record<MessageSinkConfig['type'], TemplateMarkup>> = {
  slack: 'slack',
  mattermost: 'commonmark',
  discord: 'commonmark',
  teams: 'teams',
  googlechat: 'googlechat',
  telegram: 'telegram',
  webhook: 'plain',
};

/** The sink types that render a message (chat services and the webhook): one list for every caller. */
export const MESSAGE_SINK_TYPES = Object.keys(TEMPLATE_MARKUP) as readonly MessageSinkConfig['type'][];

export function isMessageSink(sink: SinkConfig): sink is MessageSinkConfig {
  return Object.hasOwn(TEMPLATE_MARKUP, sink.type);
}

/** Problems with a sink's template, empty when the sink will take it: for `perch check`. */
export function templateProblems(type: MessageSinkConfig['type'], template: string): string[] {
  const problems = validateTemplate(template);
  if (problems.length > 0) return problems;
  return templateMarkupProblems(compileTemplate(template), TEMPLATE_MARKUP[type]);
}

/** Throws TemplateError when the sink's template is invalid (so `perch check` can report it). */
export function messageDestination(config: MessageSinkConfig): Destination {
  switch (config.type) {
    case 'slack':
      return slackDestination(config);
    case 'mattermost':
      return mattermostDestination(config);
    case 'teams':
      return teamsDestination(config);
    case 'discord':
      return discordDestination(config);
    case 'googlechat':
      return googleChatDestination(config);
    case 'telegram':
      return telegramDestination(config);
    case 'webhook':
      return webhookDestination(config);
  }
}
