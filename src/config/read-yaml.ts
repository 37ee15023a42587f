import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { redactSecrets } from '../util/redact.js';
import { ConfigError } from './config-error.js';

/** Reads a YAML file; a missing file or a syntax error is a ConfigError naming the file and the line. */
export function readYaml(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(path, [
      { path: '', message: `cannot read the file (${code ?? (err as Error).message})` },
    ]);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      path,
      // The parser may quote the text it stumbled on, which may be a pasted token.
      doc.errors.map((e) => ({
        path: '',
        message: `YAML syntax: ${redactSecrets(e.message.split('\n')[0] ?? e.message)}`,
      })),
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Unresolved aliases and alias bombs surface only here, not in doc.errors.
    throw new ConfigError(path, [
      { path: '', message: `YAML: ${redactSecrets((err as Error).message.split('\n')[0] ?? '')}` },
    ]);
  }
}
