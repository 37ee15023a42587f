/**
 * Telegram refuses a message with an unclosed tag, and Google Chat lets formatting run on, so where a
 * cut drops the rest of an HTML text, what the kept part left open is closed.
 */

const TAG = /<(\/?)([a-zA-Z][\w-]*)[^<>]*>/g;

/** Elements without an end tag. */
const VOID = new Set(['br']);

/**
 * `html` made whole: a tag cut off before its `>` (a long value in `href="…"`) is dropped, and every
 * element left open is closed, innermost first. Only for Perch's own output, where values are escaped
 * and attribute values URL-encoded, so every raw `<` and `>` is part of a tag.
 */
export function finishHtml(html: string): string {
  const complete =
    html.lastIndexOf('<') > html.lastIndexOf('>') ? html.slice(0, html.lastIndexOf('<')) : html;
  const open: string[] = [];
  for (const [, closing, name] of complete.matchAll(TAG)) {
    if (!name || VOID.has(name.toLowerCase())) continue;
    if (closing) open.pop();
    else open.push(name);
  }
  return (
    complete +
    open
      .reverse()
      .map((name) => `</${name}>`)
      .join('')
  );
}
