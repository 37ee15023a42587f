/**
 * Just enough of the POSIX shell to read the command lines the docs show: words with quotes and
 * escapes, `#` comments, `VAR=value` prefixes, pipes, `&&`, `;` and file redirections. Anything
 * else (expansions, subshells, `||`, background jobs) is reported as beyond this reader, so a
 * block using it has to say why it is not run rather than be run wrongly.
 */

export interface SimpleCommand {
  argv: string[];
  env: Record<string, string>;
  /** `> FILE`, `>> FILE` */
  stdoutFile?: string;
  /** `< FILE` */
  stdinFile?: string;
}

/** Commands joined by `|`. */
export type Pipeline = SimpleCommand[];

/** One command line: pipelines run one after the other (`&&`, `;`), stopping at the first failure. */
export interface CommandLine {
  /** 1-based line within the block. */
  line: number;
  text: string;
  pipelines: Pipeline[];
}

type Token = { word: string } | { op: string };

export class ShellSyntaxError extends Error {}

/** The command lines of a shell block: continuations joined, comment-only and blank lines left out. */
export function commandLines(block: string): CommandLine[] {
  const lines = block.split('\n');
  const result: CommandLine[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const first = i;
    let text = lines[i] ?? '';
    while (text.endsWith('\\') && i + 1 < lines.length) {
      i += 1;
      text = `${text.slice(0, -1)} ${lines[i] ?? ''}`;
    }
    const pipelines = parseCommandLine(text);
    if (pipelines.length > 0) result.push({ line: first + 1, text: text.trim(), pipelines });
  }
  return result;
}

export function parseCommandLine(text: string): Pipeline[] {
  const tokens = tokenize(text);
  const pipelines: Pipeline[] = [];
  let pipeline: Pipeline = [];
  let command: SimpleCommand = { argv: [], env: {} };
  const endCommand = () => {
    if (command.argv.length === 0) throw new ShellSyntaxError(`an empty command in: ${text}`);
    pipeline.push(command);
    command = { argv: [], env: {} };
  };
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i] as Token;
    if ('word' in token) {
      const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(token.word);
      if (command.argv.length === 0 && assignment?.[1] !== undefined)
        command.env[assignment[1]] = assignment[2] ?? '';
      else command.argv.push(token.word);
      continue;
    }
    if (token.op === '>' || token.op === '>>' || token.op === '<') {
      const target = tokens[i + 1];
      if (!target || !('word' in target))
        throw new ShellSyntaxError(`"${token.op}" without a file in: ${text}`);
      if (token.op === '<') command.stdinFile = target.word;
      else command.stdoutFile = target.word;
      i += 1;
      continue;
    }
    endCommand();
    if (token.op === '&&' || token.op === ';') {
      pipelines.push(pipeline);
      pipeline = [];
    }
  }
  if (command.argv.length > 0 || Object.keys(command.env).length > 0) endCommand();
  else if (pipeline.length > 0) throw new ShellSyntaxError(`a line ending in an operator: ${text}`);
  if (pipeline.length > 0) pipelines.push(pipeline);
  return pipelines;
}

const UNSUPPORTED: Record<string, string> = {
  '||': '"||"',
  '&': 'a background job ("&")',
  $: 'an expansion ("$")',
  '`': 'command substitution ("`")',
  '(': 'a subshell ("(")',
};

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let word: string | undefined;
  const flush = () => {
    if (word !== undefined) tokens.push({ word });
    word = undefined;
  };
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] as string;
    const next = text[i + 1];
    if (/\s/.test(c)) {
      flush();
    } else if (c === '#' && word === undefined) {
      break;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new ShellSyntaxError(`an unclosed ' in: ${text}`);
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let value = '';
      for (i += 1; i < text.length && text[i] !== '"'; i += 1) {
        if (text[i] === '$' || text[i] === '`')
          throw new ShellSyntaxError(`${UNSUPPORTED[text[i] as string]} in: ${text}`);
        if (text[i] === '\\' && /["\\$`]/.test(text[i + 1] ?? '')) i += 1;
        value += text[i];
      }
      if (i >= text.length) throw new ShellSyntaxError(`an unclosed " in: ${text}`);
      word = (word ?? '') + value;
    } else if (c === '\\') {
      word = (word ?? '') + (next ?? '');
      i += 1;
    } else if (c === '|' || c === '&') {
      flush();
      if (next === c) {
        if (c === '|') throw new ShellSyntaxError(`${UNSUPPORTED['||']} in: ${text}`);
        tokens.push({ op: '&&' });
        i += 1;
      } else if (c === '&') {
        throw new ShellSyntaxError(`${UNSUPPORTED['&']} in: ${text}`);
      } else {
        tokens.push({ op: '|' });
      }
    } else if (c === ';') {
      flush();
      tokens.push({ op: ';' });
    } else if (c === '>' || c === '<') {
      if (word === '2' && c === '>') throw new ShellSyntaxError(`a redirection of stderr in: ${text}`);
      flush();
      if (c === '>' && next === '>') {
        tokens.push({ op: '>>' });
        i += 1;
      } else {
        tokens.push({ op: c });
      }
    } else if (c === '$' || c === '`' || c === '(' || c === ')') {
      throw new ShellSyntaxError(`${UNSUPPORTED[c === ')' ? '(' : c]} in: ${text}`);
    } else {
      word = (word ?? '') + c;
    }
  }
  flush();
  return tokens;
}
