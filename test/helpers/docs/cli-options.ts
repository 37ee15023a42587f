import { execFileSync } from 'node:child_process';
import { CLI } from '../cli-process.js';

export interface CommandHelp {
  /** `--listen`, `-c`, …; `--help` and `--version` left out (every command has them). */
  options: string[];
}

/** Says what is wrong with a documented invocation's command and options, without running it. */
export interface InvocationChecker {
  problems(args: string[]): string[];
}

/** The CLI's commands and their options, as `perch --help` and `perch help COMMAND` print them. */
export class CliOptions implements InvocationChecker {
  readonly commands: string[];
  readonly #help = new Map<string, CommandHelp>();

  constructor() {
    this.commands = section(help([]), 'Commands')
      .map((line) => /^ {2}([a-z][a-z-]*)/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined && name !== 'help');
  }

  of(command: string): CommandHelp {
    let found = this.#help.get(command);
    if (!found) {
      const options = section(help(['help', command]), 'Options').flatMap((line) =>
        [...line.matchAll(/(?:^ {2}|, )(--?[A-Za-z][\w-]*)/g)].map((m) => m[1] as string),
      );
      found = { options: options.filter((o) => !['-h', '--help', '-V', '--version'].includes(o)) };
      this.#help.set(command, found);
    }
    return found;
  }

  /**
   * What is wrong with a documented invocation's command and options (placeholders such as FILE
   * or `[--json]` are fine), without running it.
   */
  problems(args: string[]): string[] {
    const first = args[0];
    const command = first === undefined || first.startsWith('-') ? 'run' : first;
    if (command === 'help') return [];
    if (!this.commands.includes(command))
      return [`"perch ${command}" is not a command (commands: ${this.commands.join(', ')})`];
    const known = this.of(command).options;
    return args
      .map((arg) => /^\[?(--?[A-Za-z][\w-]*)/.exec(arg)?.[1])
      .filter((option): option is string => option !== undefined)
      .filter((option) => !['-h', '--help', '-V', '--version'].includes(option) && !known.includes(option))
      .map((option) => `"perch ${command}" has no option ${option} (it has: ${known.join(', ')})`);
  }
}

function help(args: string[]): string {
  return execFileSync(process.execPath, [CLI, ...args, ...(args.length === 0 ? ['--help'] : [])], {
    encoding: 'utf8',
  });
}

/** The lines under `Title:` in commander's help, up to the next blank line. */
function section(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`${title}:`);
  if (start < 0) return [];
  const end = lines.findIndex((line, i) => i > start && line.trim() === '');
  return lines.slice(start + 1, end < 0 ? undefined : end);
}
