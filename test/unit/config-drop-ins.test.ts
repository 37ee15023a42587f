import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../src/config/config-error.js';
import { loadConfig } from '../../src/config/load-config.js';

/** A perch.yaml and its drop-in directory in a fresh directory; returns perch.yaml's path. */
function configDir(main: string, dropIns: Record<string, string> = {}, includeDir = 'conf.d'): string {
  const dir = mkdtempSync(join(tmpdir(), 'perch-drop-ins-'));
  mkdirSync(join(dir, includeDir), { recursive: true });
  for (const [name, text] of Object.entries(dropIns)) writeFileSync(join(dir, includeDir, name), text);
  writeFileSync(join(dir, 'perch.yaml'), main);
  return join(dir, 'perch.yaml');
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const problems = (err: ConfigError) => err.problems.map((p) => `${p.path}: ${p.message}`);

describe('drop-in configuration files (includeDir)', () => {
  it('deep-merges mappings: each drop-in adds its settings and keeps everything else', () => {
    const path = configDir(
      'includeDir: conf.d\nlog: {level: warn}\nkubernetes: {enabled: false, labels: [team]}\n',
      {
        '50-grpc.yaml': 'sources:\n  grpc: {enabled: true, address: unix:///run/falco/falco.sock}\n',
        '50-owners.yaml': 'kubernetes: {watchOwners: true, watchNamespaces: true}\n',
      },
    );
    const config = loadConfig({ path, env: {} });
    expect(config.sources.grpc).toMatchObject({ enabled: true, address: 'unix:///run/falco/falco.sock' });
    expect(config.sources.http.enabled).toBe(true);
    expect(config.kubernetes).toMatchObject({
      enabled: false,
      labels: ['team'],
      watchOwners: true,
      watchNamespaces: true,
    });
    expect(config.log.level).toBe('warn');
  });

  it('applies drop-ins in name order, the later one winning, whatever order they were written in', () => {
    const path = configDir('includeDir: conf.d\nlog: {level: info}\n', {
      '90-site.yaml': 'log: {level: error}\n',
      '10-first.yaml': 'log: {level: debug}\nserver: {shutdownGrace: 5s}\n',
    });
    const config = loadConfig({ path, env: {} });
    expect(config.log.level).toBe('error');
    expect(config.server.shutdownGrace).toBe(5000);
  });

  it('replaces lists instead of appending to them', () => {
    const path = configDir('includeDir: conf.d\nrules: {files: [/a.yaml, /b.yaml]}\n', {
      'x.yaml': 'rules: {files: [/c.yaml]}\n',
    });
    expect(loadConfig({ path, env: {} }).rules.files).toEqual(['/c.yaml']);
  });

  it('resolves a relative includeDir from the directory of perch.yaml, not the working directory', () => {
    const path = configDir(
      'includeDir: elsewhere/drop-ins\n',
      { 'a.yaml': 'log: {level: trace}\n' },
      'elsewhere/drop-ins',
    );
    expect(loadConfig({ path, env: {} }).log.level).toBe('trace');
  });

  it('reads a mounted ConfigMap: files through its ..data link, hidden entries and other names ignored', () => {
    const path = configDir('includeDir: conf.d\n');
    const confD = join(path, '..', 'conf.d');
    // What the kubelet writes: a timestamped directory, ..data pointing at it, one link per key.
    const version = join(confD, '..2026_01_01_00_00_00.000000001');
    mkdirSync(version);
    writeFileSync(join(version, 'owner-lookup.yaml'), 'kubernetes: {watchOwners: true}\n');
    symlinkSync('..2026_01_01_00_00_00.000000001', join(confD, '..data'));
    symlinkSync('..data/owner-lookup.yaml', join(confD, 'owner-lookup.yaml'));
    writeFileSync(join(confD, '.owner-lookup.yaml.swp'), 'not: yaml: at all: [');
    writeFileSync(join(confD, 'README.md'), '# notes\n');
    writeFileSync(join(confD, 'old.yaml.bak'), 'log: {level: nonsense}\n');
    expect(loadConfig({ path, env: {} }).kubernetes.watchOwners).toBe(true);
  });

  it('takes an empty drop-in (an empty ConfigMap key) as adding nothing', () => {
    const path = configDir('includeDir: conf.d\nlog: {level: warn}\n', { 'empty.yaml': '' });
    expect(loadConfig({ path, env: {} }).log.level).toBe('warn');
  });

  it('interpolates ${ENV} in drop-ins like in perch.yaml', () => {
    const path = configDir('includeDir: conf.d\n', { 'node.yaml': 'nodeName: ${NODE_NAME}\n' });
    expect(loadConfig({ path, env: { NODE_NAME: 'node-7' } }).nodeName).toBe('node-7');
  });

  it('ignores a conf.d directory that perch.yaml does not name', () => {
    const path = configDir('log: {level: warn}\n', { 'a.yaml': 'log: {level: debug}\n' });
    expect(loadConfig({ path, env: {} }).log.level).toBe('warn');
  });

  describe('errors name the file to edit', () => {
    it('a bad value: the drop-in that set it', () => {
      const path = configDir('includeDir: conf.d\nlog: {level: info}\n', {
        'a.yaml': 'log: {level: loud}\n',
      });
      const err = errorOf(() => loadConfig({ path, env: {} }));
      expect(problems(err)).toEqual([
        `log.level: got "loud", expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent" (in ${join(path, '..', 'conf.d', 'a.yaml')})`,
      ]);
      expect(err.source).toBe(`${path} with drop-ins from ${join(path, '..', 'conf.d')}`);
    });

    it('an unknown key: only the file that has it, though its mapping spans several files', () => {
      const path = configDir('includeDir: conf.d\nkubernetes: {enabled: false}\n', {
        'a.yaml': 'kubernetes: {watchOwner: true}\n',
      });
      expect(problems(errorOf(() => loadConfig({ path, env: {} })))).toEqual([
        `kubernetes: unknown key "watchOwner" (check the spelling) (in ${join(path, '..', 'conf.d', 'a.yaml')})`,
      ]);
    });

    it('a value perch.yaml set and no drop-in overrode: perch.yaml', () => {
      const path = configDir('includeDir: conf.d\nserver: {listen: nowhere}\n', {
        'a.yaml': 'log: {level: warn}\n',
      });
      expect(problems(errorOf(() => loadConfig({ path, env: {} }))).join('\n')).toContain(`(in ${path})`);
    });

    it('a YAML syntax error: the file, every broken file at once', () => {
      const path = configDir('includeDir: conf.d\n', {
        'a.yaml': 'log: {level: [\n',
        'b.yaml': '- a list\n',
        'c.yaml': 'log: {level: warn}\n',
      });
      const confD = join(path, '..', 'conf.d');
      const lines = problems(errorOf(() => loadConfig({ path, env: {} })));
      const inA = lines.filter((l) => l.endsWith(`(in ${join(confD, 'a.yaml')})`));
      expect(inA.length).toBeGreaterThan(0);
      for (const line of inA) expect(line).toMatch(/^: YAML syntax: .*line \d+, column \d+/);
      expect(lines.slice(inA.length)).toEqual([
        `: expected a mapping of settings at the top level (in ${join(confD, 'b.yaml')})`,
      ]);
    });

    it('a single broken drop-in is the error source itself', () => {
      const path = configDir('includeDir: conf.d\n', { 'a.yaml': 'log: {level: [\n' });
      expect(errorOf(() => loadConfig({ path, env: {} })).source).toBe(join(path, '..', 'conf.d', 'a.yaml'));
    });

    it('a missing directory: perch.yaml, naming the directory it looked for', () => {
      const missing = configDir('includeDir: nowhere.d\n');
      const err = errorOf(() => loadConfig({ path: missing, env: {} }));
      expect(err.source).toBe(missing);
      expect(problems(err)).toEqual([
        `includeDir: cannot read the drop-in directory "${join(missing, '..', 'nowhere.d')}" (ENOENT): expected a directory of *.yaml files`,
      ]);
    });

    it('includeDir in a drop-in: drop-ins do not nest', () => {
      const path = configDir('includeDir: conf.d\n', { 'a.yaml': 'includeDir: more.d\n' });
      expect(problems(errorOf(() => loadConfig({ path, env: {} })))).toEqual([
        `includeDir: only ${path} may set includeDir: drop-ins do not include further directories`,
      ]);
    });

    it('includeDir that is not a path', () => {
      const path = configDir('includeDir: [a, b]\n');
      expect(problems(errorOf(() => loadConfig({ path, env: {} })))).toEqual([
        'includeDir: got a list, expected the path of a directory',
      ]);
    });
  });

  it('keeps a __proto__ key in a drop-in a reported key, never the prototype of a setting', () => {
    const path = configDir('includeDir: conf.d\n', { 'a.yaml': 'log:\n  __proto__: {level: debug}\n' });
    const err = errorOf(() => loadConfig({ path, env: {} }));
    expect(problems(err).join('\n')).toMatch(/^log: unknown key "__proto__".*\(in .*a\.yaml\)$/m);
  });
});
