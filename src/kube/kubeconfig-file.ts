import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import type { ApiAuth, ConnectionSettings, TlsSettings } from './api-connection.js';
import { fixedToken, TokenFile } from './bearer-token.js';

/**
 * What a kubeconfig's selected context says: settings Perch connects with itself, or a user whose
 * credentials come from a plugin (`exec`, `auth-provider`) that only the official client runs.
 */
export type KubeconfigSelection =
  | { kind: 'direct'; context: string; settings: ConnectionSettings }
  | { kind: 'plugin'; context: string; user: string; plugin: 'exec' | 'auth-provider' };

interface Entry {
  name: string;
  /** How errors name it: `users[perch]`. */
  where: string;
  body: Record<string, unknown>;
  /** Relative file paths in this entry resolve against its kubeconfig's directory. */
  dir: string;
}

interface Merged {
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, Entry>;
  currentContext?: string;
}

/**
 * Reads a kubeconfig (or a `$KUBECONFIG`-style list of them, merged with the first definition of
 * each name winning, as kubectl does) and resolves the context: `context` when given, else
 * `current-context`.
 */
export function readKubeconfig(paths: readonly string[], context?: string): KubeconfigSelection {
  const merged: Merged = { clusters: new Map(), users: new Map(), contexts: new Map() };
  // In a list, kubectl skips files that do not exist; a single named file must exist.
  const existing = paths.length > 1 ? paths.filter((p) => existsSync(p)) : paths;
  if (existing.length === 0) throw new Error(`none of the kubeconfig files ${paths.join(', ')} exists`);
  for (const path of existing) mergeFile(merged, path);

  const contextName = context ?? merged.currentContext;
  if (!contextName) {
    throw new Error(
      `no context selected: the kubeconfig has no current-context and kubernetes.context is not set (contexts: ${names(merged.contexts)})`,
    );
  }
  const ctx = merged.contexts.get(contextName);
  if (!ctx) {
    throw new Error(
      `context "${contextName}" is not in the kubeconfig (contexts: ${names(merged.contexts)})`,
    );
  }
  const clusterName = optionalString(ctx.body.cluster, `contexts[${contextName}].cluster`);
  const cluster = clusterName === undefined ? undefined : merged.clusters.get(clusterName);
  if (!cluster) {
    throw new Error(
      `context "${contextName}" names cluster ${JSON.stringify(clusterName ?? '')}, which is not in the kubeconfig (clusters: ${names(merged.clusters)})`,
    );
  }
  const userName = optionalString(ctx.body.user, `contexts[${contextName}].user`);
  const user = userName === undefined || userName === '' ? undefined : merged.users.get(userName);
  if (userName && !user) {
    throw new Error(
      `context "${contextName}" names user "${userName}", which is not in the kubeconfig (users: ${names(merged.users)})`,
    );
  }
  if (user) {
    if (user.body.exec !== undefined)
      return { kind: 'plugin', context: contextName, user: user.name, plugin: 'exec' };
    if (user.body['auth-provider'] !== undefined)
      return { kind: 'plugin', context: contextName, user: user.name, plugin: 'auth-provider' };
  }
  refuseUnsupported(cluster, ['proxy-url']);
  if (user) refuseUnsupported(user, ['as', 'as-uid', 'as-groups', 'as-user-extra']);
  const tls = clusterTls(cluster);
  const clientTls = user ? clientCertificate(user) : {};
  return {
    kind: 'direct',
    context: contextName,
    settings: {
      server: requiredString(cluster.body.server, `clusters[${cluster.name}].server`),
      tls: { ...tls, ...clientTls },
      auth: user ? userAuth(user) : { kind: 'none' },
    },
  };
}

