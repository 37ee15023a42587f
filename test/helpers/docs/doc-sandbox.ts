import { copyFileSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
export const DEMO_ALERTS = join(REPO, 'examples/demo/alerts.jsonl');
const DEMO_CLUSTER = join(REPO, 'examples/demo/cluster.json');
const CERTS = join(REPO, 'test/fixtures/certs');

/**
 * The world a documented command or snippet presupposes, built in a temporary directory so that
 * running it touches nothing outside:
 * - the working directory has the repository's `examples/` and `rules/`, and the files the docs
 *   name as the reader's own: `perch.yaml` (the defaults), `cluster.json` (a `kubectl get
 *   pods,runtimeclasses -o json` dump: the demo's), `alerts.jsonl` and `recorded.jsonl` (Falco's
 *   JSON lines: the demo's), `ca.crt`, `client.crt` and `client.key` (certificates for Falco's
 *   gRPC over TCP: the test suite's);
 * - absolute paths under /etc, /var, /run, /opt, /srv, /home and /mnt are moved under `root/`;
 * - a secret given as `file:PATH`, a rules file, a pods dump, a kubeconfig or TLS files that a
 *   snippet names are there (stand-ins), and every `${NAME}` it uses without a default is set.
 */
export class DocSandbox {
  readonly dir: string;
  readonly root: string;
  readonly env: Record<string, string> = {};

  constructor(base: string, name: string) {
    this.dir = mkdtempSync(join(base, `${name}-`));
    this.root = join(this.dir, 'root');
    mkdirSync(this.root);
    for (const shared of ['examples', 'rules']) symlinkSync(join(REPO, shared), join(this.dir, shared));
    writeFileSync(join(this.dir, 'perch.yaml'), "# the reader's perch.yaml: Perch's defaults\n{}\n");
    copyFileSync(DEMO_CLUSTER, join(this.dir, 'cluster.json'));
    copyFileSync(DEMO_ALERTS, join(this.dir, 'alerts.jsonl'));
    copyFileSync(DEMO_ALERTS, join(this.dir, 'recorded.jsonl'));
    for (const file of ['ca.crt', 'client.crt', 'client.key'])
      copyFileSync(join(CERTS, file), join(this.dir, file));
  }

  /** The text with its absolute file paths moved under `root/` (URLs and their paths stay). */
  remap(text: string): string {
    return text.replace(
      /(?<=^|[\s:"'=[{,(]|unix:\/\/)\/(etc|var|run|opt|srv|home|mnt)(?=\/)/g,
      (_, top: string) => `${this.root}/${top}`,
    );
  }

  /** Sets every `${NAME}` the text uses without a default, as the reader's environment would. */
  provideEnv(text: string): void {
    for (const m of text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
      const name = m[1] as string;
      this.env[name] = /URL$/.test(name) ? 'http://127.0.0.1:9/stand-in' : `stand-in-${name.toLowerCase()}`;
    }
  }

  /** Creates the files a (remapped) perch.yaml names and expects to exist. */
  provideFiles(config: unknown, path: string[] = []): void {
    if (typeof config === 'string') {
      if (config.startsWith('file:'))
        this.standIn(config.slice(5), () =>
          path.at(-1) === 'url' ? 'http://127.0.0.1:9/stand-in\n' : 'stand-in-secret\n',
        );
      const at = path.join('.');
      if (at === 'rules.files') this.standIn(config, () => 'rules: []\n');
      if (at === 'kubernetes.podsFile') this.standIn(config, () => DEMO_CLUSTER);
      if (at === 'includeDir') mkdirSync(this.inside(config), { recursive: true });
      return;
    }
    if (Array.isArray(config)) {
      for (const item of config) this.provideFiles(item, path);
      return;
    }
    if (config === null || typeof config !== 'object') return;
    const tree = config as Record<string, unknown>;
    if (path.at(-1) === 'kubernetes' && typeof tree.kubeconfig === 'string') {
      this.standIn(tree.kubeconfig, () =>
        kubeconfig(typeof tree.context === 'string' ? tree.context : 'stand-in'),
      );
    }
    if (path.at(-1) === 'tls') {
      // The bridge (under sinks) serves; the gRPC input is Falco's client.
      const side = path[0] === 'sinks' ? 'server' : 'client';
      const certs: Record<string, string> = { ca: 'ca.crt', cert: `${side}.crt`, key: `${side}.key` };
      for (const [key, file] of Object.entries(certs))
        if (typeof tree[key] === 'string') this.standIn(tree[key], () => join(CERTS, file));
    }
    for (const [key, value] of Object.entries(tree)) this.provideFiles(value, [...path, key]);
  }

  /** The environment of a documented command: the stand-ins, and nothing of this machine's cluster or config. */
  childEnv(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.dir,
      TMPDIR: this.dir,
      NO_COLOR: '1',
      ...this.env,
    };
  }

  /**
   * Writes a stand-in where nothing is yet. `content` returns the text, or the path of a
   * repository file to copy.
   */
  private standIn(path: string, content: () => string): void {
    const target = this.inside(path);
    if (existsSync(target)) return;
    mkdirSync(dirname(target), { recursive: true });
    const value = content();
    if (value.startsWith(REPO)) copyFileSync(value, target);
    else writeFileSync(target, value);
  }

  private inside(path: string): string {
    const target = resolve(this.dir, path);
    if (relative(this.dir, target).startsWith('..'))
      throw new Error(`a stand-in for ${path} would be written outside the sandbox ${this.dir}`);
    return target;
  }
}

/** A kubeconfig for an API server that is not there: Perch starts and reports its watches failing. */
function kubeconfig(context: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters: [{name: stand-in, cluster: {server: "https://127.0.0.1:9"}}]',
    'users: [{name: stand-in, user: {token: stand-in}}]',
    `contexts: [{name: ${JSON.stringify(context)}, context: {cluster: stand-in, user: stand-in}}]`,
    `current-context: ${JSON.stringify(context)}`,
    '',
  ].join('\n');
}
