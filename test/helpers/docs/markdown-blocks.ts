import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * What a marker right before a fence says about the block:
 * `<!-- docs-test: skip (why it cannot run here) -->` leaves it out, with the reason for readers of
 * the source; `<!-- docs-test: defaults -->` says the snippet is exactly Perch's defaults.
 */
export type Marker = { kind: 'skip'; reason: string } | { kind: 'defaults' };

/** One fenced code block of a Markdown file, its text without the fence's indentation. */
export interface DocBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string, lower-cased: `sh`, `yaml`, `json`, `console`, or empty. */
  lang: string;
  text: string;
  marker?: Marker;
}

/** An inline code span outside fences, such as `perch run --grpc ADDRESS`. */
export interface DocSpan {
  file: string;
  line: number;
  text: string;
}

export interface MarkerProblem {
  file: string;
  line: number;
  message: string;
}

export interface ParsedDoc {
  blocks: DocBlock[];
  spans: DocSpan[];
  problems: MarkerProblem[];
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;
const MARKER = /^\s*<!--\s*docs-test:(.*?)-->\s*$/;
const SPAN = /(?<!`)`([^`\n]+)`(?!`)/g;

export const MARKER_HELP = '<!-- docs-test: skip (why it cannot run here) -->';

/** README.md and every docs/*.md, in a stable order. */
export function userDocs(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join(root, 'docs', name));
  return [join(root, 'README.md'), ...docs];
}

export function readDocs(root: string): ParsedDoc {
  const all: ParsedDoc = { blocks: [], spans: [], problems: [] };
  for (const path of userDocs(root)) {
    const parsed = parseMarkdown(relative(root, path), readFileSync(path, 'utf8'));
    all.blocks.push(...parsed.blocks);
    all.spans.push(...parsed.spans);
    all.problems.push(...parsed.problems);
  }
  return all;
}

export function parseMarkdown(file: string, markdown: string): ParsedDoc {
  const lines = markdown.split('\n');
  const doc: ParsedDoc = { blocks: [], spans: [], problems: [] };
  let pending: { marker?: Marker; line: number } | undefined;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] ?? '';
    const fence = FENCE.exec(line);
    if (fence) {
      const [, indent = '', ticks = '```', lang = ''] = fence;
      const body: string[] = [];
      const start = i;
      for (i += 1; i < lines.length; i += 1) {
        const inner = lines[i] ?? '';
        if (closesFence(inner, ticks)) break;
        body.push(inner.startsWith(indent) ? inner.slice(indent.length) : inner.trimStart());
      }
      doc.blocks.push({
        file,
        line: start + 1,
        lang: lang.toLowerCase(),
        text: body.join('\n'),
        ...(pending?.marker ? { marker: pending.marker } : {}),
      });
      pending = undefined;
      continue;
    }
    const marker = MARKER.exec(line);
    if (marker) {
      if (pending) doc.problems.push(notFollowedByBlock(file, pending.line));
      const parsed = parseMarker(marker[1] ?? '');
      if (typeof parsed === 'string') {
        doc.problems.push({ file, line: i + 1, message: parsed });
        pending = { line: i + 1 };
      } else {
        pending = { marker: parsed, line: i + 1 };
      }
      continue;
    }
    if (line.trim() === '') continue;
    if (pending) {
      doc.problems.push(notFollowedByBlock(file, pending.line));
      pending = undefined;
    }
    for (const span of line.matchAll(SPAN)) doc.spans.push({ file, line: i + 1, text: span[1] ?? '' });
  }
  if (pending) doc.problems.push(notFollowedByBlock(file, pending.line));
  return doc;
}

function closesFence(line: string, opening: string): boolean {
  const close = /^\s*(`{3,}|~{3,})\s*$/.exec(line)?.[1];
  return close !== undefined && close[0] === opening[0] && close.length >= opening.length;
}

function notFollowedByBlock(file: string, line: number): MarkerProblem {
  return { file, line, message: 'a docs-test marker must come right before a fenced code block' };
}

/** The marker's text after `docs-test:`, or what is wrong with it. */
export function parseMarker(text: string): Marker | string {
  const body = text.trim();
  if (body === 'defaults') return { kind: 'defaults' };
  const skip = /^skip\b\s*(?:\((.*)\))?\s*$/.exec(body);
  if (skip) {
    const reason = skip[1]?.trim() ?? '';
    if (reason === '') return `a skip marker needs its reason in parentheses: ${MARKER_HELP}`;
    return { kind: 'skip', reason };
  }
  return `unknown docs-test marker "${body}": write ${MARKER_HELP} or <!-- docs-test: defaults -->`;
}

/** `file:line` for messages. */
export function where(item: { file: string; line: number }): string {
  return `${item.file}:${item.line}`;
}
