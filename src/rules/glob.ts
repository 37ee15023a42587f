export type StringTest = (value: string | undefined) => boolean;

const GLOB_CHARS = /[*?[]/;

/**
 * Glob as Falco's own `glob` operator means it (fnmatch without FNM_PATHNAME): `*` matches any
 * run of characters including `/`, `?` one character, `[...]` a class. Rule names contain `/`
 * ("Redirect STDOUT/STDIN …"), so path-aware globbing would surprise here.
 */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] ?? '';
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) source += '\\[';
      else {
        const body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        source += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else source += ch.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  try {
    return new RegExp(`^${source}$`, 's');
  } catch (err) {
    // A class such as [z-a] is not a valid range: say so instead of letting the SyntaxError escape.
    throw new GlobError(pattern, (err as Error).message.replace(/^Invalid regular expression: /, ''));
  }
}

export class GlobError extends Error {
  constructor(
    readonly pattern: string,
    reason: string,
  ) {
    super(`"${pattern}" is not a valid glob (${reason})`);
    this.name = 'GlobError';
  }
}

/** A test for "equals any of these patterns"; patterns without glob characters compare exactly. */
export function anyOf(patterns: string | readonly string[]): StringTest {
  const list = typeof patterns === 'string' ? [patterns] : patterns;
  // `*` (a catch-all correlation's `rules: ["*"]`) needs no regular expression run per event.
  if (list.includes('*')) return (value) => value !== undefined;
  const exact = new Set(list.filter((p) => !GLOB_CHARS.test(p)));
  const globs = list.filter((p) => GLOB_CHARS.test(p)).map(globToRegExp);
  if (globs.length === 0) return (value) => value !== undefined && exact.has(value);
  return (value) => {
    if (value === undefined) return false;
    if (exact.has(value)) return true;
    for (const glob of globs) if (glob.test(value)) return true;
    return false;
  };
}

export function isGlob(pattern: string): boolean {
  return GLOB_CHARS.test(pattern);
}
