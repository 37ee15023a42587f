import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { validateStartup } from '../../src/app/validate-startup.js';
import type { ConnectionSettings } from '../../src/kube/api-connection.js';
import { TokenFile } from '../../src/kube/bearer-token.js';
import { inClusterSettings } from '../../src/kube/in-cluster.js';
import { type KubeconfigSelection, readKubeconfig } from '../../src/kube/kubeconfig-file.js';

const CERTS = join(process.cwd(), 'test', 'fixtures', 'certs');
const CA = readFileSync(join(CERTS, 'ca.crt'));
const CLIENT_CERT = readFileSync(join(CERTS, 'client.crt'));
const CLIENT_KEY = readFileSync(join(CERTS, 'client.key'));

const freshDir = () => mkdtempSync(join(tmpdir(), 'perch-kubeconfig-'));

interface Kubeconfig {
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
  contexts?: { name: string; context: Record<string, unknown> }[];
  'current-context'?: string;
}

/** One cluster `c`, one user `u`, one context `ctx` joining them, current. */
function simple(cluster: Record<string, unknown>, user: Record<string, unknown>): Kubeconfig {
  return {
    clusters: [{ name: 'c', cluster: { server: 'https://api.example:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
  };
}

function write(dir: string, config: Kubeconfig | string, name = 'config'): string {
  const path = join(dir, name);
  writeFileSync(path, typeof config === 'string' ? config : JSON.stringify(config));
  return path;
}

function direct(selection: KubeconfigSelection): ConnectionSettings {
  if (selection.kind !== 'direct')
    throw new Error(`expected direct settings, got a ${selection.plugin} plugin`);
  return selection.settings;
}

function tokenOf(settings: ConnectionSettings): string {
  if (settings.auth.kind !== 'bearer') throw new Error(`expected a bearer token, got ${settings.auth.kind}`);
  return settings.auth.token.current();
}

describe('readKubeconfig', () => {
  it('a token user over YAML as kubectl writes it', () => {
    const dir = freshDir();
    const path = write(
      dir,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: prod',
        '  cluster:',
        '    server: https://10.0.0.1:6443',
        `    certificate-authority-data: ${CA.toString('base64')}`,
        'users:',
        '- name: perch',
        '  user:',
        '    token: s3cr3t-token',
        'contexts:',
        '- name: prod',
        '  context: {cluster: prod, user: perch, namespace: falco}',
        'current-context: prod',
        '',
      ].join('\n'),
    );
    const selection = readKubeconfig([path]);
    expect(selection).toMatchObject({ kind: 'direct', context: 'prod' });
    const settings = direct(selection);
    expect(settings.server).toBe('https://10.0.0.1:6443');
    expect(settings.tls.ca?.equals(CA)).toBe(true);
    expect(settings.tls.insecureSkipVerify).toBeUndefined();
    expect(tokenOf(settings)).toBe('s3cr3t-token');
  });

  it('resolves certificate-authority, client-certificate, client-key and tokenFile against the kubeconfig’s directory', () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'pki'));
    writeFileSync(join(dir, 'pki', 'ca.crt'), CA);
    writeFileSync(join(dir, 'pki', 'perch.crt'), CLIENT_CERT);
    writeFileSync(join(dir, 'pki', 'perch.key'), CLIENT_KEY);
    writeFileSync(join(dir, 'token'), 'from-a-file\n');
    const path = write(
      dir,
      simple(
        { 'certificate-authority': 'pki/ca.crt' },
        { 'client-certificate': 'pki/perch.crt', 'client-key': 'pki/perch.key', tokenFile: 'token' },
      ),
    );
    // read from another working directory: the paths still resolve next to the kubeconfig
    const settings = direct(readKubeconfig([path]));
    expect(settings.tls.ca?.equals(CA)).toBe(true);
    expect(settings.tls.cert?.equals(CLIENT_CERT)).toBe(true);
    expect(settings.tls.key?.equals(CLIENT_KEY)).toBe(true);
    expect(tokenOf(settings)).toBe('from-a-file');
  });

  it('takes -data fields (base64) over the file fields, as kubectl does', () => {
    const dir = freshDir();
    const path = write(
      dir,
      simple(
        { 'certificate-authority-data': CA.toString('base64'), 'certificate-authority': 'missing.crt' },
        {
          'client-certificate-data': CLIENT_CERT.toString('base64'),
          'client-key-data': CLIENT_KEY.toString('base64'),
        },
      ),
    );
    const settings = direct(readKubeconfig([path]));
    expect(settings.tls.ca?.equals(CA)).toBe(true);
    expect(settings.tls.cert?.equals(CLIENT_CERT)).toBe(true);
    expect(settings.tls.key?.equals(CLIENT_KEY)).toBe(true);
    expect(settings.auth).toEqual({ kind: 'none' });
  });

  it('carries insecure-skip-tls-verify and tls-server-name', () => {
    const path = write(
      freshDir(),
      simple({ 'insecure-skip-tls-verify': true, 'tls-server-name': 'kubernetes.default' }, {}),
    );
    expect(direct(readKubeconfig([path])).tls).toEqual({
      insecureSkipVerify: true,
      servername: 'kubernetes.default',
    });
  });

  it('selects the context named by kubernetes.context over current-context', () => {
    const path = write(freshDir(), {
      clusters: [
        { name: 'dev', cluster: { server: 'https://dev.example' } },
        { name: 'prod', cluster: { server: 'https://prod.example' } },
      ],
      users: [
        { name: 'dev', user: { token: 'dev-token' } },
        { name: 'prod', user: { token: 'prod-token' } },
      ],
      contexts: [
        { name: 'dev', context: { cluster: 'dev', user: 'dev' } },
        { name: 'prod', context: { cluster: 'prod', user: 'prod' } },
      ],
      'current-context': 'dev',
    });
    expect(direct(readKubeconfig([path])).server).toBe('https://dev.example');
    const prod = readKubeconfig([path], 'prod');
    expect(prod.context).toBe('prod');
    expect(direct(prod).server).toBe('https://prod.example');
    expect(tokenOf(direct(prod))).toBe('prod-token');
  });

  it('names a missing context, cluster or user and lists what the kubeconfig has', () => {
    const path = write(freshDir(), simple({}, { token: 't' }));
    expect(() => readKubeconfig([path], 'staging')).toThrow(
      'context "staging" is not in the kubeconfig (contexts: "ctx")',
    );
    const noCluster = write(freshDir(), {
      ...simple({}, {}),
      contexts: [{ name: 'ctx', context: { cluster: 'gone', user: 'u' } }],
    });
    expect(() => readKubeconfig([noCluster])).toThrow(
      'context "ctx" names cluster "gone", which is not in the kubeconfig (clusters: "c")',
    );
    const noUser = write(freshDir(), {
      ...simple({}, {}),
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'ghost' } }],
    });
    expect(() => readKubeconfig([noUser])).toThrow(
      'names user "ghost", which is not in the kubeconfig (users: "u")',
    );
    const noCurrent = write(freshDir(), { ...simple({}, {}), 'current-context': undefined });
    expect(() => readKubeconfig([noCurrent])).toThrow(
      'the kubeconfig has no current-context and kubernetes.context is not set',
    );
  });

  it('names the key and the file when a referenced file cannot be read; never prints a secret', () => {
    const dir = freshDir();
    const path = write(dir, simple({ 'certificate-authority': 'nowhere/ca.crt' }, {}));
    expect(() => readKubeconfig([path])).toThrow(
      `clusters[c].certificate-authority: cannot read ${join(dir, 'nowhere', 'ca.crt')}: ENOENT`,
    );
    const badToken = write(freshDir(), simple({}, { token: 12345 }));
    let message = '';
    try {
      readKubeconfig([badToken]);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('users[u].token is a number; expected a string');
    const halfCert = write(
      freshDir(),
      simple({}, { 'client-certificate-data': CLIENT_CERT.toString('base64') }),
    );
    expect(() => readKubeconfig([halfCert])).toThrow('users[u] has a client certificate without a key');
  });

  it('refuses a proxy-url or impersonation rather than connecting by another route or as someone else', () => {
    const proxied = write(freshDir(), simple({ 'proxy-url': 'socks5://localhost:1080' }, {}));
    expect(() => readKubeconfig([proxied])).toThrow(
      'clusters[c] sets proxy-url, which Perch does not support',
    );
    const impersonating = write(freshDir(), simple({}, { token: 't', as: 'admin' }));
    expect(() => readKubeconfig([impersonating])).toThrow('users[u] sets as, which Perch does not support');
  });

  it('reports users whose credentials come from an exec or auth-provider plugin', () => {
    const exec = write(freshDir(), simple({}, { exec: { command: 'aws', args: ['eks', 'get-token'] } }));
    expect(readKubeconfig([exec])).toEqual({ kind: 'plugin', context: 'ctx', user: 'u', plugin: 'exec' });
    const provider = write(freshDir(), simple({}, { 'auth-provider': { name: 'oidc' } }));
    expect(readKubeconfig([provider])).toEqual({
      kind: 'plugin',
      context: 'ctx',
      user: 'u',
      plugin: 'auth-provider',
    });
  });

  it('merges a $KUBECONFIG list: the first definition of a name and the first current-context win; missing files are skipped', () => {
    const dir = freshDir();
    const first = write(
      dir,
      {
        clusters: [{ name: 'c', cluster: { server: 'https://first.example' } }],
        'current-context': 'ctx',
      },
      'first',
    );
    const second = write(
      dir,
      { ...simple({}, { token: 'second-token' }), 'current-context': 'other' },
      'second',
    );
    const settings = direct(readKubeconfig([first, join(dir, 'absent'), second]));
    expect(settings.server).toBe('https://first.example');
    expect(tokenOf(settings)).toBe('second-token');
  });
});

