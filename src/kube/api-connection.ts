import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type RequestOptions } from 'node:https';
import type { BearerToken } from './bearer-token.js';

/** How the API server's certificate is checked and which client certificate Perch presents. */
export interface TlsSettings {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** The name the server certificate must carry when it differs from the server URL's host. */
  servername?: string;
  insecureSkipVerify?: boolean;
}

export type ApiAuth =
  | { kind: 'none' }
  | { kind: 'bearer'; token: BearerToken }
  | { kind: 'basic'; username: string; password: string };

export interface ConnectionSettings {
  server: string;
  tls: TlsSettings;
  auth: ApiAuth;
}

/** Where every request to the API server goes, over which TLS, with which credentials. */
export interface ApiConnection {
  readonly server: URL;
  /** Keeps connections alive between a watch's end and the next request. */
  readonly agent: HttpAgent;
  /** TLS options and the Authorization header for one request. */
  requestOptions(): Promise<RequestOptions>;
  /** After a 401: re-reads rotating credentials; true when they changed, so a retry may succeed at once. */
  credentialsRejected(): boolean;
}

export function keepAliveAgent(server: URL): HttpAgent {
  const options = { keepAlive: true, keepAliveMsecs: 30_000 };
  return server.protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
}

export function parseServer(server: string, key: string): URL {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`${key} is ${JSON.stringify(server)}; expected an http(s):// URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`${key} is ${JSON.stringify(server)}; expected an http(s):// URL`);
  }
  return url;
}

/** A connection whose TLS material is fixed at start and whose token, if from a file, rotates. */
export function apiConnection(settings: ConnectionSettings): ApiConnection {
  const server = parseServer(settings.server, 'the cluster server');
  const { tls, auth } = settings;
  const tlsOptions: RequestOptions = {
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
    rejectUnauthorized: !tls.insecureSkipVerify,
  };
  const basic =
    auth.kind === 'basic'
      ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
      : undefined;
  return {
    server,
    agent: keepAliveAgent(server),
    requestOptions: async () => {
      const authorization = auth.kind === 'bearer' ? `Bearer ${auth.token.current()}` : basic;
      return authorization ? { ...tlsOptions, headers: { Authorization: authorization } } : tlsOptions;
    },
    credentialsRejected: () => auth.kind === 'bearer' && auth.token.reread(),
  };
}
