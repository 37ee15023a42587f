import { readFileSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { REPO } from './kustomize.js';

/** A file or directory of the runtime image and where it comes from in this checkout. */
export interface ImageCopy {
  /** Path in the checkout (what the build stage produces from it: dist is `npm run build`'s output). */
  source: string;
  /** Absolute path in the image. */
  dest: string;
}

/** What the container runtime takes from the image when the pod spec says nothing else. */
export interface RuntimeImage {
  entrypoint: string[];
  cmd: string[];
  workdir: string;
  env: Record<string, string>;
  copies: ImageCopy[];
  /** USER, as `uid:gid`. */
  user?: string;
}

/**
 * The runtime stage of the Dockerfile, read as the container runtime would use it, so that a test
 * can run the checkout the way the image runs it without building the image. Only the
 * instructions that stage uses are understood; anything else is an error, not a silent guess.
 */
export function runtimeImage(dockerfile = join(REPO, 'Dockerfile')): RuntimeImage {
  const stages = readFileSync(dockerfile, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .reduce<string[][]>((acc, line) => {
      if (/^FROM\s/i.test(line)) acc.push([]);
      acc.at(-1)?.push(line);
      return acc;
    }, []);
  const build = stages.at(-2) ?? [];
  const buildWorkdir = build.map((l) => /^WORKDIR\s+(\S+)/i.exec(l)?.[1]).findLast(Boolean) ?? '/';
  const image: RuntimeImage = { entrypoint: [], cmd: [], workdir: '/', env: {}, copies: [] };
  for (const line of stages.at(-1)?.slice(1) ?? []) {
    const [instruction = '', rest = ''] = line.split(/\s+(.*)/s);
    switch (instruction.toUpperCase()) {
      case 'WORKDIR':
        image.workdir = posix.resolve(image.workdir, rest);
        break;
      case 'ENV':
        for (const [, key = '', value = ''] of rest.matchAll(/(\w+)=("[^"]*"|\S+)/g))
          image.env[key] = value.replace(/^"|"$/g, '');
        break;
      case 'COPY': {
        const words = rest.split(/\s+/);
        const fromBuild = words[0]?.startsWith('--from=');
        const [source = '', target = ''] = fromBuild ? words.slice(1) : words;
        // A path of the build stage is the same path of the checkout relative to its WORKDIR.
        const inCheckout = fromBuild
          ? posix.relative(buildWorkdir, posix.resolve(buildWorkdir, source))
          : source;
        const dest = posix.resolve(image.workdir, target);
        image.copies.push({
          source: join(REPO, inCheckout),
          dest: target.endsWith('/') ? posix.join(dest, basename(inCheckout)) : dest,
        });
        break;
      }
      case 'ENTRYPOINT':
        image.entrypoint = JSON.parse(rest) as string[];
        break;
      case 'CMD':
        image.cmd = JSON.parse(rest) as string[];
        break;
      case 'USER':
        image.user = rest;
        break;
      case 'EXPOSE':
        break;
      default:
        throw new Error(
          `${dockerfile}: the runtime stage uses ${instruction}, which this test does not emulate`,
        );
    }
  }
  return image;
}
