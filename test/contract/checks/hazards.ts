/**
 * What untrusted text must never be where a service reads it as markup ("live" text: outside code,
 * escapes and tags). Each pattern matches a piece of the hostile corpus in the form in which the
 * service would act on it; neither Perch's own words nor the corpus templates match any of them.
 */
export type Hazards = Readonly<Record<string, RegExp>>;

/** A service would auto-link these wherever they are live. */
export const LINK_HAZARDS: Hazards = {
  'URL with a scheme': /\b(https?:\/\/evil|tg:\/\/user)/,
  'bare domain': /evil\.example/,
  'www. host': /www\.evil/,
  'e-mail address': /mallory@evil\.ex/,
};

/** `@` mentions (Slack, Mattermost, Discord) and the `<…>` tokens Slack, Mattermost and Discord read. */
export const MENTION_HAZARDS: Hazards = {
  'channel-wide mention': /@(channel|here|all|everyone)\b/,
  'user mention': /@alice\b/,
  'angle-bracket token (<!channel>, <@U…>, <#C…>, <@&role>)': /<[!@#&]/,
  'Google Chat mention': /<users\//,
};

/** Inline formatting shared by the Markdown dialects. */
export const FORMAT_HAZARDS: Hazards = {
  bold: /\*b0ld\*/,
  italic: /_1t_/,
  underline: /__und__/,
  strikethrough: /~str~/,
  spoiler: /\|\|spoiler\|\|/,
  'Markdown link': /\[click\]\(/,
  'Slack-style link': /<https?:\/\/evil/,
};

/** A backtick left live would pair with a later one and change what is code (not in Teams' Markdown). */
export const CODE_HAZARDS: Hazards = {
  'code span or fence': /`/,
};

/** Line-start markup (headings, quotes, lists), for Markdown that has it. */
export const LINE_HAZARDS: Hazards = {
  heading: /^#+ heading/m,
  quote: /^> quote/m,
  list: /^(- list|1\. one)/m,
};

/** What Telegram detects in plain text besides links and mentions. */
export const TELEGRAM_HAZARDS: Hazards = {
  '@username mention': /@\w/,
  'bot command': /(^|\s)\/start\b/,
  hashtag: /#hashtag/,
  cashtag: /\$USD/,
};

export function findHazards(where: string, live: string, ...sets: Hazards[]): string[] {
  const found: string[] = [];
  for (const set of sets) {
    for (const [name, pattern] of Object.entries(set)) {
      const match = pattern.exec(live);
      if (match) {
        const around = live.slice(Math.max(0, match.index - 20), match.index + match[0].length + 20);
        found.push(`${where}: live ${name} ${JSON.stringify(around)}`);
      }
    }
  }
  return found;
}
