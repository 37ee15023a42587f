/**
 * Microsoft's own Adaptive Cards library as the oracle for Teams cards: a card must parse with no
 * error or warning and validate without failures.
 */
import { createRequire } from 'node:module';
import type * as AdaptiveCardsModule from 'adaptivecards';

const require = createRequire(import.meta.url);
// The package's ESM build (lib/) imports its modules without file extensions, which Node cannot load;
// its UMD bundle is the same library and parses and validates without a DOM.
const AC = require('adaptivecards/dist/adaptivecards.js') as typeof AdaptiveCardsModule;

export function adaptiveCardProblems(card: unknown): string[] {
  const parsed = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  parsed.parse(card, context);
  const problems: string[] = [];
  for (let i = 0; i < context.eventCount; i++) {
    const event = context.getEventAt(i);
    problems.push(`card parse (${AC.ValidationEvent[event.event]}): ${event.message}`);
  }
  for (const event of parsed.validateProperties().validationEvents) {
    problems.push(`card validation (${AC.ValidationEvent[event.event]}): ${event.message}`);
  }
  return problems;
}