function mergeFile(merged: Merged, path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return;
  const root = record(doc, path);
  const dir = dirname(resolve(path));
  for (const [section, key] of [
    ['clusters', 'cluster'],
    ['users', 'user'],
    ['contexts', 'context'],
  ] as const) {
    const list = root[section] ?? [];
    if (!Array.isArray(list)) throw new Error(`${path}: ${section} is not a list`);
    for (const [i, item] of list.entries()) {
      const named = record(item, `${path}: ${section}[${i}]`);
      const name = requiredString(named.name, `${path}: ${section}[${i}].name`);
      const target = merged[section];
      const where = `${section}[${name}]`;
      if (!target.has(name)) target.set(name, { name, where, body: record(named[key] ?? {}, where), dir });
    }
  }
  if (merged.currentContext === undefined) {
    const current = optionalString(root['current-context'], `${path}: current-context`);
    if (current) merged.currentContext = current;
  }
}

/** Ignoring these would connect by another route or as another identity than the kubeconfig says. */
function refuseUnsupported(entry: Entry, fields: readonly string[]): void {
  const present = fields.filter((field) => entry.body[field] !== undefined);
  if (present.length > 0) {
    throw new Error(
      `${entry.where} sets ${present.join(', ')}, which Perch does not support; supported: server, certificate-authority(-data), tls-server-name, insecure-skip-tls-verify, token, tokenFile, client-certificate(-data), client-key(-data), username/password, exec, auth-provider`,
    );
  }
}

function clusterTls(cluster: Entry): TlsSettings {
  const where = cluster.where;
  const ca = material(cluster, 'certificate-authority');
  const servername = optionalString(cluster.body['tls-server-name'], `${where}.tls-server-name`);
  const insecure = cluster.body['insecure-skip-tls-verify'];
  if (insecure !== undefined && typeof insecure !== 'boolean') {
    throw new Error(
      `${where}.insecure-skip-tls-verify is ${JSON.stringify(insecure)}; expected true or false`,
    );
  }
  return {
    ...(ca ? { ca } : {}),
    ...(servername ? { servername } : {}),
    ...(insecure ? { insecureSkipVerify: true } : {}),
  };
}

function clientCertificate(user: Entry): TlsSettings {
  const cert = material(user, 'client-certificate');
  const key = material(user, 'client-key');
  if (Boolean(cert) !== Boolean(key)) {
    throw new Error(
      `${user.where} has a client ${cert ? 'certificate without a key' : 'key without a certificate'}; set both client-certificate(-data) and client-key(-data)`,
    );
  }
  return cert && key ? { cert, key } : {};
}

function userAuth(user: Entry): ApiAuth {
  const where = user.where;
  const token = optionalString(user.body.token, `${where}.token`);
  if (token) return { kind: 'bearer', token: fixedToken(token) };
  const tokenFile = optionalString(user.body.tokenFile, `${where}.tokenFile`);
  if (tokenFile) return { kind: 'bearer', token: new TokenFile(resolve(user.dir, tokenFile)) };
  const username = optionalString(user.body.username, `${where}.username`);
  if (username) {
    return {
      kind: 'basic',
      username,
      password: optionalString(user.body.password, `${where}.password`) ?? '',
    };
  }
  return { kind: 'none' };
}

/** `<field>-data` (base64) or `<field>` (a file, relative to the kubeconfig); the data wins, as in kubectl. */
function material(entry: Entry, field: string): Buffer | undefined {
  const data = optionalString(entry.body[`${field}-data`], `${entry.where}.${field}-data`);
  if (data) return Buffer.from(data, 'base64');
  const file = optionalString(entry.body[field], `${entry.where}.${field}`);
  if (!file) return undefined;
  const path = resolve(entry.dir, file);
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(
      `${entry.where}.${field}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(
      `${where} is ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}; expected a mapping`,
    );
  }
  return value as Record<string, unknown>;
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  // The type only, never the value: this may be a token or a password.
  if (typeof value !== 'string') throw new Error(`${where} is a ${typeof value}; expected a string`);
  return value;
}

function requiredString(value: unknown, where: string): string {
  const text = optionalString(value, where);
  if (!text) throw new Error(`${where} is missing; expected a string`);
  return text;
}

function names(entries: Map<string, Entry>): string {
  return entries.size === 0 ? 'none' : [...entries.keys()].map((n) => `"${n}"`).join(', ');
}
