// Pieces the hub's end-to-end tests share: config files, the processes, and a stand-in for the
// Kubernetes Service in front of the hub replicas.

import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { PerchProcess } from './cli-process.js';

export interface Started {
  perch: PerchProcess;
  url: string;
}

export async function startPerch(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Started> {
  const perch = new PerchProcess(args, { env });
  const port = await perch.port(20_000);
  return { perch, url: `http://127.0.0.1:${port}` };
}

/** An agent's perch.yaml: HTTP input, offline pod context, and only the hub sink. */
export function writeAgentConfig(options: {
  dir: string;
  name: string;
  node: string;
  hubUrl: string;
  podsFile?: string;
}): string {
  const path = join(options.dir, `${options.name}.yaml`);
  writeFileSync(
    path,
    `nodeName: ${options.node}
server:
  listen: 127.0.0.1:0
  shutdownGrace: 5s
log:
  level: info
kubernetes:
${options.podsFile ? `  podsFile: ${options.podsFile}` : '  enabled: false'}
delivery:
  spoolPath: ${join(options.dir, `${options.name}-spool.db`)}
  spoolRetryInterval: 200ms
sinks:
  hub:
    type: hub
    url: ${options.hubUrl}
    spoolMinPriority: Warning
    timeout: 5s
    retry: { initial: 100ms, max: 500ms, giveUpAfter: 0s }
`,
  );
  return path;
}

/**
 * A TCP stand-in for the hub's Service: each connection goes to a replica whose /readyz answers
 * 200 (as endpoints follow readiness), or is refused while none is ready.
 */
export class ReadyProxy {
  private server?: Server;
  private ready?: number;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly backends: () => number[]) {}

  async start(): Promise<string> {
    this.server = createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      const port = this.ready;
      if (port === undefined) {
        client.destroy();
        return;
      }
      const upstream = connect(port, '127.0.0.1');
      this.sockets.add(upstream);
      upstream.on('close', () => this.sockets.delete(upstream));
      client.pipe(upstream).pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end);
      upstream.on('error', end);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const poll = async () => {
      let ready: number | undefined;
      for (const port of this.backends()) {
        const ok = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(500) })
          .then((r) => r.status === 200)
          .catch(() => false);
        if (ok) {
          ready = port;
          break;
        }
      }
      this.ready = ready;
      if (!this.stopped) this.timer = setTimeout(() => void poll(), 100);
    };
    await poll();
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
