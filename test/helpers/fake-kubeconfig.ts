import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A kubeconfig file as users write them, pointing at the fake API server over plain HTTP (hence
 * insecure-skip-tls-verify), with a bearer token; in `dir`, or a fresh temporary folder.
 */
export function fakeKubeconfig(url: string, token: string | undefined, dir?: string): string {
  const path = join(dir ?? mkdtempSync(join(tmpdir(), 'perch-kubeconfig-')), 'kubeconfig.json');
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'perch', user: token === undefined ? {} : { token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'perch' } }],
      'current-context': 'fake',
    }),
  );
  return path;
}
