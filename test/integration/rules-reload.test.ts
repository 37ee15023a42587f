import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { validateConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logging/logger.js';
import { RulesHolder } from '../../src/rules/rules-holder.js';
import { until } from '../helpers/until.js';

const root = mkdtempSync(join(tmpdir(), 'perch-reload-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface LogLine {
  level: string;
  msg: string;
  file?: string;
  errors?: string[];
}

interface Watched {
  holder: RulesHolder;
  /** Each reload's result, in order: what perch_rules_reloads_total counts. */
  reloads: boolean[];
  logs: LogLine[];
  names: () => string[];
}

const open: RulesHolder[] = [];
afterEach(() => {
  for (const holder of open.splice(0)) holder.close();
});

let dirCount = 0;
function freshDir(): string {
  dirCount += 1;
  const dir = join(root, `case-${dirCount}`);
  mkdirSync(dir);
  return dir;
}

function rules(...names: string[]): string {
  return `rules:\n${names.map((n) => `  - { name: ${n}, match: { namespace: ${n} }, drop: true }\n`).join('')}`;
}

function start(file: string, options: { allowEmpty?: boolean; watch?: boolean } = {}): Watched {
  const logs: LogLine[] = [];
  const log = createLogger('info', { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const config = validateConfig(
    {
      rules: {
        defaults: false,
        files: [file],
        watch: options.watch ?? true,
        allowEmpty: options.allowEmpty ?? false,
      },
    },
    't',
    {},
  );
  const reloads: boolean[] = [];
  const holder = new RulesHolder(config.rules, [], log, (ok) => reloads.push(ok));
  open.push(holder);
  holder.watchFiles();
  return {
    holder,
    reloads,
    logs,
    names: () => [
      ...holder.current.rules.map((r) => r.name),
      ...holder.current.correlations.map((c) => `correlation ${c.name}`),
    ],
  };
}

/** A ConfigMap volume as the kubelet writes it: rules.yaml -> ..data/rules.yaml, ..data -> ..<timestamp>. */
function configMapVolume(content: string): { file: string; update: (content: string) => () => void } {
  const dir = freshDir();
  let version = 0;
  const writeVersion = (text: string): string => {
    version += 1;
    const name = `..2026_01_0${version}_12_00_00.${version}`;
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'rules.yaml'), text);
    return name;
  };
  let current = writeVersion(content);
  symlinkSync(current, join(dir, '..data'));
  symlinkSync(join('..data', 'rules.yaml'), join(dir, 'rules.yaml'));
  return {
    file: join(dir, 'rules.yaml'),
    // The kubelet's atomic update: new directory, new symlink renamed over ..data. It then
    // removes the old directory: returned, so a test can see the swap alone is noticed.
    update: (text) => {
      const previous = current;
      current = writeVersion(text);
      symlinkSync(current, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      return () => rmSync(join(dir, previous), { recursive: true });
    },
  };
}

/** Lets one turn of the event loop run: fs events already queued are delivered, closed handles released. */
const loopTurn = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('a reload that empties a rules file', () => {
  it.each([
    ['an empty file', ''],
    ['comments only', '# rules moved elsewhere\n'],
    ['an empty rules list', 'rules: []\n'],
    ['empty rules and correlations', 'rules: []\ncorrelations: []\n'],
  ])('is refused for %s, keeping the rules in force and saying how to allow it', (_, emptied) => {
    const file = join(freshDir(), 'rules.yaml');
    writeFileSync(file, rules('a', 'b'));
    const w = start(file, { watch: false });
    writeFileSync(file, emptied);

    expect(w.holder.reload('SIGHUP')).toBe(false);
    expect(w.reloads).toEqual([false]);
    expect(w.names()).toEqual(['a', 'b']);
    const failure = w.logs.find((l) => l.level === 'error');
    expect(failure?.msg).toBe('rules reload failed: keeping the rules in force');
    expect(failure?.errors).toEqual([expect.stringContaining(file)]);
    expect(failure?.errors?.[0]).toContain('rules.allowEmpty: true');
    expect(failure?.errors?.[0]).toContain('2 of the rules in force come from it');
  });

  it('is refused for a file that carried only silences and correlations', () => {
    const file = join(freshDir(), 'rules.yaml');
    writeFileSync(
      file,
      `rules:
  - { name: quiet-batch, match: { namespace: batch }, silence: { until: "2099-01-01T00:00:00Z", reason: noisy } }
correlations:
  - { name: burst, type: event_count, rules: ["*"], group-by: [pod], timespan: 1m, condition: { gte: 4 } }
`,
    );
    const w = start(file, { watch: false });
    writeFileSync(file, '');

    expect(w.holder.reload('SIGHUP')).toBe(false);
    expect(w.names()).toEqual(['quiet-batch', 'correlation burst']);
  });

  it('is accepted with rules.allowEmpty', () => {
    const file = join(freshDir(), 'rules.yaml');
    writeFileSync(file, rules('a'));
    const w = start(file, { watch: false, allowEmpty: true });
    writeFileSync(file, '');

    expect(w.holder.reload('SIGHUP')).toBe(true);
    expect(w.reloads).toEqual([true]);
    expect(w.names()).toEqual([]);
  });

  it('does not stop an empty file at start (with a warning naming it), nor a reload that keeps it empty', () => {
    const file = join(freshDir(), 'rules.yaml');
    writeFileSync(file, 'rules: []\n');
    const w = start(file, { watch: false });
    expect(w.logs).toContainEqual(expect.objectContaining({ level: 'warn', file }));
    expect(w.logs.find((l) => l.level === 'warn')?.msg).toContain('rules.allowEmpty');

    expect(w.holder.reload('SIGHUP')).toBe(true);
    writeFileSync(file, rules('a'));
    expect(w.holder.reload('SIGHUP')).toBe(true);
    writeFileSync(file, '');
    expect(w.holder.reload('SIGHUP')).toBe(false);
    expect(w.reloads).toEqual([true, true, false]);
    expect(w.names()).toEqual(['a']);
  });

  it('does not warn at start about an empty file with rules.allowEmpty', () => {
    const file = join(freshDir(), 'rules.yaml');
    writeFileSync(file, '');
    const w = start(file, { watch: false, allowEmpty: true });
    expect(w.logs.filter((l) => l.level === 'warn')).toEqual([]);
  });
});

describe('a rules file caught mid-update', () => {
  it.each([
    ['half-written YAML', (file: string) => writeFileSync(file, 'rules:\n  - { name: b, match: { namesp')],
    [
      'a path that is now a directory',
      (file: string) => {
        unlinkSync(file);
        mkdirSync(file);
      },
    ],
    [
      'a dangling symlink',
      (file: string) => {
        unlinkSync(file);
        symlinkSync(join('..data', 'rules.yaml'), file);
      },
    ],
  ])('keeps the rules in force: %s', (_, breakIt) => {
    const file = join(freshDir(), 'rules.yaml');
    writeFileSync(file, rules('a'));
    const w = start(file, { watch: false });
    breakIt(file);

    expect(w.holder.reload('SIGHUP')).toBe(false);
    expect(w.reloads).toEqual([false]);
    expect(w.names()).toEqual(['a']);
    expect(w.logs.find((l) => l.level === 'error')?.errors?.[0]).toContain(file);
  });
});

describe('watching the rules file', () => {
  it('reloads a file written in place', async () => {
    const file = join(freshDir(), 'rules.yaml');
    writeFileSync(file, rules('a'));
    const w = start(file);
    writeFileSync(file, rules('b'));
    await until(() => w.names().join() === 'b', 'the rewritten rules');
    expect(w.reloads).toEqual([true]);
  });

  it('refuses, through the watch, a write that empties the file', async () => {
    const file = join(freshDir(), 'rules.yaml');
    writeFileSync(file, rules('a'));
    const w = start(file);
    writeFileSync(file, '');
    await until(() => w.reloads.length > 0, 'a reload');
    expect(w.reloads).toEqual([false]);
    expect(w.names()).toEqual(['a']);
  });

  it('keeps watching after the file is deleted and recreated, again and again', async () => {
    const file = join(freshDir(), 'rules.yaml');
    writeFileSync(file, rules('a'));
    const w = start(file);
    for (const [previous, next] of [
      ['a', 'b'],
      ['b', 'c'],
    ] as const) {
      const before = w.reloads.length;
      unlinkSync(file);
      // The deletion alone is seen and keeps the rules in force (the file cannot be read).
      await until(() => w.reloads.length > before, `the deletion of ${previous}`);
      expect(w.reloads.at(-1)).toBe(false);
      expect(w.names()).toEqual([previous]);
      writeFileSync(file, rules(next));
      await until(() => w.names().join() === next, `the recreated rules ${next}`);
      expect(w.reloads.at(-1)).toBe(true);
    }
  });

  it('follows ConfigMap updates (the ..data symlink swap), twice in a row', async () => {
    const volume = configMapVolume(rules('a'));
    const w = start(volume.file);
    for (const next of ['b', 'c']) {
      const removeOld = volume.update(rules(next));
      await until(() => w.names().join() === next, `the ConfigMap update to ${next}`);
      removeOld();
    }
    expect(w.reloads.every((ok) => ok)).toBe(true);
  });

  it('refuses a ConfigMap update that empties rules.yaml', async () => {
    const volume = configMapVolume(rules('a'));
    const w = start(volume.file);
    volume.update('rules: []\n');
    await until(() => w.reloads.length > 0, 'a reload');
    expect(w.reloads).toEqual([false]);
    expect(w.names()).toEqual(['a']);
  });

  it('releases every watcher on close(), re-armed ones included', async () => {
    const watchers = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
    await loopTurn();
    const baseline = watchers();
    const file = join(freshDir(), 'rules.yaml');
    writeFileSync(file, rules('a'));
    const w = start(file);
    expect(watchers()).toBeGreaterThan(baseline);
    // Replace the file a few times so the file watch is re-armed on new inodes.
    for (const next of ['b', 'c', 'd']) {
      writeFileSync(`${file}.tmp`, rules(next));
      renameSync(`${file}.tmp`, file);
      await until(() => w.names().join() === next, `the replaced rules ${next}`);
    }
    w.holder.close();
    await until(() => watchers() === baseline, 'every watcher to be released');
  });

  it('does not reload after close(), even with a reload already scheduled', async () => {
    const file = join(freshDir(), 'rules.yaml');
    writeFileSync(file, rules('a'));
    const closed = start(file);
    // A second holder on the same file is the clock: once its debounced reload ran, so would have the first's.
    const witness = start(file);
    writeFileSync(file, rules('b'));
    await loopTurn();
    expect(closed.reloads).toEqual([]);
    closed.holder.close();
    // Only the witness sees this one, and its reload comes a full debounce after it.
    writeFileSync(file, rules('c'));
    await until(() => witness.names().join() === 'c', "the witness's reload");
    expect(closed.reloads).toEqual([]);
    expect(closed.names()).toEqual(['a']);
  });
});
