/**
 * Contract of every chat destination: for each alert of the hostile corpus, with the default layout
 * and with templates that put values in every kind of markup (empty ones too), the payload keeps the
 * service's documented limits, parses the way the service parses it (Adaptive Cards through
 * Microsoft's own library), and leaves nothing from the corpus able to ping, link or format.
 */
import { describe, expect, it } from '@jest/globals';
import { Secret } from '../../src/config/secret.js';
import type { Destination } from '../../src/delivery/destination.js';
import { discordDestination } from '../../src/sinks/destinations/discord.js';
import { googleChatDestination } from '../../src/sinks/destinations/google-chat.js';
import { mattermostDestination } from '../../src/sinks/destinations/mattermost.js';
import { slackDestination } from '../../src/sinks/destinations/slack.js';
import { teamsDestination } from '../../src/sinks/destinations/teams.js';
import { telegramDestination } from '../../src/sinks/destinations/telegram.js';
import {
  discordProblems,
  googleChatProblems,
  type Json,
  mattermostProblems,
  slackProblems,
  teamsProblems,
  telegramProblems,
  universalProblems,
} from './checks/destination-checks.js';
import {
  GOOGLE_CHAT_TEMPLATES,
  hostileAlerts,
  MARKDOWN_TEMPLATES,
  TELEGRAM_TEMPLATES,
} from './hostile-corpus.js';

const URL = new Secret('https://hooks.example.com/services/T000/B000/XXXX');

interface Contract {
  make: (template?: string) => Destination;
  templates: readonly string[];
  problems: (body: Json, raw: string) => string[];
}

const CONTRACTS: Record<string, Contract> = {
  slack: {
    make: (template) => slackDestination({ url: URL, template }),
    templates: MARKDOWN_TEMPLATES,
    problems: slackProblems,
  },
  mattermost: {
    make: (template) => mattermostDestination({ url: URL, template }),
    templates: MARKDOWN_TEMPLATES,
    problems: mattermostProblems,
  },
  discord: {
    make: (template) => discordDestination({ url: URL, template }),
    templates: MARKDOWN_TEMPLATES,
    problems: discordProblems,
  },
  teams: {
    make: (template) => teamsDestination({ url: URL, template }),
    templates: MARKDOWN_TEMPLATES,
    problems: teamsProblems,
  },
  googlechat: {
    make: (template) => googleChatDestination({ url: URL, template }),
    templates: GOOGLE_CHAT_TEMPLATES,
    problems: googleChatProblems,
  },
  telegram: {
    make: (template) =>
      telegramDestination({
        botToken: new Secret('123:ABC'),
        chatId: '-1001',
        apiUrl: 'https://api.telegram.org',
        template,
      }),
    templates: TELEGRAM_TEMPLATES,
    problems: telegramProblems,
  },
};

const ALERTS = hostileAlerts();

describe.each(Object.entries(CONTRACTS))('%s contract', (_name, contract) => {
  const layouts: [string, string | undefined][] = [
    ['default layout', undefined],
    ...contract.templates.map((t): [string, string] => [`template ${JSON.stringify(t.slice(0, 60))}`, t]),
  ];

  it.each(layouts)('%s: every hostile alert renders inert and within limits', (_layout, template) => {
    const destination = contract.make(template);
    const problems: string[] = [];
    for (const [alertName, alert] of ALERTS) {
      const raw = destination.render(alert).body;
      const body = JSON.parse(raw) as Json;
      for (const problem of [...universalProblems(body), ...contract.problems(body, raw)]) {
        problems.push(`${alertName}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
