import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { ListenAddress } from '../config/value-types.js';
import type { Logger } from '../logging/logger.js';
import type { PerchMetrics } from '../metrics/perch-metrics.js';

export interface ReadinessCheck {
  name: string;
  /** False for checks that inform but must not take Perch out of its Service (Kubernetes watches). */
  required?: boolean;
  check(): { up: boolean; detail?: string };
}

const OPENMETRICS = 'application/openmetrics-text';

/**
 * Perch's one HTTP server: ingest routes added by sources, plus /healthz (the process answers),
 * /readyz (every configured source is up) and /metrics.
 */
export class HttpServer {
  readonly app: FastifyInstance;
  private readonly checks: ReadinessCheck[] = [];
  private address?: { host: string; port: number };

  constructor(
    private readonly metrics: PerchMetrics,
    private readonly log: Logger,
  ) {
    this.app = Fastify({
      logger: false,
      // Falco can post alerts back to back on one connection; idle ones are closed on shutdown.
      keepAliveTimeout: 65_000,
      forceCloseConnections: 'idle',
      return503OnClosing: true,
    });
    this.app.get('/healthz', async () => ({ status: 'ok' }));
    this.app.get('/readyz', async (_req, reply) => {
      const results = this.checks.map((c) => ({
        name: c.name,
        ...(c.required === false ? { required: false } : {}),
        ...c.check(),
      }));
      const ready = results.every((r) => r.up || r.required === false);
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: results });
    });
    this.app.get('/metrics', async (req, reply) => {
      const wantsOpenMetrics = (req.headers.accept ?? '').includes(OPENMETRICS);
      const registry = this.metrics.registry;
      const contentType = wantsOpenMetrics
        ? Registry.OPENMETRICS_CONTENT_TYPE
        : Registry.PROMETHEUS_CONTENT_TYPE;
      // metrics() reads the content type synchronously before its first await, so a concurrent
      // scrape asking for the other format cannot change this one's.
      registry.setContentType(contentType);
      const body = await registry.metrics();
      return reply.header('content-type', contentType).send(body);
    });
  }

  addReadinessCheck(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  async listen(address: ListenAddress): Promise<{ host: string; port: number }> {
    await this.app.listen({ host: address.host, port: address.port });
    const bound = this.app.server.address();
    this.address =
      bound && typeof bound === 'object'
        ? { host: bound.address, port: bound.port }
        : { host: address.host, port: address.port };
    this.log.info({ address: this.address }, 'listening');
    return this.address;
  }

  get port(): number {
    return this.address?.port ?? 0;
  }

  /** Stops accepting connections and waits for in-flight requests to finish. */
  async close(): Promise<void> {
    await this.app.close();
  }
}
