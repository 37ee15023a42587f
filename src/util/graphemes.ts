const GRAPHEMES = new Intl.Segmenter('en', { granularity: 'grapheme' });

/**
 * Where the user-perceived character (grapheme) holding UTF-16 index `index` starts: cutting there
 * never leaves half an emoji sequence, a dangling zero-width joiner or a letter without its accents.
 */
export function graphemeStart(text: string, index: number): number {
  if (index <= 0) return 0;
  if (index >= text.length) return text.length;
  // `containing` looks only around `index`: segmenting a 10 KB value from its start would be slow.
  return GRAPHEMES.segment(text).containing(index)?.index ?? index;
}
