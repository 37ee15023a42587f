import type { BlockOutcome } from './block-outcome.js';
import type { InvocationChecker } from './cli-options.js';
import { runConfigSnippet } from './config-snippet.js';
import type { DocSandbox } from './doc-sandbox.js';
import type { DocBlock } from './markdown-blocks.js';
import { planBlock, runShellBlock } from './shell-block.js';

export const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console']);
export const SNIPPET_LANGS = new Set(['yaml', 'yml', 'json']);

/** Blocks the docs test runs: shell commands and YAML/JSON snippets (not Go, output samples, diagrams). */
export function isRunnable(block: DocBlock): boolean {
  return SHELL_LANGS.has(block.lang) || SNIPPET_LANGS.has(block.lang);
}

/**
 * Runs one block, or, when a marker skips it, checks what can be checked without running: that
 * its perch commands, options and npm scripts exist.
 */
export async function runBlock(
  block: DocBlock,
  cli: InvocationChecker,
  sandbox: () => DocSandbox,
): Promise<BlockOutcome> {
  if (block.marker?.kind === 'skip') {
    const problems = SHELL_LANGS.has(block.lang)
      ? planBlock(block.lang, block.text, cli).flatMap(({ plan }) => plan.problems)
      : [];
    return { problems, cannotRun: [], ran: [] };
  }
  if (SHELL_LANGS.has(block.lang)) return runShellBlock(block.lang, block.text, cli, sandbox());
  return runConfigSnippet(
    { lang: block.lang, text: block.text, defaults: block.marker?.kind === 'defaults' },
    sandbox(),
  );
}

/** Runs at most `n` tasks at a time: the documented commands start real processes on a small machine. */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    running += 1;
    try {
      return await task();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  };
}
