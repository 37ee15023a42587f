import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

const dockerfile = readFileSync(fileURLToPath(new URL('../../Dockerfile', import.meta.url)), 'utf8');
const stages = dockerfile.split(/^FROM /m).slice(1);

// No Docker engine runs here, so the image is checked as text for the properties the issue asks of it.
describe('Dockerfile', () => {
  it('builds in one stage (native modules included) and runs from a small runtime image', () => {
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatch(/^node:20-bookworm-slim AS build/);
    expect(stages[0]).toContain('npm ci');
    expect(stages[0]).toContain('npm prune --omit=dev --omit=optional');
    expect(stages[1]).toMatch(/^gcr\.io\/distroless\/nodejs20-debian12:nonroot/);
  });

  it('runs as a non-root user with only what the runtime needs', () => {
    expect(stages[1]).toMatch(/^USER 65532:65532$/m);
    for (const needed of ['node_modules', 'dist', 'proto', 'rules'])
      expect(stages[1]).toContain(`./${needed}`);
    expect(stages[1]).not.toMatch(/COPY (\.\/)?(src|test|bench)\b/);
    expect(stages[1]).toContain('ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cli.js"]');
  });

  it('matches the DaemonSet: the same user and port', () => {
    const ds = readFileSync(
      fileURLToPath(new URL('../../daemonset/base/daemonset.yaml', import.meta.url)),
      'utf8',
    );
    expect(ds).toContain('runAsUser: 65532');
    expect(ds).toContain('containerPort: 2804');
    expect(dockerfile).toContain('EXPOSE 2804');
  });
});
