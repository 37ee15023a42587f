import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/config/config-error.js';
import { loadConfig, validateConfig } from '../../src/config/load-config.js';
import type { PerchConfig } from '../../src/config/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'perch-fuzz-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const secretFile = join(dir, 'token');
writeFileSync(secretFile, 's3cret-from-file\n');
const emptyFile = join(dir, 'empty');
writeFileSync(emptyFile, '');
const subdir = join(dir, 'a-directory');
mkdirSync(subdir);

let fileCount = 0;
function yamlFile(content: string | Uint8Array): string {
  fileCount += 1;
  const path = join(dir, `perch-${fileCount}.yaml`);
  writeFileSync(path, content);
  return path;
}

/** Either a config (every number in it finite) or a ConfigError whose problems each say where and what. */
function configOrProblems(load: () => PerchConfig): PerchConfig | ConfigError {
  let config: PerchConfig;
  try {
    config = load();
  } catch (err) {
    if (!(err instanceof ConfigError)) {
      const name = err instanceof Error ? `${err.name}: ${err.message.slice(0, 300)}` : String(err);
      throw new Error(`expected a ConfigError, got ${name}`);
    }
    expect(err.problems.length).toBeGreaterThan(0);
    for (const p of err.problems) {
      expect(typeof p.path).toBe('string');
      expect(typeof p.message).toBe('string');
      expect(p.message.trim().length).toBeGreaterThan(0);
    }
    expect(err.message.length).toBeGreaterThan(0);
    return err;
  }
  expect(typeof config).toBe('object');
  assertFiniteNumbers(config, 'config');
  expect(config.server.listen.port).toBeGreaterThanOrEqual(0);
  expect(config.server.listen.port).toBeLessThanOrEqual(65535);
  return config;
}

