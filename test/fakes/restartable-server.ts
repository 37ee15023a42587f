import { readFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A local HTTP server that can go down like a destination in an outage (every connection dropped,
 * new ones refused) and come back on the same port, as the receivers in the tests need.
 *
 * Asked for any port, it takes one below the range the kernel hands out for port 0 and for outgoing
 * connections. Why: while it is down its port is free, and a Perch started meanwhile with
 * `listen: 127.0.0.1:0` could be given it; that Perch would then answer the deliveries meant for
 * this receiver with 404, which a sink rightly takes as a rejection, and the test would see
 * acknowledged alerts that never arrived.
 */
export class RestartableServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly handler: RequestListener,
    private portNumber = 0,
  ) {}

  get port(): number {
    return this.portNumber;
  }

  get url(): string {
    return `http://127.0.0.1:${this.portNumber}`;
  }

  get isUp(): boolean {
    return this.server !== undefined;
  }

  /** Starts listening (again), on the same port as before once one was bound. */
  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer(this.handler);
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.portNumber = await listenOn(server, this.portNumber);
    this.server = server;
  }

  /** Stops listening and drops every connection: new requests are refused (ECONNREFUSED). */
  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Listens on `port`, or on a free port outside the kernel's ephemeral range when it is 0; returns the port. */
async function listenOn(server: Server, port: number): Promise<number> {
  const range = ephemeralRange();
  if (port !== 0 || !range) return listen(server, port);
  // The ports just below the ephemeral range: above the well-known services tests start.
  const low = Math.max(1024, range.low - 10_000);
  for (let attempt = 0; ; attempt++) {
    const candidate = low + Math.floor(Math.random() * (range.low - low));
    try {
      return await listen(server, candidate);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 50) throw err;
    }
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Linux's range for port 0 and outgoing connections; undefined where it cannot be read. */
export function ephemeralRange(): { low: number; high: number } | undefined {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    return low && high && low > 1024 ? { low, high } : undefined;
  } catch {
    return undefined;
  }
}
