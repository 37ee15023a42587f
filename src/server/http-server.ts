import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { ListenAddress } from '../config/value-types.js';
import type { Logger } from '../logging/logger.js';
import {
  OPENMETRICS_TYPE,
  PROMETHEUS_TEXT_TYPE,
  toOpenMetrics,
  wantsOpenMetrics,
} from '../metrics/exposition-format.js';
import type { PerchMetrics } from '../metrics/perch-metrics.js';
import { redactSecrets } from '../util/redact.js';

/** How long closing waits for requests still in flight before it cuts their connections. */
export const CLOSE_WAIT_MS = 1000;

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>;
type ValidatorFactory = NonNullable<CompilersFactory['buildValidator']>;
type SerializerFactory = NonNullable<CompilersFactory['buildSerializer']>;

// fastify's own compilers, resolved from where fastify is installed.
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'));

/**
 * Perch's routes declare no schemas, so fastify's validator (ajv) and serializer compilers (several
 * MB on every node) are loaded only if a route ever needs them; fastify would load them at start.
 */
const SCHEMA_COMPILERS_ON_USE: CompilersFactory = {
  buildValidator: (externalSchemas, options) => {
    const selector = fastifyRequire('@fastify/ajv-compiler') as () => ValidatorFactory;
    return selector()(externalSchemas, options);
  },
  buildSerializer: (externalSchemas, options) => {
    const selector = fastifyRequire('@fastify/fast-json-stringify-compiler') as () => SerializerFactory;
    return selector()(externalSchemas, options);
  },
};

export interface ReadinessCheck {
  name: string;
  /** False for checks that inform but must not take Perch out of its Service (Kubernetes watches). */
  required?: boolean;
  check(): { up: boolean; detail?: string };
}

/**
 * Perch's one HTTP server: ingest routes added by sources, plus /healthz (the process answers),
 * /readyz (every configured source is up) and /metrics.
 */
export class HttpServer {
  readonly app: FastifyInstance;
  private readonly checks: ReadinessCheck[] = [];
  private address?: { host: string; port: number };
  private draining = false;

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
      schemaController: { compilersFactory: SCHEMA_COMPILERS_ON_USE },
    });
    this.app.get('/healthz', async () => ({ status: 'ok' }));
    this.app.get('/readyz', async (_req, reply) => {
      const results = this.checks.map((c) => {
        const status = c.check();
        return {
          name: c.name,
          ...(c.required === false ? { required: false } : {}),
          ...status,
          // Details quote what a source or sink met (an error, a service's answer); /readyz may be scraped into logs.
          ...(status.detail === undefined ? {} : { detail: redactSecrets(status.detail) }),
        };
      });
      if (this.draining) return reply.code(503).send({ status: 'shutting down', checks: results });
      const ready = results.every((r) => r.up || r.required === false);
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: results });
    });
    this.app.get('/metrics', async (req, reply) => {
      const text = await this.metrics.registry.metrics();
      if (wantsOpenMetrics(req.headers.accept))
        return reply.header('content-type', OPENMETRICS_TYPE).send(toOpenMetrics(text));
      return reply.header('content-type', PROMETHEUS_TEXT_TYPE).send(text);
    });
  }

  /** Shutdown has begun: not ready (the Service stops sending), while every endpoint keeps answering. */
  markDraining(): void {
    this.draining = true;
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

  /**
   * Stops accepting connections and waits for in-flight requests to finish, for at most
   * CLOSE_WAIT_MS: a client that stalls in the middle of a body would otherwise hold the process
   * until Node's request timeout (5 minutes), past any pod's termination grace. By now the intake
   * has stopped, so what such a request carries could not be taken in anyway.
   */
  async close(): Promise<void> {
    const closing = this.app.close();
    const force = setTimeout(() => this.app.server.closeAllConnections(), CLOSE_WAIT_MS);
    try {
      await closing;
    } finally {
      clearTimeout(force);
    }
  }
}
