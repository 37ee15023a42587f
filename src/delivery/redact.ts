const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;

/**
 * Replaces every URL in a text with `<url>`: destination URLs carry secrets (Slack webhook paths,
 * Telegram bot tokens), and error messages and response bodies may echo them.
 */
export function redactUrls(text: string): string {
  return text.replace(URL_PATTERN, '<url>');
}

/** A response body or error text made fit for a log line: URLs redacted, one line, at most `max` characters. */
export function snippet(text: string, max = 200): string {
  // Control characters (\p{Cc}) could forge log lines or terminal escapes.
  const oneLine = redactUrls(text)
    .replace(/[\p{Cc}\s]+/gu, ' ')
    .trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}
