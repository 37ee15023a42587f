import { joinPath } from './config-error.js';

/** One configuration file's parsed content, named as the user should see it in errors. */
export interface ConfigLayer {
  file: string;
  tree: Record<string, unknown>;
}

type Tree = Record<string, unknown>;

const isMapping = (value: unknown): value is Tree =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Which files set each key of a merged configuration, so that a problem found in the merged tree
 * names the file to edit. A mapping is set by every file that contributed to it; any other value
 * by the last file that wrote it.
 */
export class ConfigOrigins {
  private readonly files = new Map<string, string[]>();

  record(path: string, file: string, replace: boolean): void {
    const known = this.files.get(path);
    if (replace || !known) this.files.set(path, [file]);
    else if (!known.includes(file)) known.push(file);
  }

  /** The files behind a key path (as in a ConfigProblem), from its closest recorded ancestor. */
  filesFor(path: string): string[] {
    let best: string | undefined;
    for (const recorded of this.files.keys()) {
      const boundary = path.charAt(recorded.length);
      const isAncestor =
        recorded === '' ||
        (path.startsWith(recorded) && (boundary === '' || boundary === '.' || boundary === '['));
      if (isAncestor && (best === undefined || recorded.length > best.length)) best = recorded;
    }
    return best === undefined ? [] : (this.files.get(best) ?? []);
  }
}

/**
 * Merges layers in order: a mapping merges into a mapping key by key, anything else (a list, a
 * scalar, null) replaces what earlier layers had. Lists are replaced rather than concatenated so a
 * drop-in can say exactly which rules files or labels apply.
 */
export function mergeLayers(layers: ConfigLayer[]): { tree: Tree; origins: ConfigOrigins } {
  const origins = new ConfigOrigins();
  const tree: Tree = {};
  for (const layer of layers) {
    origins.record('', layer.file, false);
    mergeInto(tree, layer.tree, layer.file, origins, []);
  }
  return { tree, origins };
}

function mergeInto(
  target: Tree,
  layer: Tree,
  file: string,
  origins: ConfigOrigins,
  path: PropertyKey[],
): void {
  for (const [key, value] of Object.entries(layer)) {
    const keyPath = [...path, key];
    const existing = Object.hasOwn(target, key) ? target[key] : undefined;
    if (isMapping(value) && isMapping(existing)) {
      origins.record(joinPath(keyPath), file, false);
      mergeInto(existing, value, file, origins, keyPath);
      continue;
    }
    const replacement = isMapping(value) ? {} : value;
    // defineProperty, not assignment: a `__proto__` key must stay an own key (reported later), not
    // become the object's prototype.
    Object.defineProperty(target, key, {
      value: replacement,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    origins.record(joinPath(keyPath), file, true);
    if (isMapping(value) && isMapping(replacement)) mergeInto(replacement, value, file, origins, keyPath);
  }
}
