import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A local HTTP server that can go down like a destination in an outage (every connection dropped,
 * new ones refused) and come back on the same port, as the receivers in the tests need.
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
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.portNumber, '127.0.0.1', () => resolve());
    });
    this.portNumber = (server.address() as AddressInfo).port;
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