function assertFiniteNumbers(value: unknown, path: string): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${path} is ${value}`);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  for (const [k, v] of Object.entries(value)) assertFiniteNumbers(v, `${path}.${k}`);
}

// ---------------------------------------------------------------- generators

const ENV: NodeJS.ProcessEnv = {
  HOME: '/root',
  TOKEN: 's3cret',
  EMPTY: '',
  NODE_NAME: 'worker-1',
  LISTEN: '127.0.0.1:0',
  NESTED: '${TOKEN}',
  DOLLARS: '$$',
  SECRET_FILE: `file:${secretFile}`,
};
const envName = fc.constantFrom(...Object.keys(ENV), 'UNSET', 'ALSO_UNSET', '_x9');

/** Strings mixing text with `${VAR}`, `${VAR:-default}`, `$$` and broken references. */
const referenceString = fc
  .array(
    fc.oneof(
      fc.string({ maxLength: 6 }),
      envName.map((n) => `\${${n}}`),
      fc.tuple(envName, fc.string({ maxLength: 6 })).map(([n, d]) => `\${${n}:-${d}}`),
      fc.constantFrom('$$', '${', '}', '$', '${1BAD}', '${A B}', '${:-x}'),
    ),
    { maxLength: 4 },
  )
  .map((parts) => parts.join(''));

/** Values Perch's settings take, right and wrong. */
const plausible = fc.constantFrom(
  '10s',
  '500ms',
  '1.5m',
  '2h',
  '0s',
  '-1s',
  '10',
  '1d',
  '1e3s',
  ' 5s ',
  '',
  'auto',
  'Critical',
  'WARNING',
  '>=Warning',
  'info',
  'silent',
  '127.0.0.1:0',
  ':2804',
  '[::1]:2804',
  '0.0.0.0:99999',
  'host:-1',
  'unix:///run/falco/falco.sock',
  'unix:relative.sock',
  'localhost:5060',
  '[::1]:5060',
  'http://example.invalid/hook',
  'https://hooks.example.invalid/x',
  'ftp://nope',
  'console',
  'json',
  'text',
  'always',
  'sub',
  'get',
  '/',
  '/falco',
  'no-slash',
  `file:${secretFile}`,
  `file:${emptyFile}`,
  `file:${subdir}`,
  `file:${join(dir, 'missing')}`,
  'file:',
  'rule',
  'workload',
  'namespace',
  '__proto__',
  'constructor',
);

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: plausible },
  { weight: 2, arbitrary: referenceString },
  fc.boolean(),
  fc.integer({ min: -5, max: 100_000 }),
  fc.constantFrom(0, 1, -1, 0.5, 2 ** 31, 2 ** 53, 1e21, Number.MAX_VALUE, Number.NaN),
  fc.constant(null),
  fc.string({ unit: 'binary', maxLength: 16 }),
);

function tree(keys: readonly string[], depth: number): fc.Arbitrary<unknown> {
  if (depth <= 0) return leaf;
  const child = tree(keys, depth - 1);
  return fc.oneof(
    { weight: 3, arbitrary: leaf },
    { weight: 1, arbitrary: fc.array(child, { maxLength: 3 }) },
    {
      weight: 2,
      arbitrary: fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 6 })), child, {
        maxKeys: 4,
      }),
    },
  );
}

const SECTION_KEYS: Record<string, readonly string[]> = {
  log: ['level'],
  server: ['listen', 'shutdownGrace'],
  kubernetes: [
    'enabled',
    'kubeconfig',
    'context',
    'watchNamespaces',
    'watchOwners',
    'labels',
    'annotations',
    'isolation',
    'pendingTimeout',
    'maxPending',
    'deletedPodGrace',
    'podsFile',
  ],
  metrics: ['eventLabels', 'maxSeries', 'falcoExporterCompat'],
  delivery: ['spoolPath', 'spoolMaxEntries'],
  pipeline: ['bufferSize', 'maxCorrelationGroups', 'allowedLateness'],
  rules: ['defaults', 'files', 'watch', 'dedup', 'key', 'window', 'maxKeys'],
  sources: [
    'http',
    'grpc',
    'files',
    'stdin',
    'enabled',
    'path',
    'maxBodyBytes',
    'token',
    'address',
    'mode',
    'pollInterval',
    'tls',
    'ca',
    'cert',
    'key',
    'serverName',
    'reconnectInitial',
    'reconnectMax',
    'fromBeginning',
    'positionFile',
    'maxLineBytes',
  ],
};

const SINK_KEYS = [
  'type',
  'url',
  'format',
  'color',
  'minPriority',
  'listen',
  'tls',
  'bufferSize',
  'enrichedFields',
  'namespaces',
  'rateLimit',
  'perSecond',
  'burst',
  'timeout',
  'retry',
  'initial',
  'max',
  'giveUpAfter',
  'queueSize',
  'spoolMinPriority',
  'template',
  'signingSecret',
  'headers',
  'botToken',
  'chatId',
  'apiUrl',
  'urls',
  'labels',
  'resolveAfter',
  'resendInterval',
  'incidentActiveFor',
  'endpoint',
  'protocol',
  'compression',
];

const SINK_TYPES = [
  'console',
  'grpc-bridge',
  'slack',
  'mattermost',
  'teams',
  'discord',
  'googlechat',
  'telegram',
  'webhook',
  'alertmanager',
  'otlp',
  'bogus',
];

const sink = fc
  .record({
    type: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...SINK_TYPES) }, leaf),
    rest: fc.dictionary(fc.constantFrom(...SINK_KEYS), tree(SINK_KEYS, 2), { maxKeys: 5 }),
  })
  .map(({ type, rest }) => ({ ...rest, type }));

/** Trees with Perch's real top-level keys, section keys and plausible values, plus noise. */
const configTree: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    nodeName: leaf,
    ...Object.fromEntries(
      Object.entries(SECTION_KEYS).map(([section, keys]) => [
        section,
        fc.oneof({ weight: 5, arbitrary: tree(keys, 3) }, leaf),
      ]),
    ),
    sinks: fc.oneof(
      {
        weight: 5,
        arbitrary: fc.dictionary(
          fc.oneof(fc.constantFrom('out', 'slack', 'a_b-1'), fc.string({ maxLength: 8 })),
          sink,
          { maxKeys: 3 },
        ),
      },
      leaf,
    ),
    bogus: leaf,
  },
  { requiredKeys: [] },
);

/** Valid configurations (for ENV): the starting points of `nearValid`. */
const VALID_BASES: readonly Record<string, unknown>[] = [
  {},
  {
    server: { listen: '127.0.0.1:0', shutdownGrace: '5s' },
    log: { level: 'debug' },
    sinks: { out: { type: 'console', format: 'json' } },
    rules: { defaults: false, dedup: { window: '0s', key: ['rule', 'pod'] } },
  },
  {
    nodeName: '${NODE_NAME}',
    sources: {
      http: { path: '/falco', maxBodyBytes: 2048, token: '${TOKEN}' },
      grpc: { enabled: true, address: 'unix:///run/falco/falco.sock', mode: 'get', pollInterval: '1s' },
      files: [{ path: '/var/log/falco.json', fromBeginning: true }],
    },
    kubernetes: { enabled: false, isolation: { 'kata*': 'vm' }, labels: ['app'] },
    metrics: { eventLabels: ['rule', 'priority'], maxSeries: 10 },
    sinks: {
      slack: { type: 'slack', url: 'https://hooks.example.invalid/x', minPriority: 'Warning' },
      hook: { type: 'webhook', url: '${SECRET_FILE}', headers: { 'x-a': 'b' }, retry: { max: '1m' } },
      am: { type: 'alertmanager', urls: ['http://am.invalid:9093'], labels: { cluster: 'c1' } },
      tg: { type: 'telegram', botToken: 'file:${HOME}', chatId: 42 },
    },
  },
];

const EDIT_PATHS = [
  'nodeName',
  'log.level',
  'server.listen',
  'server.shutdownGrace',
  'kubernetes.enabled',
  'kubernetes.isolation.gvisor',
  'kubernetes.pendingTimeout',
  'kubernetes.maxPending',
  'metrics.eventLabels',
  'metrics.maxSeries',
  'delivery.spoolPath',
  'pipeline.bufferSize',
  'rules.files',
  'rules.dedup.key',
  'rules.dedup.window',
  'sources.http.path',
  'sources.http.maxBodyBytes',
  'sources.http.token',
  'sources.grpc.address',
  'sources.grpc.tls',
  'sources.stdin.enabled',
  'sinks.out.type',
  'sinks.out.minPriority',
  'sinks.slack.url',
  'sinks.slack.rateLimit.perSecond',
  'sinks.hook.headers',
  'sinks.am.urls',
  'sinks.tg.chatId',
  'sinks.Bad Name.type',
];

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

/** A valid configuration with zero to three settings replaced by random (often plausible) values. */
const nearValid: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    base: fc.constantFrom(...VALID_BASES),
    edits: fc.array(fc.record({ path: fc.constantFrom(...EDIT_PATHS), value: tree(SINK_KEYS, 1) }), {
      maxLength: 3,
    }),
  })
  .map(({ base, edits }) => {
    const copy = structuredClone(base);
    for (const e of edits) setPath(copy, e.path, e.value);
    return copy;
  });

const randomEnv: fc.Arbitrary<NodeJS.ProcessEnv> = fc.oneof(
  fc.constant(ENV),
  fc.dictionary(envName, fc.oneof(referenceString, plausible), {
    maxKeys: 5,
  }),
);

/** Anything JavaScript can hold, including what no YAML parser would give. */
const anyValue = fc.anything({
  maxDepth: 4,
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withTypedArray: true,
  withSparseArray: true,
  withBoxedValues: true,
  stringUnit: 'binary',
});

// ---------------------------------------------------------------- properties

describe('fuzz: validateConfig', () => {
  it('anything at all: a config or a ConfigError', () => {
    fc.assert(
      fc.property(anyValue, randomEnv, (raw, env) => {
        configOrProblems(() => validateConfig(raw, 'fuzz', env));
      }),
      { numRuns: 300 },
    );
  });

  it('anything under each real top-level key', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          'nodeName',
          'log',
          'server',
          'kubernetes',
          'metrics',
          'delivery',
          'pipeline',
          'rules',
          'sources',
          'sinks',
        ),
        anyValue,
        (key, value) => {
          configOrProblems(() => validateConfig({ [key]: value }, 'fuzz', ENV));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('schema-shaped trees with random values and ${ENV} references', () => {
    fc.assert(
      fc.property(configTree, randomEnv, (raw, env) => {
        configOrProblems(() => validateConfig(raw, 'fuzz', env));
      }),
      { numRuns: 300 },
    );
  });

  it('valid configs with a few settings replaced', () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(nearValid, (raw) => {
        if (configOrProblems(() => validateConfig(raw, 'fuzz', ENV)) instanceof ConfigError) rejected += 1;
        else accepted += 1;
      }),
      { numRuns: 400 },
    );
    // The generator reaches both sides of the schema.
    expect(accepted).toBeGreaterThan(20);
    expect(rejected).toBeGreaterThan(20);
  });

  it('an unset ${VAR} is always reported at its key, once', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('nodeName', 'server.listen', 'sources.http.token', 'delivery.spoolPath'),
        fc
          .string({ unit: fc.constantFrom(...'ABCXYZ_019'.split('')), minLength: 1, maxLength: 8 })
          .filter((n) => /^[A-Za-z_]/.test(n)),
        (path, name) => {
          const [a, b, c] = path.split('.') as [string, string?, string?];
          const value = `\${${name}}`;
          const raw = c
            ? { [a]: { [b as string]: { [c]: value } } }
            : b
              ? { [a]: { [b]: value } }
              : { [a]: value };
          const result = configOrProblems(() => validateConfig(raw, 'fuzz', {}));
          expect(result).toBeInstanceOf(ConfigError);
          const problems = (result as ConfigError).problems.filter((p) => p.path === path);
          expect(problems).toHaveLength(1);
          expect(problems[0]?.message).toContain(name);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('fuzz: loadConfig on random files', () => {
  const yamlText = fc.oneof(
    nearValid.map((t) => stringify(t)),
    configTree.map((t) => stringify(t)),
    configTree.map((t) => stringify(t, { indent: 4, collectionStyle: 'flow' })),
    configTree.map((t) => JSON.stringify(t) ?? ''),
  );

  /** Valid YAML, damaged: characters dropped, inserted, or lines swapped. */
  const damaged = fc
    .tuple(
      yamlText,
      fc.array(
        fc.record({
          at: fc.nat(),
          drop: fc.integer({ min: 0, max: 3 }),
          insert: fc.oneof(
            fc.constantFrom(
              ':',
              '- ',
              '  ',
              '\t',
              '\n',
              '{',
              '}',
              '[',
              ']',
              '"',
              "'",
              '&a ',
              '*a',
              '!!binary ',
              '? ',
              '|',
              '>',
              '#',
              '%YAML 1.1\n',
              '---\n',
              '...\n',
              '<<: ',
              '\u0000',
              '\uFEFF',
            ),
            fc.string({ unit: 'binary', maxLength: 3 }),
          ),
        }),
        { maxLength: 5 },
      ),
    )
    .map(([text, edits]) => {
      let out = text;
      for (const e of edits) {
        const at = out.length === 0 ? 0 : e.at % out.length;
        out = out.slice(0, at) + e.insert + out.slice(at + e.drop);
      }
      return out;
    });

  const tokenSoup = fc
    .array(
      fc.constantFrom(
        'server',
        'listen',
        ':',
        ' ',
        '\n',
        '  ',
        '- ',
        '{',
        '}',
        '[',
        ']',
        ',',
        '"',
        "'",
        '&x',
        '*x',
        '!!str',
        '!!int',
        '!!map',
        '!foo',
        '? ',
        '10s',
        '${TOKEN}',
        '---',
        '#',
        '|',
        '>-',
        'null',
        '~',
        '.inf',
        '0x1F',
        '1e400',
      ),
      { maxLength: 40 },
    )
    .map((parts) => parts.join(''));

  const contents: fc.Arbitrary<string | Uint8Array> = fc.oneof(
    { weight: 3, arbitrary: yamlText },
    { weight: 3, arbitrary: damaged },
    { weight: 2, arbitrary: tokenSoup },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  );

  it('random file contents (YAML, damaged YAML, token soup, binary): a config or a ConfigError', () => {
    fc.assert(
      // Aliases (`*name`) are a KNOWN BUG below: doc.toJS() throws for unresolved ones and bombs.
      fc.property(
        contents.filter((c) => !/\*[^\s*]/.test(Buffer.from(c).toString('utf8'))),
        randomEnv,
        (content, env) => {
          const path = yamlFile(content);
          configOrProblems(() => loadConfig({ path, env }));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a path that is a directory or does not exist is a ConfigError', () => {
    expect(configOrProblems(() => loadConfig({ path: subdir, env: {} }))).toBeInstanceOf(ConfigError);
    expect(configOrProblems(() => loadConfig({ path: join(dir, 'nope.yaml'), env: {} }))).toBeInstanceOf(
      ConfigError,
    );
  });
});

describe('fuzz: KNOWN BUGS in config loading (found by fuzzing: knownBug = still open, it = fixed and kept as a regression test)', () => {
  it('${NAME} resolves inherited Object properties (constructor, toString, …) instead of "not set"', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          'constructor',
          'toString',
          'valueOf',
          'hasOwnProperty',
          '__proto__',
          'isPrototypeOf',
          '__defineGetter__',
        ),
        (name) => {
          const result = configOrProblems(() => validateConfig({ nodeName: `\${${name}}` }, 'fuzz', {}));
          expect(result).toBeInstanceOf(ConfigError);
        },
      ),
      { numRuns: 7 },
    );
  });

  it('a __proto__ key is never reported as unknown, and settings under it take effect', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          '__proto__:\n  nodeName: sneaky\n',
          'server:\n  __proto__:\n    listen: 127.0.0.1:1\n',
          'sources:\n  http:\n    __proto__:\n      maxBodyBytes: 5\n',
          // Maps of names (zod records) drop the key silently unless Perch reports it.
          'sinks:\n  w:\n    type: webhook\n    url: http://x\n    headers:\n      __proto__: x\n',
          'kubernetes:\n  isolation:\n    __proto__: host\n',
        ),
        (text) => {
          const result = configOrProblems(() => loadConfig({ path: yamlFile(text), env: {} }));
          expect(result).toBeInstanceOf(ConfigError);
          expect((result as ConfigError).problems.map((p) => p.message).join('\n')).toContain('"__proto__"');
        },
      ),
      { numRuns: 5 },
    );
  });

  it('an unresolved alias (*x) escapes as ReferenceError instead of a ConfigError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('*x', 'a: *x', 'server: {listen: *nope}', '- *a', 'x: &a 1\ny: *b'),
        (text) => {
          configOrProblems(() => loadConfig({ path: yamlFile(text), env: {} }));
        },
      ),
      { numRuns: 5 },
    );
  });

  it('a YAML alias bomb escapes as ReferenceError instead of a ConfigError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 8 }), fc.integer({ min: 5, max: 10 }), (levels, width) => {
        const lines = [`a0: &a0 [${Array(width).fill('"x"').join(', ')}]`];
        for (let i = 1; i < levels; i++)
          lines.push(
            `a${i}: &a${i} [${Array(width)
              .fill(`*a${i - 1}`)
              .join(', ')}]`,
          );
        configOrProblems(() => loadConfig({ path: yamlFile(lines.join('\n')), env: {} }));
      }),
      { numRuns: 10 },
    );
  });

  it('a duration with 309+ digits is accepted as Infinity ms', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 309, max: 400 }),
        fc.constantFrom('ms', 's', 'm', 'h'),
        fc.constantFrom('server.shutdownGrace', 'rules.dedup.window', 'kubernetes.pendingTimeout'),
        (digits, unit, path) => {
          const [a, b, c] = path.split('.') as [string, string, string?];
          const value = `${'9'.repeat(digits)}${unit}`;
          const raw = c ? { [a]: { [b]: { [c]: value } } } : { [a]: { [b]: value } };
          configOrProblems(() => validateConfig(raw, 'fuzz', {}));
        },
      ),
      { numRuns: 20 },
    );
  });
});
