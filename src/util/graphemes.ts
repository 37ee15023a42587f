/**
 * Made at the first cut, not when the module loads: an ICU segmenter costs about 3 MB of resident
 * memory, on every node, and most nodes never cut a value.
 */
let graphemes: Intl.Segmenter | undefined;

/**
 * Where the user-perceived character (grapheme) holding UTF-16 index `index` starts: cutting there
 * never leaves half an emoji sequence, a dangling zero-width joiner or a letter without its accents.
 */
export function graphemeStart(text: string, index: number): number {
  if (index <= 0) return 0;
  if (index >= text.length) return text.length;
  // `containing` looks only around `index`: segmenting a 10 KB value from its start would be slow.
  graphemes ??= new Intl.Segmenter('en', { granularity: 'grapheme' });
  return graphemes.segment(text).containing(index)?.index ?? index;
}