describe('TokenFile', () => {
  it('re-reads the file once a minute, and at once after a rejection; a failed read keeps the token it has', () => {
    const path = join(freshDir(), 'token');
    writeFileSync(path, 'one\n');
    let now = 0;
    const token = new TokenFile(path, () => now);
    writeFileSync(path, 'two\n');
    now = 59_000;
    expect(token.current()).toBe('one');
    now = 60_000;
    expect(token.current()).toBe('two');

    writeFileSync(path, 'three\n');
    expect(token.reread()).toBe(true);
    expect(token.current()).toBe('three');
    expect(token.reread()).toBe(false); // unchanged: a retry would not help

    rmSync(path);
    expect(token.reread()).toBe(false);
    now = 200_000;
    expect(token.current()).toBe('three');
  });

  it('refuses a missing or empty token file, naming it', () => {
    const dir = freshDir();
    expect(() => new TokenFile(join(dir, 'absent'))).toThrow(
      `cannot read the token file ${join(dir, 'absent')}: ENOENT`,
    );
    writeFileSync(join(dir, 'empty'), '\n');
    expect(() => new TokenFile(join(dir, 'empty'))).toThrow('is empty; expected a bearer token');
  });
});

describe('inClusterSettings', () => {
  function serviceAccount(): string {
    const dir = freshDir();
    writeFileSync(join(dir, 'ca.crt'), CA);
    writeFileSync(join(dir, 'token'), 'sa-token');
    return dir;
  }

  it('reads the service host and port, the CA and the token of the mounted service account', () => {
    const settings = inClusterSettings(
      { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
      serviceAccount(),
    );
    expect(settings.server).toBe('https://10.96.0.1:443');
    expect(settings.tls.ca?.equals(CA)).toBe(true);
    expect(tokenOf(settings)).toBe('sa-token');
  });

  it('brackets an IPv6 service address', () => {
    const settings = inClusterSettings(
      { KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '443' },
      serviceAccount(),
    );
    expect(settings.server).toBe('https://[fd00:10:96::1]:443');
    expect(new URL(settings.server).hostname).toBe('[fd00:10:96::1]');
  });

  it('names what is missing', () => {
    expect(() => inClusterSettings({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }, serviceAccount())).toThrow(
      'in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT',
    );
    const dir = freshDir();
    expect(() =>
      inClusterSettings({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, dir),
    ).toThrow(`cannot read the service account CA ${join(dir, 'ca.crt')}: ENOENT`);
  });
});

describe('perch check with a kubeconfig', () => {
  it('reports a kubernetes.context the kubeconfig does not have, naming both', async () => {
    const dir = freshDir();
    const kubeconfig = write(dir, simple({}, { token: 'never-printed' }));
    const perchYaml = join(dir, 'perch.yaml');
    writeFileSync(perchYaml, `kubernetes:\n  kubeconfig: ${kubeconfig}\n  context: staging\n`);
    const result = await validateStartup({ path: perchYaml, env: {} });
    expect(result.groups).toEqual([
      {
        title: 'kubernetes',
        problems: [
          `kubernetes.kubeconfig: cannot use kubeconfig ${kubeconfig}: context "staging" is not in the kubeconfig (contexts: "ctx")`,
        ],
      },
    ]);
    expect(JSON.stringify(result)).not.toContain('never-printed');
  });
});
